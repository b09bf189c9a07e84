package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/ledger"
	"github.com/entledger/ledger/server"
)

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// sampleEvent is an encoded license.reassigned event: the size of what the
// ledger writes for a reassignment.
func sampleEvent() []byte {
	now := time.Now().UTC()
	raw, err := events.Marshal(events.Event{
		ID: events.NewID(), Account: "bench", AggregateID: "L-0", OccurredAt: now, RecordedAt: now,
		Actor: "bench", CommandID: events.NewID(), CommandHash: events.Hash(nil), CorrelationID: "bench",
		PrevHash: events.Hash([]byte("x")),
		Data: events.LicenseReassigned{ID: "L-0", Email: "user-0-a@bench.example", PreviousEmail: "user-0-b@bench.example",
			WindowOpenedAt: now, WindowClosesAt: now.Add(commands.WindowDuration),
			LockedUntil: now.Add(commands.WindowDuration + commands.LockDuration)},
	})
	if err != nil {
		panic(err)
	}
	return raw
}

// benchRawPublish: synchronous JetStream publishes with
// Nats-Expected-Last-Subject-Sequence, one subject per publisher, to a
// stream configured like LEDGER on the same server.
func benchRawPublish(ctx context.Context, conn *server.Conn, bc benchConfig) (measurement, error) {
	cfg := server.StreamConfig(bc.replicas())
	cfg.Name, cfg.Subjects = "RAW", []string{"raw.>"}
	if _, err := conn.JS.CreateStream(ctx, cfg); err != nil {
		return measurement{}, fmt.Errorf("bench: raw stream: %w", err)
	}
	payload := sampleEvent()
	g, gctx := errgroup.WithContext(ctx)
	start := time.Now()
	for w := range bc.clients {
		g.Go(func() error {
			subject := "raw.events.w" + strconv.Itoa(w)
			var last uint64
			for range bc.ops {
				msg := &nats.Msg{Subject: subject, Data: payload, Header: nats.Header{}}
				msg.Header.Set("Nats-Msg-Id", events.NewID())
				msg.Header.Set("Nats-Expected-Last-Subject-Sequence", strconv.FormatUint(last, 10))
				ack, err := conn.JS.PublishMsg(gctx, msg)
				if err != nil {
					return fmt.Errorf("bench: raw publish: %w", err)
				}
				last = ack.Sequence
			}
			return nil
		})
	}
	err := g.Wait()
	return measurement{name: "raw JetStream publish (expected subject seq)", ops: bc.clients * bc.ops, took: time.Since(start), unit: "msgs"}, err
}

// benchRawOneSubject: the other layout of the write invariants, one message
// per command on one subject per account (the account's whole state
// guarded by one expected sequence, so no batch is needed): bc.clients
// publishers on one subject, each publish expecting the subject's last
// sequence as it last saw it, a publish that loses the race read again
// (the subject's last message) and sent again, until bc.ops each landed.
// It is raw JetStream: no decision, no encoding, nothing the ledger adds.
func benchRawOneSubject(ctx context.Context, conn *server.Conn, bc benchConfig) (measurement, int, error) {
	payload := sampleEvent()
	const subject = "raw.account.one"
	raw, err := conn.JS.Stream(ctx, "RAW") // made by benchRawPublish
	if err != nil {
		return measurement{}, 0, fmt.Errorf("bench: raw stream: %w", err)
	}
	var conflicts atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	start := time.Now()
	for range bc.clients {
		g.Go(func() error {
			var last uint64
			for landed := 0; landed < bc.ops; {
				msg := &nats.Msg{Subject: subject, Data: payload, Header: nats.Header{}}
				msg.Header.Set("Nats-Msg-Id", events.NewID())
				msg.Header.Set("Nats-Expected-Last-Subject-Sequence", strconv.FormatUint(last, 10))
				ack, err := conn.JS.PublishMsg(gctx, msg)
				if err == nil {
					last, landed = ack.Sequence, landed+1
					continue
				}
				var apiErr *jetstream.APIError
				if !errors.As(err, &apiErr) || (apiErr.ErrorCode != jetstream.JSErrCodeStreamWrongLastSequence &&
					apiErr.ErrorCode != jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
					return fmt.Errorf("bench: raw publish on one subject: %w", err)
				}
				conflicts.Add(1)
				m, err := raw.GetLastMsgForSubject(gctx, subject)
				switch {
				case err == nil:
					last = m.Sequence
				case errors.Is(err, jetstream.ErrMsgNotFound):
					// A replica answered that has not applied it yet (direct
					// get on R3): ask again on the next loss.
				default:
					return fmt.Errorf("bench: raw publish on one subject: %w", err)
				}
			}
			return nil
		})
	}
	err = g.Wait()
	return measurement{name: "raw publish, all clients on ONE subject", ops: bc.clients * bc.ops, took: time.Since(start), unit: "msgs"},
		int(conflicts.Load()), err
}

