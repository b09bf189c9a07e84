package subscriber_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/internal/ledgertest"
	"github.com/entledger/ledger/server"
	"github.com/entledger/ledger/subscriber"
)

// start starts a real ledger whose embedded NATS listens on loopback.
func start(t *testing.T, dir string) *ledger { return &ledger{ledgertest.StartIn(t, dir)} }

// ledger adds what these tests send to a test ledger.
type ledger struct{ *ledgertest.Ledger }

func (l *ledger) stop() { l.Stop() }

func (l *ledger) post(path string, body any) []byte { return l.Post(path, body) }

func (l *ledger) user(account, email string) {
	l.Post("/v1/accounts/"+account+"/users", map[string]string{"email": email, "entitlement_country": "DE"})
}

func (l *ledger) key() ed25519.PublicKey { return l.Key() }

func (l *ledger) creds(account, name string) subscriber.Credentials {
	var c subscriber.Credentials
	if err := json.Unmarshal(l.Post("/v1/accounts/"+account+"/subscribers", map[string]string{"name": name}), &c); err != nil {
		l.T.Fatal(err)
	}
	return c
}

// collect runs a subscriber until it has handled want events (or stop
// says so), and returns what it handled and the breaks it heard of.
func collect(t *testing.T, cfg subscriber.Config, want int, stop func(subscriber.Event) error) ([]subscriber.Event, []subscriber.Break, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var mu sync.Mutex
	var got []subscriber.Event
	var breaks []subscriber.Break
	cfg.OnBreak = func(b subscriber.Break) { mu.Lock(); breaks = append(breaks, b); mu.Unlock() }
	err := subscriber.Run(ctx, cfg, func(ctx context.Context, ev subscriber.Event) error {
		if stop != nil {
			if err := stop(ev); err != nil {
				return err
			}
		}
		mu.Lock()
		got = append(got, ev)
		n := len(got)
		mu.Unlock()
		if n >= want {
			cancel()
		}
		return nil
	})
	if ctx.Err() == context.DeadlineExceeded {
		t.Fatalf("handled %d events of %d in 20 s", len(got), want)
	}
	return got, breaks, err
}

func seqs(evs []subscriber.Event) []uint64 {
	out := make([]uint64, len(evs))
	for i, e := range evs {
		out[i] = e.Seq
	}
	return out
}

