package ledger_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/server"
)

// startListening starts a ledger whose embedded NATS listens on loopback,
// with accounts acme and globex.
func startListening(t *testing.T) *testLedger {
	t.Helper()
	tl := startConfigured(t, server.Config{HTTPAddr: "127.0.0.1:0", NATSListen: "127.0.0.1:0", NoReminders: true}, nil)
	tl.setup()
	tl.must(201, "POST", "/v1/accounts", map[string]any{"id": "globex", "name": "Globex", "fulfillment_contact": "ops@globex.example"})
	return tl
}

// natsErrors collects the asynchronous errors (permission violations) of
// a connection.
type natsErrors struct {
	mu   sync.Mutex
	errs []string
	seen chan struct{}
}

func (e *natsErrors) handler(_ *nats.Conn, _ *nats.Subscription, err error) {
	e.mu.Lock()
	e.errs = append(e.errs, err.Error())
	e.mu.Unlock()
	select {
	case e.seen <- struct{}{}:
	default:
	}
}

// subscriberConn creates subscriber credentials (path: .../subscribers or
// /v1/subscribers) and connects with them.
func subscriberConn(t *testing.T, tl *testLedger, path, name string) (*nats.Conn, map[string]any, *natsErrors) {
	t.Helper()
	creds := tl.must(201, "POST", path, map[string]any{"name": name}).Body
	errs := &natsErrors{seen: make(chan struct{}, 16)}
	nc, err := nats.Connect(tl.srv.NATSURL(), nats.UserInfo(creds["nats_user"].(string), creds["nats_password"].(string)),
		nats.CustomInboxPrefix(creds["inbox_prefix"].(string)), nats.ErrorHandler(errs.handler), nats.NoReconnect())
	if err != nil {
		t.Fatalf("connect with subscriber credentials: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc, creds, errs
}

// refused reports whether f fails within a short bound: a request the
// server refuses gets no answer but a permissions violation.
func refused(f func(ctx context.Context) error) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	return f(ctx) != nil
}

// rule S5: subscriber credentials of account acme read acme's events, live
// and through their durable consumer, and nothing else: not globex's
// subjects, not a publish on a ledger subject, not deleting, purging or
// changing the stream, not the ledger's key-value bucket, not the list of
// consumers. No credentials, or wrong ones, cannot connect at all (S4).
func TestRuleS5SubscriberSeesOnlyItsAccount(t *testing.T) {
	tl := startListening(t)
	for _, opt := range []nats.Option{nil, nats.UserInfo("nobody", "nothing"), nats.UserInfo("ledger", "guess")} {
		opts := []nats.Option{nats.NoReconnect()}
		if opt != nil {
			opts = append(opts, opt)
		}
		if nc, err := nats.Connect(tl.srv.NATSURL(), opts...); err == nil {
			nc.Close()
			t.Error("a client without valid credentials connected to the listener")
		}
	}
	nc, creds, errs := subscriberConn(t, tl, "/v1/accounts/acme/subscribers", "feed")
	durable := "acme_feed_" + creds["nats_user"].(string)
	if creds["durable"] != durable || creds["subjects"].([]any)[0] != "ledger.events.acme.>" || creds["js_api_prefix"] != "$LEDGER.API" {
		t.Fatalf("credentials %v", creds)
	}
	tl.do("POST", "/v1/accounts/acme/subscribers", map[string]any{"name": "feed"}) // the same name again
	if r := tl.do("POST", "/v1/accounts/acme/subscribers", map[string]any{"name": "feed"}); r.Status != 409 {
		t.Errorf("a second subscriber with the same name: %d, want 409", r.Status)
	}

	live, err := nc.SubscribeSync("ledger.events.acme.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	tl.must(201, "POST", "/v1/accounts/acme/users", map[string]any{"email": "live@x.example", "entitlement_country": "DE"})
	tl.must(201, "POST", "/v1/accounts/globex/users", map[string]any{"email": "g@x.example", "entitlement_country": "DE"})
	if m, err := live.NextMsg(5 * time.Second); err != nil || !strings.HasPrefix(m.Subject, "ledger.events.acme.") {
		t.Fatalf("live event: %v %v", m, err)
	}

	js, err := jetstream.NewWithAPIPrefix(nc, "$LEDGER.API")
	if err != nil {
		t.Fatal(err)
	}
	plain, err := jetstream.New(nc) // the default prefix: the subscriber's account has no JetStream of its own
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cons, err := js.Consumer(ctx, "LEDGER", durable) // the ledger made it (rule S6)
	if err != nil {
		t.Fatalf("its own durable consumer: %v", err)
	}
	batch, err := cons.Fetch(1000, jetstream.FetchMaxWait(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for m := range batch.Messages() {
		n++
		if !strings.HasPrefix(m.Subject(), "ledger.events.acme.") {
			t.Errorf("the consumer delivered %s", m.Subject())
		}
		if err := m.Ack(); err != nil {
			t.Errorf("ack: %v", err)
		}
	}
	if n < 5 {
		t.Errorf("the consumer delivered %d events of acme, want its history", n)
	}

	for what, f := range map[string]func(ctx context.Context) error{
		"a consumer on globex": func(ctx context.Context) error {
			_, err := js.CreateOrUpdateConsumer(ctx, "LEDGER", jetstream.ConsumerConfig{Durable: durable, FilterSubject: "ledger.events.globex.>"})
			return err
		},
		"its own consumer, configured by itself": func(ctx context.Context) error {
			_, err := js.CreateOrUpdateConsumer(ctx, "LEDGER", jetstream.ConsumerConfig{Durable: durable, FilterSubject: "ledger.events.acme.>",
				DeliverSubject: "ledger.events.globex.user.x"})
			return err
		},
		"a consumer of another name": func(ctx context.Context) error {
			_, err := js.CreateOrUpdateConsumer(ctx, "LEDGER", jetstream.ConsumerConfig{Durable: "globex_feed", FilterSubject: "ledger.events.acme.>"})
			return err
		},
		"deleting its consumer":               func(ctx context.Context) error { return js.DeleteConsumer(ctx, "LEDGER", durable) },
		"the stream's info, default prefix":   func(ctx context.Context) error { _, err := plain.Stream(ctx, "LEDGER"); return err },
		"deleting the stream, default prefix": func(ctx context.Context) error { return plain.DeleteStream(ctx, "LEDGER") },
		"another account's consumer through the service": func(ctx context.Context) error {
			_, err := nc.RequestWithContext(ctx, "ledger.consumers.globex_feed_"+creds["nats_user"].(string), nil)
			return err
		},
		"an ordered consumer": func(ctx context.Context) error {
			c, err := js.OrderedConsumer(ctx, "LEDGER", jetstream.OrderedConsumerConfig{FilterSubjects: []string{"ledger.events.acme.>"}})
			if err == nil {
				_, err = c.Fetch(1, jetstream.FetchMaxWait(200*time.Millisecond))
			}
			return err
		},
		"publishing an event": func(ctx context.Context) error {
			_, err := js.Publish(ctx, events.UserSubject("acme", "forged@x.example"), []byte(`{}`))
			return err
		},
		"deleting the stream": func(ctx context.Context) error { return js.DeleteStream(ctx, "LEDGER") },
		"purging the stream": func(ctx context.Context) error {
			_, err := nc.RequestWithContext(ctx, "$JS.API.STREAM.PURGE.LEDGER", nil)
			return err
		},
		"changing the stream": func(ctx context.Context) error {
			_, err := js.UpdateStream(ctx, jetstream.StreamConfig{Name: "LEDGER", Subjects: []string{"ledger.events.>"}, MaxMsgsPerSubject: 1})
			return err
		},
		"the stream's info": func(ctx context.Context) error { _, err := js.Stream(ctx, "LEDGER"); return err },
		"the list of consumers": func(ctx context.Context) error {
			_, err := nc.RequestWithContext(ctx, "$JS.API.CONSUMER.NAMES.LEDGER", nil)
			return err
		},
		"the stored answers": func(ctx context.Context) error {
			kv, err := js.KeyValue(ctx, "LEDGER_ANSWERS")
			if err == nil {
				_, err = kv.Get(ctx, "x")
			}
			return err
		},
	} {
		if !refused(f) {
			t.Errorf("a subscriber of acme could do this: %s", what)
		}
	}
	other, err := nc.SubscribeSync("ledger.events.globex.>")
	if err == nil {
		nc.Flush()
		select {
		case <-errs.seen:
		case <-time.After(5 * time.Second):
			t.Error("subscribing to globex's subjects drew no permissions violation")
		}
		if m, err := other.NextMsg(100 * time.Millisecond); err == nil {
			t.Errorf("a subscriber of acme received %s", m.Subject)
		}
	}
	if _, err := nc.SubscribeSync("_INBOX.>"); err == nil {
		nc.Flush()
	}
	if !nc.IsConnected() {
		t.Fatal("the refusals closed the connection")
	}

	// Revoked: the connection is closed, and the credentials no longer connect.
	closed := make(chan struct{})
	nc.SetClosedHandler(func(*nats.Conn) { close(closed) })
	tl.must(200, "DELETE", "/v1/accounts/acme/subscribers/feed", nil)
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the revoked subscriber is still connected")
	}
	if c, err := nats.Connect(tl.srv.NATSURL(), nats.UserInfo(creds["nats_user"].(string), creds["nats_password"].(string)), nats.NoReconnect()); err == nil {
		c.Close()
		t.Error("revoked credentials connected")
	} else if !errors.Is(err, nats.ErrAuthorization) && !strings.Contains(err.Error(), "uthorization") {
		t.Logf("revoked credentials: %v", err)
	}
}