// benchRawBatch: atomic batches of n messages (each with its expected
// subject sequence, as a reassignment writes them), one set of subjects per
// publisher: the same JetStream work a multi-event command does.
func benchRawBatch(ctx context.Context, conn *server.Conn, bc benchConfig, n int) (measurement, error) {
	payload := sampleEvent()
	g, gctx := errgroup.WithContext(ctx)
	start := time.Now()
	for w := range bc.clients {
		g.Go(func() error {
			last := make([]uint64, n)
			for range bc.ops {
				msgs := make([]*nats.Msg, n)
				for i := range n {
					msgs[i] = &nats.Msg{Subject: fmt.Sprintf("raw.batch%d.w%d.s%d", n, w, i), Data: payload, Header: nats.Header{}}
					msgs[i].Header.Set("Nats-Expected-Last-Subject-Sequence", strconv.FormatUint(last[i], 10))
				}
				seq, err := rawBatch(gctx, conn.NC, msgs)
				if err != nil {
					return err
				}
				for j := range n {
					last[j] = seq - uint64(n-1-j)
				}
			}
			return nil
		})
	}
	err := g.Wait()
	return measurement{name: fmt.Sprintf("raw JetStream atomic batch of %d msgs", n), ops: bc.clients * bc.ops, took: time.Since(start), unit: "batches"}, err
}

// benchLedgerGo: assign then reassign back and forth, one licence per
// client, through the ledger's Go API.
func benchLedgerGo(ctx context.Context, l *ledger.Ledger, bc benchConfig) (measurement, error) {
	if err := benchSetup(ctx, l, "go", bc.clients); err != nil {
		return measurement{}, err
	}
	g, gctx := errgroup.WithContext(ctx)
	start := time.Now()
	for w := range bc.clients {
		g.Go(func() error {
			lic, a, b := benchNames("go", w)
			if _, err := l.Assign(gctx, ledger.Meta{Actor: "bench"}, commands.Assign{Account: "bench", LicenseID: lic, Email: a}); err != nil {
				return fmt.Errorf("bench: assign: %w", err)
			}
			for i := 1; i < bc.ops; i++ {
				to := b
				if i%2 == 0 {
					to = a
				}
				if _, err := l.Reassign(gctx, ledger.Meta{Actor: "bench"}, commands.Reassign{Account: "bench", LicenseID: lic, Email: to}); err != nil {
					return fmt.Errorf("bench: reassign: %w", err)
				}
			}
			return nil
		})
	}
	err := g.Wait()
	return measurement{name: "ledger assign/reassign, Go API", ops: bc.clients * bc.ops, took: time.Since(start), unit: "commands"}, err
}

// benchLedgerHTTP is benchLedgerGo through the HTTP API.
func benchLedgerHTTP(ctx context.Context, base string, bc benchConfig) (measurement, error) {
	client := benchClient(bc.clients)
	post := func(ctx context.Context, path string, body any) error { return postJSON(ctx, client, base+path, body) }
	if err := benchSetupHTTP(ctx, post, "http", bc.clients); err != nil {
		return measurement{}, err
	}
	g, gctx := errgroup.WithContext(ctx)
	start := time.Now()
	for w := range bc.clients {
		g.Go(func() error {
			lic, a, b := benchNames("http", w)
			path := "/v1/accounts/bench/licenses/" + lic
			if err := post(gctx, path+"/assign", map[string]string{"email": a}); err != nil {
				return err
			}
			for i := 1; i < bc.ops; i++ {
				to := b
				if i%2 == 0 {
					to = a
				}
				if err := post(gctx, path+"/reassign", map[string]string{"email": to}); err != nil {
					return err
				}
			}
			return nil
		})
	}
	err := g.Wait()
	return measurement{name: "ledger assign/reassign, HTTP", ops: bc.clients * bc.ops, took: time.Since(start), unit: "commands"}, err
}

