package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/entledger/ledger/auth"
	"github.com/entledger/ledger/events"
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
	cfg := server.Config{DataDir: filepath.Join(bc.dir, "subscriber"), HTTPAddr: "127.0.0.1:0", NATSListen: "127.0.0.1:0",
		SyncInterval: bc.syncInterval, Logger: quietLogger(), UsageHorizon: 200 * 24 * time.Hour, NoReminders: true}
	srv, err := server.Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeServer(srv)
	q := quarterOf(time.Now().UTC())
	products := []string{"microstation", "openroads", "revit"}
	if err := billingAccount(ctx, srv.Ledger(), products, q); err != nil {
		return err
	}
	now := time.Now().UTC()
	if _, err := importPooled(ctx, srv.Ledger(), bc.billingRecords, products, now.Add(-30*24*time.Hour), now.Add(-8*24*time.Hour)); err != nil {
		return err
	}
	subjects := auth.Subjects("bill")

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
	raw := measurement{name: "raw ordered consumer, the account's events", ops: want, took: time.Since(start), unit: "events"}
	printMeasurement(out, raw)

	creds, err := benchCredentials(ctx, srv.Ledger())
	if err != nil {
		return err
	}
	got := 0
	start = time.Now()
	err = subscriber.Run(ctx, subscriber.Config{URL: srv.NATSURL(), Credentials: creds, Key: srv.Ledger().EventKey(), StopWhenIdle: true,
		AckEvery: 1000, OnBreak: func(b subscriber.Break) { err = fmt.Errorf("bench: break at %d: %s", b.Seq, b.Reason) }},
		func(context.Context, subscriber.Event) error { got++; return nil })
	if err != nil {
		return err
	}
	took := time.Since(start)
	if got != want {
		return fmt.Errorf("bench: the subscriber handled %d events, want %d", got, want)
	}
	sub := measurement{name: "subscriber client: verify, decode, ack per 1000", ops: got, took: took, unit: "events"}
	printMeasurement(out, sub)
	fmt.Fprintf(out, "ratio  subscriber / raw ordered consumer  %.2f  (goal >= 0.5)\n", sub.rate()/raw.rate())
	return nil
}

// benchCredentials makes subscriber credentials of account bill through the
// Go API, as POST .../subscribers does.
func benchCredentials(ctx context.Context, l *ledger.Ledger) (subscriber.Credentials, error) {
	tok, err := l.CreateToken(ctx, ledger.Meta{Actor: "bench"}, "bench", events.RoleSubscriber, "bill")
	if err != nil {
		return subscriber.Credentials{}, err
	}
	id := tok.State.ID
	return subscriber.Credentials{NATSUser: id, NATSPassword: tok.Token, InboxPrefix: auth.InboxPrefix(id),
		Durable: auth.Durable("bill", "bench"), Subjects: []string{auth.Subjects("bill")}}, nil
}
