// Command notify-assignee tells a user when a practitioner licence is
// assigned to them (rule C8): it follows one account's events with the
// ledger's subscriber client and, for each license.assigned and
// license.reassigned, "sends" the notification (it logs it, one line each).
//
// It handles each assignment effectively once across restarts: it keeps the
// ids of the events it notified for in a file, written before the event is
// acknowledged, and skips an id it has seen (the client delivers at least
// once).
//
//	notify-assignee --nats-url nats://127.0.0.1:4222 --creds notify.json --key events.pub --seen seen.txt
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/subscriber"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "notify-assignee:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("notify-assignee", flag.ContinueOnError)
	natsURL := fs.String("nats-url", "nats://127.0.0.1:4222", "the ledger's NATS")
	creds := fs.String("creds", "", "subscriber credentials (the answer of POST /v1/accounts/{account}/subscribers)")
	keyFile := fs.String("key", "", "the ledger's event public key (PEM)")
	seenFile := fs.String("seen", "notified.txt", "the ids of the events already notified for")
	idle := fs.Bool("exit-when-idle", false, "stop once every stored event is handled")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg := subscriber.Config{URL: *natsURL, Types: []string{events.TypeLicenseAssigned, events.TypeLicenseReassigned},
		StopWhenIdle: *idle, AckEvery: 1}
	raw, err := os.ReadFile(*creds)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, &cfg.Credentials); err != nil {
		return fmt.Errorf("--creds: %w", err)
	}
	if cfg.Key, err = events.LoadPublicKey(*keyFile); err != nil {
		return fmt.Errorf("--key: %w", err)
	}
	seen, err := loadSeen(*seenFile)
	if err != nil {
		return err
	}
	log, err := os.OpenFile(*seenFile, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer log.Close()
	cfg.OnBreak = func(b subscriber.Break) {
		fmt.Fprintf(os.Stderr, "notify-assignee: not notifying for a forged event at %d: %s\n", b.Seq, b.Reason)
	}
	return subscriber.Run(ctx, cfg, func(ctx context.Context, ev subscriber.Event) error {
		if seen[ev.ID] {
			return nil // notified before a restart: effectively once
		}
		var email, licence string
		switch d := ev.Data.(type) {
		case events.LicenseAssigned:
			email, licence = d.Email, d.ID
		case events.LicenseReassigned:
			email, licence = d.Email, d.ID
		default:
			return nil
		}
		fmt.Fprintf(out, "notify %s: practitioner licence %s of account %s is now yours (event %s)\n", email, licence, ev.Account, ev.ID)
		if _, err := fmt.Fprintln(log, ev.ID); err != nil {
			return err
		}
		if err := log.Sync(); err != nil {
			return err
		}
		seen[ev.ID] = true
		return nil
	})
}

// loadSeen reads the ids notified for before.
func loadSeen(path string) (map[string]bool, error) {
	seen := map[string]bool{}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return seen, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if id := strings.TrimSpace(sc.Text()); id != "" {
			seen[id] = true
		}
	}
	return seen, sc.Err()
}
