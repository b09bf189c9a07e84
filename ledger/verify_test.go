package ledger_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/ledger"
)

// rule H3: a verification walks the whole stream and reports the first
// break; an event published to a ledger subject by anything but the ledger
// is a break, even a copy of a real one with a valid hash chain.
func TestRuleH3Verify(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	tl.must(200, "POST", "/v1/accounts/acme/licenses/P1/assign", map[string]any{"email": "a@x.example"})
	ctx := context.Background()
	pub, err := events.LoadPublicKey(filepath.Join(tl.dir, "keys", "events.ed25519.pub"))
	if err != nil {
		t.Fatal(err)
	}
	v := events.NewVerifier(pub)
	rep, err := ledger.Verify(ctx, tl.srv.Conn().Stream, v)
	if err != nil {
		t.Fatal(err)
	}
	total := uint64(len(tl.streamEvents()))
	if rep.First != nil || rep.Events != total {
		t.Fatalf("clean stream: %+v (first %+v), want %d events and no break", rep, rep.First, total)
	}

	// A replay of the licence's last message, headers and all, onto its own
	// subject: correctly signed, but its prevhash is no longer the last hash.
	subject := events.Subject("acme", events.AggregateLicense, "P1")
	last, err := tl.srv.Conn().Stream.GetLastMsgForSubject(ctx, subject)
	if err != nil {
		t.Fatal(err)
	}
	replay := &nats.Msg{Subject: subject, Data: last.Data, Header: nats.Header{}}
	replay.Header.Set(events.SignatureHeader, last.Header.Get(events.SignatureHeader))
	ack, err := tl.srv.Conn().JS.PublishMsg(ctx, replay)
	if err != nil {
		t.Fatal(err)
	}
	// Garbage on another subject.
	if _, err := tl.srv.Conn().JS.Publish(ctx, events.Subject("acme", events.AggregateLicense, "P2"), []byte("{")); err != nil {
		t.Fatal(err)
	}
	rep, err = ledger.Verify(ctx, tl.srv.Conn().Stream, v)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Breaks != 2 || rep.First == nil || rep.First.Seq != ack.Sequence || !strings.Contains(rep.First.Reason, "hash chain") {
		t.Fatalf("after a replayed and a garbage message: %+v (first %+v), want 2 breaks, the first the replay at %d",
			rep, rep.First, ack.Sequence)
	}
	// Another key does not verify anything.
	other := events.NewVerifier(make([]byte, 32))
	if rep, err := ledger.Verify(ctx, tl.srv.Conn().Stream, other); err != nil || rep.First == nil || rep.First.Seq != 1 {
		t.Errorf("with another key: %+v, %v; want a break at sequence 1", rep, err)
	}
}