func benchNames(prefix string, w int) (licence, a, b string) {
	n := strconv.Itoa(w)
	return prefix + "-L-" + n, prefix + "-" + n + "-a@bench.example", prefix + "-" + n + "-b@bench.example"
}

// benchSetup creates the account "bench" and, per client, a practitioner
// licence and two users.
func benchSetup(ctx context.Context, l *ledger.Ledger, prefix string, clients int) error {
	if _, err := l.CreateAccount(ctx, ledger.Meta{}, commands.CreateAccount{ID: "bench", Name: "Bench",
		FulfillmentContact: "ops@bench.example"}); err != nil && commands.CodeOf(err) != commands.CodeAccountExists {
		return err
	}
	now := time.Now().UTC()
	for w := range clients {
		lic, a, b := benchNames(prefix, w)
		for _, u := range []string{a, b} {
			if _, err := l.RegisterUser(ctx, ledger.Meta{}, commands.RegisterUser{Account: "bench", Email: u, EntitlementCountry: "DE"}); err != nil {
				return err
			}
		}
		if _, err := l.CreateLicense(ctx, ledger.Meta{}, commands.CreateLicense{Account: "bench", ID: lic, Kind: events.KindPractitioner,
			Products: []string{"microstation"}, ValidFrom: now.Add(-time.Hour), ValidUntil: now.Add(365 * 24 * time.Hour)}); err != nil {
			return err
		}
	}
	return nil
}

func benchSetupHTTP(ctx context.Context, post func(context.Context, string, any) error, prefix string, clients int) error {
	now := time.Now().UTC()
	for w := range clients {
		lic, a, b := benchNames(prefix, w)
		for _, u := range []string{a, b} {
			if err := post(ctx, "/v1/accounts/bench/users", map[string]string{"email": u, "entitlement_country": "DE"}); err != nil {
				return err
			}
		}
		if err := post(ctx, "/v1/accounts/bench/licenses", map[string]any{"id": lic, "kind": "practitioner",
			"products": []string{"microstation"}, "valid_from": now.Add(-time.Hour).Format(time.RFC3339),
			"valid_until": now.Add(365 * 24 * time.Hour).Format(time.RFC3339)}); err != nil {
			return err
		}
	}
	return nil
}

// rawBatch publishes msgs as one atomic batch, the way the ledger's appender
// does but with nothing else around it, and returns the sequence of the last.
func rawBatch(ctx context.Context, nc *nats.Conn, msgs []*nats.Msg) (uint64, error) {
	id := nats.NewInbox()[len(nats.InboxPrefix):]
	for i, msg := range msgs {
		msg.Header.Set("Nats-Msg-Id", events.NewID())
		msg.Header.Set("Nats-Batch-Id", id)
		msg.Header.Set("Nats-Batch-Sequence", strconv.Itoa(i+1))
		if i < len(msgs)-1 {
			if err := nc.PublishMsg(msg); err != nil {
				return 0, err
			}
			continue
		}
		msg.Header.Set("Nats-Batch-Commit", "1")
		reply, err := nc.RequestMsgWithContext(ctx, msg)
		if err != nil {
			return 0, fmt.Errorf("bench: raw batch commit: %w", err)
		}
		var ack struct {
			Seq   uint64          `json:"seq"`
			Error json.RawMessage `json:"error"`
		}
		if err := json.Unmarshal(reply.Data, &ack); err != nil || ack.Error != nil {
			return 0, fmt.Errorf("bench: raw batch commit: %s", reply.Data)
		}
		return ack.Seq, nil
	}
	return 0, fmt.Errorf("bench: empty batch")
}
