package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/server"
	"github.com/entledger/ledger/subscriber"
)

// errBroken is returned when verify found a break: the exit code is 1.
var errBroken = errors.New("the stream does not verify")

func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("verify",
		"Walk the whole stream and check every event's decoding, subject, hash chain and the signature that vouches for it (H3).\n"+
			"With the embedded server, stop the ledger first; with --nats-url it can run beside it.", stderr)
	var sf storeFlags
	sf.register(fs, false)
	pubPath := fs.String("public-key", "", "the ledger's public key (PEM); default DATA/keys/events.ed25519.pub")
	credsFile := fs.String("creds", "", "verify as a subscriber with these credentials (POST /v1/subscribers, saved to a file), "+
		"beside a running ledger, over --nats-url (default: the credentials' nats_urls); the key from --public-key or --url")
	apiURL := fs.String("url", "http://127.0.0.1:8080", "with --creds and no --public-key: the ledger's HTTP address, for its public key")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *credsFile != "" {
		return verifyAsSubscriber(ctx, *credsFile, sf.natsURL, *pubPath, *apiURL, stdout)
	}
	cfg, err := sf.config()
	if err != nil {
		return err
	}
	cfg.Logger = quietLogger()
	if *pubPath == "" {
		*pubPath = filepath.Join(cfg.DataDir, "keys", "events.ed25519.pub")
		if cfg.SigningKey != "" {
			*pubPath = cfg.SigningKey + ".pub"
		}
	}
	// The stream first: with the embedded server it takes the data
	// directory's lock and refuses one that holds no ledger, which says more
	// than a missing key file would.
	conn, err := server.DialExisting(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close()
	pub, err := events.LoadPublicKey(*pubPath)
	if err != nil {
		return fmt.Errorf("--public-key: %w", err)
	}
	rep, err := server.VerifyStream(ctx, conn.Stream, events.NewVerifier(pub))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "checked %s on %s with key %s\n", plural(int(rep.Events), "event"), plural(rep.Aggregates, "aggregate"), events.KeyID(pub))
	if rep.OK() {
		fmt.Fprintln(stdout, "ok: every event decodes, continues its aggregate's hash chain, and is vouched for by the ledger's signature")
		return nil
	}
	if len(rep.Stream) > 0 {
		fmt.Fprintf(stdout, "the stream itself does not keep the ledger's guarantees:\n")
		for _, p := range rep.Stream {
			fmt.Fprintf(stdout, "  %s\n", p)
		}
	}
	if rep.First != nil {
		fmt.Fprintf(stdout, "%s; the first at sequence %d on %s:\n  %s\n", plural(rep.Breaks, "break"), rep.First.Seq, rep.First.Subject, rep.First.Reason)
	}
	return errBroken
}

// verifyAsSubscriber walks the events the credentials may read, from the
// stream's start, with the subscriber client's verification: it needs no
// data directory and no rights beyond reading.
func verifyAsSubscriber(ctx context.Context, credsFile, natsURL, pubPath, apiURL string, stdout io.Writer) error {
	cfg, err := tailConfig(credsFile, natsURL, "", "", "", 1, "")
	if err != nil {
		return err
	}
	if cfg.Key, err = eventKey(ctx, pubPath, apiURL); err != nil {
		return err
	}
	var breaks []subscriber.Break
	n := 0
	cfg.Replace, cfg.StopWhenIdle, cfg.AckEvery = true, true, 1000
	cfg.OnBreak = func(b subscriber.Break) { breaks = append(breaks, b) }
	if err := subscriber.Run(ctx, cfg, func(context.Context, subscriber.Event) error { n++; return nil }); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "checked %s on %s as subscriber %s\n", plural(n+len(breaks), "event"), cfg.Credentials.Subjects[0], cfg.Credentials.NATSUser)
	if len(breaks) == 0 {
		fmt.Fprintln(stdout, "ok: every event decodes, continues its subject's hash chain, and is vouched for by the ledger's signature")
		return nil
	}
	fmt.Fprintf(stdout, "%s; the first at sequence %d on %s:\n  %s\n", plural(len(breaks), "break"), breaks[0].Seq, breaks[0].Subject, breaks[0].Reason)
	return errBroken
}