// rules H3, S5: a subscriber of acme gets acme's events, verified and
// typed, in stream order, and none of globex's; after its handler fails
// (a crash), it resumes at the event it did not acknowledge, and after the
// ledger restarts it goes on where it stopped: no acknowledged event is
// missed or repeated.
func TestSubscriberResumesWithoutLossOrRepeat(t *testing.T) {
	dir := t.TempDir()
	l := start(t, dir)
	l.post("/v1/accounts", map[string]string{"id": "acme", "name": "Acme", "fulfillment_contact": "it@acme.example"})
	l.post("/v1/accounts", map[string]string{"id": "globex", "name": "Globex", "fulfillment_contact": "it@globex.example"})
	for _, e := range []string{"a", "b", "c", "d"} {
		l.user("acme", e+"@x.example")
		l.user("globex", e+"@g.example")
	}
	cfg := subscriber.Config{URL: l.Srv.NATSURL(), Credentials: l.creds("acme", "feed"), Key: l.key(), AckEvery: 1}
	// acme: account.created, then per user user.registered and email.claimed
	// (the latter on _global, outside acme's subjects): 1 + 4 = 5 events.
	crash := errors.New("crash")
	first, breaks, err := collect(t, cfg, 5, func(ev subscriber.Event) error {
		if ev.Type == events.TypeUserRegistered && ev.Data.(events.UserRegistered).Email == "c@x.example" {
			return crash
		}
		return nil
	})
	if !errors.Is(err, crash) || len(breaks) != 0 {
		t.Fatalf("first run: %v, breaks %v", err, breaks)
	}
	if len(first) != 3 || first[0].Type != events.TypeAccountCreated || !first[0].Known {
		t.Fatalf("first run handled %v", seqs(first))
	}
	for _, ev := range first {
		if !strings.HasPrefix(ev.Subject, "ledger.events.acme.") {
			t.Errorf("delivered %s", ev.Subject)
		}
	}
	second, _, err := collect(t, cfg, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if second[0].Data.(events.UserRegistered).Email != "c@x.example" || second[0].Seq <= first[2].Seq {
		t.Fatalf("after the crash: %v, want c@x.example again (never acknowledged) and nothing before it", seqs(second))
	}

	// The ledger stops and starts again; the consumer is durable.
	l.stop()
	l = start(t, dir)
	l.user("acme", "e@x.example")
	cfg.URL = l.Srv.NATSURL()
	third, _, err := collect(t, cfg, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if third[0].Data.(events.UserRegistered).Email != "e@x.example" {
		t.Fatalf("after the ledger restarted: %v, want e@x.example only", third[0])
	}
	all := append(append(first, second...), third...)
	for i := 1; i < len(all); i++ {
		if all[i].Seq <= all[i-1].Seq {
			t.Errorf("sequences %v are not increasing: a repeat", seqs(all))
		}
	}
}

// rule H3: an event forged onto the stream by someone with rights on it is
// reported, never handed to the handler, and does not stop the events
// after it; a type this version does not know, signed by the ledger, is
// delivered raw.
func TestSubscriberReportsForgeriesAndDeliversUnknownTypes(t *testing.T) {
	l := start(t, t.TempDir())
	l.post("/v1/accounts", map[string]string{"id": "acme", "name": "Acme", "fulfillment_contact": "it@acme.example"})
	l.user("acme", "a@x.example")
	pw, err := server.LedgerNATSPassword(l.Dir)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(l.Srv.NATSURL(), nats.UserInfo(server.LedgerNATSUser, pw))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	forged := []byte(`{"specversion":"1.0","id":"01JGZ8Y0000000000000000000","source":"/accounts/acme","type":"user.removed",` +
		`"subject":"user/a@x.example","time":"2026-01-05T00:00:00Z","datacontenttype":"application/json","schemaversion":1,` +
		`"actor":"mallory","commandid":"c","correlationid":"c","recordedat":"2026-01-05T00:00:00Z","data":{"email":"a@x.example"}}`)
	if err := nc.Publish(events.UserSubject("acme", "a@x.example"), forged); err != nil {
		t.Fatal(err)
	}
	// A future event type, signed with the ledger's key, on a new subject.
	key, _ := events.LoadKey(filepath.Join(l.Dir, "keys", "events.ed25519"))
	future := []byte(`{"specversion":"1.0","id":"01JGZ8Y0000000000000000001","source":"/accounts/acme","type":"license.transferred",` +
		`"subject":"license/T-1","time":"2026-01-05T00:00:00Z","datacontenttype":"application/json","schemaversion":1,` +
		`"actor":"ledger","commandid":"c2","correlationid":"c2","recordedat":"2026-01-05T00:00:00Z","data":{"to":"globex"}}`)
	subj := events.LicenseSubject("acme", "T-1")
	msg := nats.NewMsg(subj)
	msg.Data, msg.Header = future, nats.Header{}
	msg.Header.Set(events.SignatureHeader, events.NewSigner(key).Sign(subj, future))
	if err := nc.PublishMsg(msg); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	l.user("acme", "b@x.example")
	cfg := subscriber.Config{URL: l.Srv.NATSURL(), Credentials: l.creds("acme", "audit"), Key: l.key()}
	got, breaks, err := collect(t, cfg, 4, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(breaks) != 1 || breaks[0].Subject != events.UserSubject("acme", "a@x.example") {
		t.Fatalf("breaks %v, want the forged user.removed", breaks)
	}
	var types []string
	for _, ev := range got {
		types = append(types, ev.Type)
		if ev.Type == "license.transferred" && (ev.Known || !bytes.Equal(ev.Raw, future)) {
			t.Errorf("the future type: known %v, raw %s", ev.Known, ev.Raw)
		}
	}
	want := []string{events.TypeAccountCreated, events.TypeUserRegistered, "license.transferred", events.TypeUserRegistered}
	if strings.Join(types, " ") != strings.Join(want, " ") {
		t.Errorf("handled %v, want %v", types, want)
	}
}

// Types filters after verification; a filter outside the credentials is
// refused before anything is read.
func TestSubscriberTypesAndFilter(t *testing.T) {
	l := start(t, t.TempDir())
	l.post("/v1/accounts", map[string]string{"id": "acme", "name": "Acme", "fulfillment_contact": "it@acme.example"})
	l.user("acme", "a@x.example")
	l.user("acme", "b@x.example")
	creds := l.creds("acme", "users")
	cfg := subscriber.Config{URL: l.Srv.NATSURL(), Credentials: creds, Key: l.key(), Types: []string{events.TypeUserRegistered}}
	got, _, err := collect(t, cfg, 2, nil)
	if err != nil || len(got) != 2 || got[0].Type != events.TypeUserRegistered {
		t.Fatalf("%v %v", got, err)
	}
	cfg.Filter = "ledger.events.globex.>"
	if err := subscriber.Run(context.Background(), cfg, nil); err == nil || !strings.Contains(err.Error(), "outside") {
		t.Errorf("a filter outside the credentials: %v", err)
	}
}
