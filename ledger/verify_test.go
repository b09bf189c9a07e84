package ledger_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/server"
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
	rep, err := server.VerifyStream(ctx, tl.srv.Conn().Stream, v)
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
	rep, err = server.VerifyStream(ctx, tl.srv.Conn().Stream, v)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Breaks != 2 || rep.First == nil || rep.First.Seq != ack.Sequence || !strings.Contains(rep.First.Reason, "hash chain") {
		t.Fatalf("after a replayed and a garbage message: %+v (first %+v), want 2 breaks, the first the replay at %d",
			rep, rep.First, ack.Sequence)
	}
	// Another key does not verify anything.
	other := events.NewVerifier(make([]byte, 32))
	if rep, err := server.VerifyStream(ctx, tl.srv.Conn().Stream, other); err != nil || rep.First == nil || rep.First.Seq != 1 {
		t.Errorf("with another key: %+v, %v; want a break at sequence 1", rep, err)
	}
}

// rule H3: a command signs only the last of its events on each subject; the
// hash chain lets that one signature vouch for the rest, every event keeps
// its MAC, and Verify finds the stream whole. A copy of the batch without
// its closing signature is reported event by event.
func TestRuleH3OneSignaturePerSubjectAndCommand(t *testing.T) {
	tl := useStart(t)
	recs := []useRec{}
	for i := range 5 {
		recs = append(recs, useR(fmt.Sprintf("sig-%d", i), useNow.Add(-3*time.Hour), time.Hour))
	}
	useAccepted(tl, 5, 0, recs...)
	tl.checkStream()

	ctx := context.Background()
	// One batch holds one usage shard of its product.
	prefix := events.UsageSubject("acme", "microstation") + "."
	var signed, macs int
	var usage []jetstream.RawStreamMsg
	for _, m := range tl.streamEvents() {
		if !strings.HasPrefix(m.Subject, prefix) {
			continue
		}
		usage = append(usage, m)
		if m.Header.Get(events.SignatureHeader) != "" {
			signed++
		}
		if m.Header.Get(events.MACHeader) != "" {
			macs++
		}
	}
	if len(usage) != 5 || signed != 1 || macs != 5 || usage[4].Header.Get(events.SignatureHeader) == "" {
		t.Fatalf("usage events %d, signed %d, with a MAC %d; want 5, 1 (the last), 5", len(usage), signed, macs)
	}
	pub, err := events.LoadPublicKey(filepath.Join(tl.dir, "keys", "events.ed25519.pub"))
	if err != nil {
		t.Fatal(err)
	}
	v := events.NewVerifier(pub)
	if rep, err := server.VerifyStream(ctx, tl.srv.Conn().Stream, v); err != nil || rep.Breaks != 0 {
		t.Fatalf("Verify: %+v (first %+v), %v; want no break", rep, rep.First, err)
	}

	// The batch's first four events again, chained onto the real tip by
	// someone who can read the stream, but without a signed event after
	// them.
	tip := events.Hash(usage[4].Data)
	var first uint64
	for i, m := range usage[:4] {
		e, err := events.Unmarshal(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		u := e.Data.(events.UsageRecorded)
		u.UsageID = fmt.Sprintf("forged-%d", i)
		e.Data, e.ID, e.PrevHash = u, events.DerivedID("usage", "acme", u.UsageID), tip
		data, err := events.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		ack, err := tl.srv.Conn().JS.Publish(ctx, usage[4].Subject, data)
		if err != nil {
			t.Fatal(err)
		}
		if first == 0 {
			first = ack.Sequence
		}
		tip = events.Hash(data)
	}
	rep, err := server.VerifyStream(ctx, tl.srv.Conn().Stream, v)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Breaks != 4 || rep.First == nil || rep.First.Seq != first || !strings.Contains(rep.First.Reason, "unsigned") {
		t.Fatalf("after 4 forged unsigned events: %+v (first %+v), want 4 breaks from sequence %d", rep, rep.First, first)
	}
}
