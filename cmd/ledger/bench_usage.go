package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/server"
)

// usageBatch is the batch size of the usage phases (issue: batches of 500).
const usageBatch = 500

// benchUsage puts raw JetStream atomic batches of 500 messages of 300 bytes
// beside the ledger recording usage through HTTP in batches of 500, from
// bc.usageClients clients, each on its own product, and reports the
// projections' lag at the end.
func benchUsage(ctx context.Context, bc benchConfig, out io.Writer) error {
	srv, err := server.Start(ctx, server.Config{
		DataDir: filepath.Join(bc.dir, "usage"), HTTPAddr: "127.0.0.1:0", SyncInterval: bc.syncInterval,
		Logger: quietLogger(),
	})
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Close(cctx)
	}()
	conn := srv.Conn()
	cfg := server.StreamConfig(1)
	cfg.Name, cfg.Subjects = "RAWUSAGE", []string{"rawusage.>"}
	if _, err := conn.JS.CreateStream(ctx, cfg); err != nil {
		return fmt.Errorf("bench: raw usage stream: %w", err)
	}
	raw, err := rawUsage(ctx, conn, bc, "rawusage.a", 300, false)
	if err != nil {
		return err
	}
	printMeasurement(out, raw)
	// The same with messages shaped like the ledger's (a usage event is about
	// 650 bytes, plus its MAC header) and read back by an ordered consumer,
	// as the projections read the ledger's: what JetStream alone does of the
	// ledger's work.
	shaped, err := rawUsage(ctx, conn, bc, "rawusage.b", 700, true)
	if err != nil {
		return err
	}
	printMeasurement(out, shaped)

	base := "http://" + srv.Addr()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: bc.usageClients}}
	if err := postJSON(ctx, client, base+"/v1/accounts", map[string]string{
		"id": "use", "name": "Usage", "fulfillment_contact": "ops@use.example"}); err != nil {
		return err
	}
	const users = 50
	for u := range users {
		if err := postJSON(ctx, client, base+"/v1/accounts/use/users", map[string]string{
			"email": "u" + strconv.Itoa(u) + "@use.example", "entitlement_country": "DE"}); err != nil {
			return err
		}
	}
	// The request bodies are encoded before the clock starts: the load
	// generator shares the machine, and its JSON encoding is not the
	// ledger's work. Every answer is checked: all records accepted, none a
	// duplicate.
	now := time.Now().UTC()
	batches := bc.usageBatches
	bodies := make([][][]byte, bc.usageClients)
	for w := range bodies {
		bodies[w] = make([][]byte, batches)
		for b := range batches {
			var buf bytes.Buffer
			buf.WriteString(`{"records":[`)
			for i := range usageBatch {
				n := b*usageBatch + i
				began := now.Add(-time.Duration(n%(24*60)) * time.Minute).Add(-2 * time.Hour)
				if i > 0 {
					buf.WriteByte(',')
				}
				fmt.Fprintf(&buf, `{"usage_id":"w%d-%d","email":"u%d@use.example","product":"product-%d","machine_id":"m%d",`+
					`"client_version":"10.00.18.25","started_at":%q,"ended_at":%q,"offline":false}`,
					w, n, n%users, w, n%200, began.Format(time.RFC3339), began.Add(45*time.Minute).Format(time.RFC3339))
			}
			buf.WriteString(`]}`)
			bodies[w][b] = buf.Bytes()
		}
	}
	want := []byte(fmt.Sprintf(`{"accepted":%d,"duplicates":0,`, usageBatch))
	g, gctx := errgroup.WithContext(ctx)
	start := time.Now()
	for w := range bc.usageClients {
		g.Go(func() error {
			for _, body := range bodies[w] {
				answer, err := postRaw(gctx, client, base+"/v1/accounts/use/usage", body)
				if err != nil {
					return err
				}
				if !bytes.HasPrefix(answer, want) {
					return fmt.Errorf("bench: usage answer %.200s, want %s...", answer, want)
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	rec := measurement{name: fmt.Sprintf("ledger usage, HTTP batches of %d", usageBatch),
		ops: bc.usageClients * batches * usageBatch, took: time.Since(start), unit: "records"}
	printMeasurement(out, rec)
	info, err := conn.Stream.Info(ctx)
	if err != nil {
		return err
	}
	lag := info.State.LastSeq - srv.Store().Checkpoint()
	drained := time.Now()
	if err := srv.Store().WaitFor(ctx, info.State.LastSeq); err != nil {
		return err
	}
	fmt.Fprintf(out, "projection lag after the last answer: %d events, applied %s later\n",
		lag, time.Since(drained).Round(time.Millisecond))
	fmt.Fprintf(out, "\nratio  ledger usage / raw atomic batches  %.2f  (goal >= 0.5, stretch 0.7)\n", rec.rate()/raw.rate())
	fmt.Fprintf(out, "ratio  ledger usage / raw, ledger-shaped  %.2f\n", rec.rate()/shaped.rate())
	return nil
}

// rawUsage publishes bc.usageClients × bc.usageBatches atomic batches of
// usageBatch messages of size bytes on subjects under prefix, from
// concurrent publishers, and times it. With consume, an ordered consumer
// reads the messages back as they land, and the phase ends when it has read
// them all.
func rawUsage(ctx context.Context, conn *server.Conn, bc benchConfig, prefix string, size int, consume bool) (measurement, error) {
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = 'x'
	}
	total := bc.usageClients * bc.usageBatches * usageBatch
	var read chan struct{}
	if consume {
		cons, err := conn.JS.OrderedConsumer(ctx, "RAWUSAGE", jetstream.OrderedConsumerConfig{
			FilterSubjects: []string{prefix + ".>"}, DeliverPolicy: jetstream.DeliverNewPolicy})
		if err != nil {
			return measurement{}, err
		}
		read = make(chan struct{})
		n := 0
		cc, err := cons.Consume(func(m jetstream.Msg) {
			if n++; n == total {
				close(read)
			}
		})
		if err != nil {
			return measurement{}, err
		}
		defer cc.Stop()
	}
	mac := "0123456789abcdef:" + strings.Repeat("m", 43) // the size of a Ledger-Mac value
	g, gctx := errgroup.WithContext(ctx)
	start := time.Now()
	for w := range bc.usageClients {
		g.Go(func() error {
			subject := prefix + ".w" + strconv.Itoa(w)
			for range bc.usageBatches {
				msgs := make([]*nats.Msg, usageBatch)
				for i := range msgs {
					msgs[i] = &nats.Msg{Subject: subject, Data: payload, Header: nats.Header{}}
					if consume {
						msgs[i].Header.Set(events.MACHeader, mac)
					}
				}
				if _, err := rawBatch(gctx, conn.NC, msgs); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return measurement{}, err
	}
	if consume {
		select {
		case <-read:
		case <-ctx.Done():
			return measurement{}, ctx.Err()
		}
	}
	name := fmt.Sprintf("raw JetStream atomic batches of %d x %d B", usageBatch, size)
	if consume {
		name += ", read back"
	}
	return measurement{name: name, ops: total, took: time.Since(start), unit: "msgs"}, nil
}
