// Command read-model keeps a small read model of its own from the ledger's
// stream: who holds each practitioner licence of one account, folded from
// the license.* events the subscriber client delivers, verified. It prints
// the model when it has caught up (--exit-when-idle) as JSON: licence id →
// assignee ("" when unassigned).
//
// A real service would keep the model and the position (the last event
// sequence it applied) in one transaction of its own store; this one keeps
// both in a JSON file, written before each acknowledgement, and skips
// events at or below the position it has.
//
//	read-model --nats-url nats://127.0.0.1:4222 --creds model.json --key events.pub --state state.json --exit-when-idle
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/subscriber"
)

// state is the read model and the position it reflects.
type state struct {
	Seq      uint64            `json:"seq"`
	Holders  map[string]string `json:"holders"`
	Licences int               `json:"licences"`
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "read-model:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("read-model", flag.ContinueOnError)
	natsURL := fs.String("nats-url", "nats://127.0.0.1:4222", "the ledger's NATS")
	creds := fs.String("creds", "", "subscriber credentials (the answer of POST /v1/accounts/{account}/subscribers)")
	keyFile := fs.String("key", "", "the ledger's event public key (PEM)")
	stateFile := fs.String("state", "read-model.json", "the model and its position")
	idle := fs.Bool("exit-when-idle", false, "print the model and stop once every stored event is applied")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg := subscriber.Config{URL: *natsURL, StopWhenIdle: *idle}
	raw, err := os.ReadFile(*creds)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, &cfg.Credentials); err != nil {
		return fmt.Errorf("--creds: %w", err)
	}
	// Only licences: the filter narrows the credentials' subjects.
	cfg.Filter = cfg.Credentials.Subjects[0][:len(cfg.Credentials.Subjects[0])-1] + "license.>"
	if cfg.Key, err = events.LoadPublicKey(*keyFile); err != nil {
		return fmt.Errorf("--key: %w", err)
	}
	st, err := load(*stateFile)
	if err != nil {
		return err
	}
	err = subscriber.Run(ctx, cfg, func(ctx context.Context, ev subscriber.Event) error {
		if ev.Seq <= st.Seq {
			return nil // applied before a restart
		}
		apply(&st, ev)
		st.Seq = ev.Seq
		return save(*stateFile, st)
	})
	if err != nil {
		return err
	}
	return json.NewEncoder(out).Encode(st)
}

// apply folds one licence event into the model.
func apply(st *state, ev subscriber.Event) {
	switch d := ev.Data.(type) {
	case events.LicenseCreated:
		if d.Kind == events.KindPractitioner {
			st.Holders[d.ID], st.Licences = "", st.Licences+1
		}
	case events.LicenseAssigned:
		st.Holders[d.ID] = d.Email
	case events.LicenseReassigned:
		st.Holders[d.ID] = d.Email
	case events.LicenseUnassigned:
		st.Holders[d.ID] = ""
	}
}

func load(path string) (state, error) {
	st := state{Holders: map[string]string{}}
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	return st, json.Unmarshal(raw, &st)
}

// save replaces the state file whole.
func save(path string, st state) error {
	raw, err := json.Marshal(st)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
