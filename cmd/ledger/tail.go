package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/subscriber"
)

func runTail(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("tail", "Print the ledger's events as a subscriber sees them, verified (H3): from --from-seq, --since or the end; "+
		"--follow waits for more. It reads NATS with subscriber credentials and never touches a data directory.", stderr)
	natsURL := fs.String("nats-url", "", "the NATS server: the ledger's --nats-listen, or the cluster; default: the credentials' nats_urls")
	credsFile := fs.String("creds", "", "subscriber credentials: the JSON answer of POST /v1/accounts/{account}/subscribers or POST /v1/subscribers, saved to a file (required)")
	keyFile := fs.String("key", "", "the ledger's event public key (PEM); default: fetched from --url /v1/keys/events")
	apiURL := fs.String("url", "http://127.0.0.1:8080", "the ledger's HTTP address, for its public key")
	account := fs.String("account", "", "only this account's events")
	subject := fs.String("subject", "", "only subjects matching this NATS pattern, e.g. ledger.events.acme.license.>")
	types := fs.String("type", "", "only these event types, comma-separated, e.g. license.assigned,license.reassigned")
	var fromSeq int
	intVar(fs, &fromSeq, "from-seq", 0, "start at this stream sequence (inclusive)")
	since := fs.String("since", "", "start at the first event stored at or after this RFC 3339 time")
	follow := fs.Bool("follow", false, "wait for new events instead of stopping at the last one")
	asJSON := fs.Bool("json", false, "print one JSON object per event: {seq, subject, event}")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := tailConfig(*credsFile, *natsURL, *account, *subject, *types, fromSeq, *since)
	if err != nil {
		return err
	}
	if cfg.Key, err = eventKey(ctx, *keyFile, *apiURL); err != nil {
		return err
	}
	cfg.Replace, cfg.StopWhenIdle = true, !*follow
	cfg.OnBreak = func(b subscriber.Break) {
		fmt.Fprintf(stderr, "ledger tail: integrity break at sequence %d on %s: %s\n", b.Seq, b.Subject, b.Reason)
	}
	enc := json.NewEncoder(stdout)
	return subscriber.Run(ctx, cfg, func(_ context.Context, ev subscriber.Event) error {
		if *asJSON {
			return enc.Encode(struct {
				Seq     uint64          `json:"seq"`
				Subject string          `json:"subject"`
				Event   json.RawMessage `json:"event"`
			}{ev.Seq, ev.Subject, ev.Raw})
		}
		_, err := fmt.Fprintln(stdout, tailLine(ev))
		return err
	})
}

// tailConfig reads the credentials and the start and filter flags.
func tailConfig(credsFile, natsURL, account, subject, types string, fromSeq int, since string) (subscriber.Config, error) {
	var cfg subscriber.Config
	if credsFile == "" {
		return cfg, &usageError{errors.New("tail: --creds is required: save the answer of POST .../subscribers to a file")}
	}
	raw, err := os.ReadFile(credsFile)
	if err != nil {
		return cfg, fmt.Errorf("tail: --creds: %w", err)
	}
	if err := json.Unmarshal(raw, &cfg.Credentials); err != nil || cfg.Credentials.NATSUser == "" {
		return cfg, fmt.Errorf("tail: --creds %s holds no subscriber credentials", credsFile)
	}
	cfg.URL = natsURL
	if cfg.URL == "" && len(cfg.Credentials.NATSURLs) == 0 {
		return cfg, fmt.Errorf("tail: --nats-url: the credentials name no nats_urls (the ledger's NATS listens nowhere?): give the server's URL")
	}
	switch {
	case subject != "":
		cfg.Filter = subject
	case account != "":
		if !events.AccountIDPattern.MatchString(account) {
			return cfg, badUsage("tail: --account %q is not an account id", account)
		}
		cfg.Filter = events.SubjectPrefix + account + ".>"
	}
	if types != "" {
		for _, t := range strings.Split(types, ",") {
			cfg.Types = append(cfg.Types, strings.TrimSpace(t))
		}
	}
	switch {
	case fromSeq < 0:
		return cfg, badUsage("tail: --from-seq %d; want 1 or more", fromSeq)
	case fromSeq > 0 && since != "":
		return cfg, badUsage("tail: --from-seq and --since: give one")
	case fromSeq > 0:
		cfg.StartSeq = uint64(fromSeq)
	case since != "":
		t, err := time.Parse(time.RFC3339Nano, since)
		if err != nil {
			return cfg, badUsage("tail: --since %q is not an RFC 3339 time", since)
		}
		cfg.StartTime = t
	default:
		cfg.StartAtEnd = true
	}
	return cfg, nil
}

// eventKey reads the ledger's event public key from a file, or from the
// API (it is public).
func eventKey(ctx context.Context, file, apiURL string) (ed25519.PublicKey, error) {
	if file != "" {
		return events.LoadPublicKey(file)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(apiURL, "/")+"/v1/keys/events", nil)
	if err != nil {
		return nil, fmt.Errorf("--url: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("the ledger's event key from %s (or pass --key): %w", apiURL, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, answerError(resp.StatusCode, raw)
	}
	var k struct {
		PEM string `json:"public_key_pem"`
	}
	if err := json.Unmarshal(raw, &k); err != nil {
		return nil, err
	}
	return events.ParsePublicKeyPEM([]byte(k.PEM))
}

// tailLine is an event in one readable line.
func tailLine(ev subscriber.Event) string {
	if !ev.Known {
		return fmt.Sprintf("%d  %s  %s  (a type this version does not know)", ev.Seq, ev.Type, ev.Subject)
	}
	data, _ := json.Marshal(ev.Data)
	return fmt.Sprintf("%d  %s  %-24s %s  by %s  %s", ev.Seq, ev.OccurredAt.UTC().Format(time.RFC3339), ev.Type,
		strings.TrimPrefix(ev.Subject, events.SubjectPrefix), ev.Actor, data)
}
