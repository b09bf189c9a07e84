package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/entledger/ledger/auth"
	"github.com/entledger/ledger/billing"
	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/ledger"
	"github.com/entledger/ledger/server"
	"github.com/entledger/ledger/subscriber"
)

// benchSubscriber fills a stream with bc.billingRecords usage records (as
// an import writes them, in batches of 1000) and reads the account's
// events twice: with a raw ordered consumer, and with the subscriber
// client over the embedded listener with scoped credentials, which decodes
// and verifies every event and acknowledges in batches.
func benchSubscriber(ctx context.Context, bc benchConfig, out io.Writer) error {
	cfg := unlimited(server.Config{DataDir: filepath.Join(bc.dir, "subscriber"), HTTPAddr: "127.0.0.1:0", NATSListen: "127.0.0.1:0",
		SyncInterval: bc.syncInterval, Logger: quietLogger(), UsageHorizon: 200 * 24 * time.Hour, NoReminders: true})
	srv, err := server.Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeServer(srv)
	q := billing.QuarterOf(time.Now().UTC())
	products := []string{"microstation", "openroads", "revit"}
	if err := billingAccount(ctx, srv.Ledger(), products, q); err != nil {
		return err
	}
	now := time.Now().UTC()
	if _, err := importPooled(ctx, srv.Ledger(), bc.billingRecords, products, now.Add(-30*24*time.Hour), now.Add(-8*24*time.Hour)); err != nil {
		return err
	}
	if err := mixedAccount(ctx, srv.Ledger(), max(bc.billingRecords/50, 100)); err != nil {
		return err
	}
	for _, account := range []string{"bill", "mix"} {
		if err := readAccount(ctx, srv, account, out); err != nil {
			return err
		}
	}
	return nil
}

// mixedAccount writes the events of account mix: n users, n practitioner
// licences, and an assignment of each (with the email claims and the user
// events each makes).
func mixedAccount(ctx context.Context, l *ledger.Ledger, n int) error {
	m := ledger.Meta{Actor: "bench"}
	at := time.Now().UTC().Add(-48 * time.Hour)
	if _, err := l.CreateAccount(ctx, m, commands.CreateAccount{ID: "mix", Name: "Mixed", FulfillmentContact: "ops@mix.example", At: at}); err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	for w := range 8 {
		g.Go(func() error {
			for i := w; i < n; i += 8 {
				email, id := fmt.Sprintf("u%d@mix.example", i), fmt.Sprintf("P-%d", i)
				if _, err := l.RegisterUser(gctx, m, commands.RegisterUser{Account: "mix", Email: email, EntitlementCountry: "DE", At: at}); err != nil {
					return err
				}
				if _, err := l.CreateLicense(gctx, m, commands.CreateLicense{Account: "mix", ID: id, Kind: "practitioner",
					Products: []string{"microstation"}, ValidFrom: at, ValidUntil: at.Add(365 * 24 * time.Hour), At: at}); err != nil {
					return err
				}
				if _, err := l.Assign(gctx, m, commands.Assign{Account: "mix", LicenseID: id, Email: email}); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return g.Wait()
}

// readAccount reads account's events with a raw ordered consumer, then
// with the subscriber client, and prints both and the ratio.
func readAccount(ctx context.Context, srv *server.Server, account string, out io.Writer) error {
	subjects := auth.Subjects(account)
	start := time.Now()
	cons, err := srv.Conn().Stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subjects}})
	if err != nil {
		return err
	}
	ci, err := cons.Info(ctx)
	if err != nil {
		return err
	}
	want := int(ci.NumPending)
	it, err := cons.Messages()
	if err != nil {
		return err
	}
	for n := 0; n < want; n++ {
		if _, err := it.Next(); err != nil {
			it.Stop()
			return err
		}
	}
	it.Stop()
	raw := measurement{name: "raw ordered consumer, account " + account, ops: want, took: time.Since(start), unit: "events"}
	printMeasurement(out, raw)

	creds, err := benchCredentials(ctx, srv.Ledger(), account)
	if err != nil {
		return err
	}
	got := 0
	var broken error
	var last time.Time // when the last event was handled: the idle wait after it is not reading
	start = time.Now()
	err = subscriber.Run(ctx, subscriber.Config{URL: srv.NATSURL(), Credentials: creds, Key: srv.Ledger().EventKey(), StopWhenIdle: true,
		AckEvery: 1000, OnBreak: func(b subscriber.Break) { broken = fmt.Errorf("bench: break at %d: %s", b.Seq, b.Reason) }},
		func(context.Context, subscriber.Event) error {
			if got++; got == want {
				last = time.Now()
			}
			return nil
		})
	if err = errors.Join(err, broken); err != nil {
		return err
	}
	took := last.Sub(start)
	if got != want {
		return fmt.Errorf("bench: the subscriber handled %d events of account %s, want %d", got, account, want)
	}
	sub := measurement{name: "subscriber client, account " + account + ": verify, decode, ack per 1000", ops: got, took: took, unit: "events"}
	printMeasurement(out, sub)
	fmt.Fprintf(out, "ratio  subscriber / raw ordered consumer, account %s  %.2f  (goal >= 0.5)\n", account, sub.rate()/raw.rate())
	return nil
}

// benchCredentials makes subscriber credentials of account bill through the
// Go API, as POST .../subscribers does.
func benchCredentials(ctx context.Context, l *ledger.Ledger, account string) (subscriber.Credentials, error) {
	tok, err := l.CreateSubscriberToken(ctx, ledger.Meta{Actor: "bench"}, "bench", account)
	if err != nil {
		return subscriber.Credentials{}, err
	}
	id := tok.State.ID
	durable := auth.Durable(account, "bench", id)
	if _, err := l.OpenSubscriberConsumer(ctx, durable, ledger.ConsumerStart{}); err != nil {
		return subscriber.Credentials{}, err
	}
	return subscriber.Credentials{NATSUser: id, NATSPassword: tok.Token, InboxPrefix: auth.InboxPrefix(id),
		Durable: durable, ConsumerService: auth.ConsumerService + durable, Subjects: []string{auth.Subjects(account)}}, nil
}
