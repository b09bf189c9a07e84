package events_test

import (
	"crypto/ed25519"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/entledger/ledger/events"
)

// chainWriter writes usage events to one subject the way the ledger does:
// each command's events chained, only the last of them signed.
type chainWriter struct {
	tb     testing.TB
	signer *events.Signer
	seq    uint64
	tip    string // prevhash of the next event
	n      int
}

type stored struct {
	seq           uint64
	subject       string
	data          []byte
	sig           string
	prev, hashHex string
}

func newChainWriter(tb testing.TB) *chainWriter {
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return &chainWriter{tb: tb, signer: events.NewSigner(key)}
}

// event encodes the next usage event after prev, without storing it.
func (w *chainWriter) event(prev string) (subject string, data []byte) {
	w.tb.Helper()
	w.n++
	e := usageEvent()
	u := e.Data.(events.UsageRecorded)
	u.UsageID = fmt.Sprintf("u-%d", w.n)
	e.Data, e.ID, e.PrevHash = u, events.DerivedID("usage", "acme", u.UsageID), prev
	data, err := events.Marshal(e)
	if err != nil {
		w.tb.Fatal(err)
	}
	return e.Subject(), data
}

// command writes n chained events, signing the last.
func (w *chainWriter) command(n int) []stored {
	var out []stored
	for i := range n {
		subject, data := w.event(w.tip)
		w.seq++
		s := stored{seq: w.seq, subject: subject, data: data, prev: w.tip, hashHex: events.Hash(data)}
		if i == n-1 {
			s.sig = w.signer.Sign(subject, data)
		}
		w.tip = s.hashHex
		out = append(out, s)
	}
	return out
}

func verifyAll(v *events.ChainVerifier, msgs []stored) []events.Break {
	var out []events.Break
	for _, m := range msgs {
		out = append(out, v.Add(m.seq, m.subject, m.data, m.sig)...)
	}
	return append(out, v.Finish()...)
}

func breakSeqs(bs []events.Break) []uint64 {
	out := []uint64{}
	for _, b := range bs {
		out = append(out, b.Seq)
	}
	slices.Sort(out)
	return out
}

// rule H3: the last event of each command on a subject is signed, and its
// hash chain vouches for the unsigned events before it.
func TestChainVerifierCoversUnsignedEvents(t *testing.T) {
	w := newChainWriter(t)
	msgs := append(append(w.command(3), w.command(1)...), w.command(500)...)
	v := events.NewChainVerifier(events.NewVerifier(w.signer.Public()))
	if bs := verifyAll(v, msgs); len(bs) != 0 {
		t.Fatalf("a stream the ledger wrote: breaks %+v", bs)
	}
	if v.Subjects() != 1 {
		t.Errorf("Subjects = %d, want 1", v.Subjects())
	}
}

// rule H3: unsigned events that no signed event follows are breaks, as is
// every unsigned event when the key is not the ledger's.
func TestChainVerifierReportsUncoveredEvents(t *testing.T) {
	w := newChainWriter(t)
	msgs := w.command(2)
	// An unsigned event chained correctly at the end, by someone who read
	// the stream: nothing signed ever follows it.
	subject, data := w.event(w.tip)
	msgs = append(msgs, stored{seq: 3, subject: subject, data: data})
	v := events.NewChainVerifier(events.NewVerifier(w.signer.Public()))
	bs := verifyAll(v, msgs)
	if got := breakSeqs(bs); len(got) != 1 || got[0] != 3 || !strings.Contains(bs[0].Reason, "unsigned") {
		t.Fatalf("breaks %+v, want only sequence 3, unsigned", bs)
	}

	_, other, _ := ed25519.GenerateKey(nil)
	v = events.NewChainVerifier(events.NewVerifier(other.Public().(ed25519.PublicKey)))
	if got := breakSeqs(verifyAll(v, msgs[:2])); fmt.Sprint(got) != "[1 2]" {
		t.Errorf("with another key: breaks at %v, want [1 2] (the signed event, then the one it no longer covers)", got)
	}
}

// rule H3: an event injected between two commands, chained onto the tip,
// is a break; the ledger's next command, which continues the real tip,
// still verifies.
func TestChainVerifierInjectedFork(t *testing.T) {
	w := newChainWriter(t)
	first := w.command(2)
	subject, data := w.event(w.tip)
	fake := stored{seq: 3, subject: subject, data: data}
	w.seq = 3
	next := w.command(3) // continues the real tip, not the fake
	msgs := append(append(first, fake), next...)
	v := events.NewChainVerifier(events.NewVerifier(w.signer.Public()))
	bs := verifyAll(v, msgs)
	if got := breakSeqs(bs); fmt.Sprint(got) != "[3]" {
		t.Fatalf("breaks %+v, want only the injected sequence 3", bs)
	}
	if !strings.Contains(bs[0].Reason, "unsigned") {
		t.Errorf("reason %q, want it to say the event is not vouched for", bs[0].Reason)
	}
}

// rule H3: an unsigned event that continues no known event, a replayed
// signed event and an event on a subject not its own are breaks at once.
func TestChainVerifierImmediateBreaks(t *testing.T) {
	w := newChainWriter(t)
	msgs := w.command(2)
	v := events.NewChainVerifier(events.NewVerifier(w.signer.Public()))
	for _, m := range msgs {
		if bs := v.Add(m.seq, m.subject, m.data, m.sig); len(bs) != 0 {
			t.Fatalf("sequence %d: %+v", m.seq, bs)
		}
	}
	subject, orphan := w.event(events.Hash([]byte("nothing")))
	if bs := v.Add(3, subject, orphan, ""); len(bs) != 1 || !strings.Contains(bs[0].Reason, "hash chain") {
		t.Errorf("orphan: %+v, want a hash chain break", bs)
	}
	last := msgs[1]
	if bs := v.Add(4, last.subject, last.data, last.sig); len(bs) != 1 || !strings.Contains(bs[0].Reason, "hash chain") {
		t.Errorf("replayed signed event: %+v, want a hash chain break", bs)
	}
	moved := "ledger.events.acme.usage.other"
	if bs := v.Add(5, moved, last.data, w.signer.Sign(moved, last.data)); len(bs) != 1 || !strings.Contains(bs[0].Reason, "stored on") {
		t.Errorf("event on another subject: %+v, want a subject break", bs)
	}
	if bs := v.Add(6, subject, []byte("{"), ""); len(bs) != 1 || !strings.Contains(bs[0].Reason, "undecodable") {
		t.Errorf("garbage: %+v, want undecodable", bs)
	}
	if bs := v.Finish(); len(bs) != 0 {
		t.Errorf("Finish: %+v, want nothing pending", bs)
	}
}
