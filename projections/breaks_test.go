package projections_test

import (
	"testing"

	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/projections"
)

// rule H3: the store tells its OnBreaks hook of each break once, when the
// batch that recorded it commits and before WaitFor returns for it; a
// batch applied again tells nothing, and a reopened store keeps the count
// and the first break without telling them again.
func TestOnBreaksTellsEachBreakOnce(t *testing.T) {
	st := basic(t)
	p1 := events.Subject("acme", events.AggregateLicense, "P1")
	first := st.raw(p1, []byte("{not an event"))
	global := st.raw(events.EmailSubject("x@y.example"), []byte("{"))
	foreign := st.raw("elsewhere.acme", []byte("{}"))

	dir := t.TempDir()
	s := openStore(t, dir)
	var told []projections.Break
	s.OnBreaks(func(bs []projections.Break) {
		if cp := s.Checkpoint(); cp >= bs[len(bs)-1].Seq {
			t.Errorf("told of breaks up to %d with the checkpoint already at %d", bs[len(bs)-1].Seq, cp)
		}
		told = append(told, bs...)
	})
	if n, _, ok := s.BreakSummary(); n != 0 || ok {
		t.Fatalf("empty store: %d breaks", n)
	}
	apply(t, s, st.msgs[:len(st.msgs)-1]...)
	apply(t, s, st.msgs...) // the same again, and the last one
	if len(told) != 3 || told[0].Seq != first.Seq || told[1].Seq != global.Seq || told[2].Seq != foreign.Seq {
		t.Fatalf("told %+v, want the three breaks once each", told)
	}
	for _, c := range []struct {
		b    projections.Break
		want string
	}{{told[0], "acme"}, {told[1], ""}, {told[2], ""}} {
		if got := c.b.Account(); got != c.want {
			t.Errorf("break on %s: account %q, want %q", c.b.Subject, got, c.want)
		}
	}
	if n, b, ok := s.BreakSummary(); n != 3 || !ok || b != told[0] {
		t.Errorf("summary %d, %+v, want 3 from %+v", n, b, told[0])
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, dir)
	s.OnBreaks(func(bs []projections.Break) { t.Errorf("reopened store told of %+v", bs) })
	apply(t, s, st.msgs...)
	if n, b, ok := s.BreakSummary(); n != 3 || !ok || b != told[0] {
		t.Errorf("reopened: summary %d, %+v, want 3 from %+v", n, b, told[0])
	}
}
