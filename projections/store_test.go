package projections_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/projections"
)

// These tests drive a real Pebble store with encoded events, as the stream
// would deliver them, and check the store's contract: one batch with the
// checkpoint, nothing applied twice, the checkpoint survives a reopen,
// WaitFor wakes on progress, and invalid messages are breaks (H3).

var t0 = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)

// stream builds messages as the ledger writes them: per-subject hash
// chain, consecutive stream sequences.
type stream struct {
	tb   testing.TB
	seq  uint64
	last map[string]string // subject → hash of its last message
	msgs []projections.Msg
}

func newStream(tb testing.TB) *stream { return &stream{tb: tb, last: map[string]string{}} }

// add encodes one event of account/id with data, chained to its subject's
// last message, and returns it as the next message.
func (s *stream) add(account, id string, data events.Data) projections.Msg {
	s.tb.Helper()
	e := events.Event{ID: events.NewID(), Account: account, AggregateID: id, OccurredAt: t0, RecordedAt: t0,
		Actor: "test", CommandID: events.NewID(), Data: data}
	e.CorrelationID = e.CommandID
	e.PrevHash = s.last[e.Subject()]
	return s.raw(e.Subject(), s.marshal(e))
}

func (s *stream) marshal(e events.Event) []byte {
	s.tb.Helper()
	raw, err := events.Marshal(e)
	if err != nil {
		s.tb.Fatalf("marshal %s: %v", e.Type(), err)
	}
	return raw
}

// raw appends arbitrary bytes on subject as the next message.
func (s *stream) raw(subject string, data []byte) projections.Msg {
	s.seq++
	s.last[subject] = events.Hash(data)
	m := projections.Msg{Seq: s.seq, Subject: subject, Data: data}
	s.msgs = append(s.msgs, m)
	return m
}

// basic is account acme with licence P1 assigned to a@x.example: five
// messages on four subjects.
func basic(tb testing.TB) *stream {
	tb.Helper()
	s := newStream(tb)
	s.add("acme", "acme", events.AccountCreated{ID: "acme", Name: "Acme",
		FulfillmentContacts: []string{"ops@acme.example"}, Admins: []string{"ops@acme.example"}})
	s.add("acme", "P1", events.LicenseCreated{ID: "P1", Kind: events.KindPractitioner, Products: []string{"microstation"},
		ValidFrom: t0.AddDate(-1, 0, 0), ValidUntil: t0.AddDate(2, 0, 0)})
	s.add("acme", "a@x.example", events.UserRegistered{Email: "a@x.example", EntitlementCountry: "DE"})
	s.add("acme", "P1", events.LicenseAssigned{ID: "P1", Email: "a@x.example", NewWindow: true,
		WindowOpenedAt: t0, WindowClosesAt: t0.Add(commands.WindowDuration),
		LockedUntil: t0.Add(commands.WindowDuration + commands.LockDuration)})
	s.add("acme", "a@x.example", events.UserLicenseAttached{Email: "a@x.example", LicenseID: "P1"})
	return s
}

func openStore(tb testing.TB, dir string) *projections.Store {
	tb.Helper()
	s, err := projections.Open(dir, projections.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func apply(tb testing.TB, s *projections.Store, msgs ...projections.Msg) {
	tb.Helper()
	if err := s.Apply(msgs); err != nil {
		tb.Fatal(err)
	}
}

func digest(tb testing.TB, s *projections.Store) string {
	tb.Helper()
	d, err := s.Digest()
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

func TestApplyTwiceChangesNothing(t *testing.T) {
	msgs := basic(t).msgs
	s := openStore(t, t.TempDir())
	apply(t, s, msgs...)
	want := digest(t, s)
	if cp := s.Checkpoint(); cp != 5 {
		t.Fatalf("checkpoint %d, want 5", cp)
	}
	lic, v, err := s.License("acme", "P1")
	if err != nil {
		t.Fatal(err)
	}
	if lic.Assignee != "a@x.example" || v.Seq != 4 || v.Hash != events.Hash(msgs[3].Data) {
		t.Fatalf("P1 %+v at %+v, want assigned to a@x.example at sequence 4", lic, v)
	}

	for _, again := range [][]projections.Msg{msgs, msgs[1:3], msgs[4:], msgs[:1]} {
		apply(t, s, again...)
		if got := digest(t, s); got != want {
			t.Errorf("applying sequences %d..%d again changed the digest", again[0].Seq, again[len(again)-1].Seq)
		}
		if cp := s.Checkpoint(); cp != 5 {
			t.Errorf("checkpoint %d after applying again, want 5", cp)
		}
	}
	hist, err := s.History(events.Subject("acme", events.AggregateLicense, "P1"))
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 2 || hist[0].Seq != 2 || hist[1].Seq != 4 {
		t.Errorf("P1 history %+v, want sequences 2 and 4 once each", hist)
	}

	// How the messages are split into batches does not matter.
	one := openStore(t, t.TempDir())
	for _, m := range msgs {
		apply(t, one, m)
	}
	if got := digest(t, one); got != want {
		t.Errorf("store fed one message per batch: digest %s, want %s", got, want)
	}
}

func TestApplySkipsAtOrBelowCheckpoint(t *testing.T) {
	st := basic(t)
	s := openStore(t, t.TempDir())
	apply(t, s, st.msgs[:3]...)
	want := digest(t, s)

	// Other valid messages that claim sequences already applied.
	other := newStream(t)
	other.seq = 1
	p9 := other.add("acme", "P9", events.LicenseCreated{ID: "P9", Kind: events.KindTrial, Products: []string{"openroads"},
		ValidFrom: t0, ValidUntil: t0.AddDate(0, 1, 0)})
	other.seq = 2
	bob := other.add("acme", "b@x.example", events.UserRegistered{Email: "b@x.example"})
	apply(t, s, p9, bob)
	if got := digest(t, s); got != want {
		t.Error("messages at or below the checkpoint changed the store")
	}
	if cp := s.Checkpoint(); cp != 3 {
		t.Errorf("checkpoint %d, want 3", cp)
	}
	if lic, _, _ := s.License("acme", "P9"); lic.Exists() {
		t.Error("licence P9 from sequence 2 was applied below the checkpoint")
	}

	// In one batch, the part above the checkpoint is applied.
	apply(t, s, st.msgs[1:]...)
	if cp := s.Checkpoint(); cp != 5 {
		t.Errorf("checkpoint %d, want 5", cp)
	}
	full := openStore(t, t.TempDir())
	apply(t, full, st.msgs...)
	if got, want := digest(t, s), digest(t, full); got != want {
		t.Errorf("store fed in overlapping batches differs from one fed once")
	}
}

func TestCheckpointSurvivesReopen(t *testing.T) {
	st := basic(t)
	dir := t.TempDir()
	s, err := projections.Open(dir, projections.Options{})
	if err != nil {
		t.Fatal(err)
	}
	apply(t, s, st.msgs[:4]...)
	want := digest(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(st.msgs[4:]); !errors.Is(err, projections.ErrClosed) {
		t.Errorf("Apply on a closed store: %v, want ErrClosed", err)
	}

	s = openStore(t, dir)
	if cp := s.Checkpoint(); cp != 4 {
		t.Fatalf("checkpoint after reopen %d, want 4", cp)
	}
	if got := digest(t, s); got != want {
		t.Errorf("digest after reopen %s, want %s", got, want)
	}
	// Resuming from the stream's start applies only what is new.
	apply(t, s, st.msgs...)
	full := openStore(t, t.TempDir())
	apply(t, full, st.msgs...)
	if got, want := digest(t, s), digest(t, full); got != want {
		t.Error("store resumed after reopen differs from one fed once")
	}
	u, _, err := s.User("acme", "a@x.example")
	if err != nil {
		t.Fatal(err)
	}
	if u.LicenseID != "P1" {
		t.Errorf("a@x.example license_id %q, want P1", u.LicenseID)
	}
}

func TestWaitFor(t *testing.T) {
	st := basic(t)
	s := openStore(t, t.TempDir())
	apply(t, s, st.msgs[:2]...)
	ctx := context.Background()

	if err := s.WaitFor(ctx, 2); err != nil {
		t.Errorf("WaitFor a reached sequence: %v", err)
	}

	done := make(chan error, 1)
	go func() { done <- s.WaitFor(ctx, 4) }()
	apply(t, s, st.msgs[2])
	select {
	case err := <-done:
		t.Fatalf("WaitFor(4) returned at checkpoint 3: %v", err)
	default:
	}
	apply(t, s, st.msgs[3])
	if err := <-done; err != nil {
		t.Errorf("WaitFor(4) after sequence 4 was applied: %v", err)
	}

	cctx, cancel := context.WithCancel(ctx)
	go func() { done <- s.WaitFor(cctx, 5) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("WaitFor with a cancelled context: %v, want context.Canceled", err)
	}
	dctx, dcancel := context.WithTimeout(ctx, time.Millisecond)
	defer dcancel()
	if err := s.WaitFor(dctx, 5); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitFor past its deadline: %v, want context.DeadlineExceeded", err)
	}

	go func() { done <- s.WaitFor(ctx, 99) }()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, projections.ErrClosed) {
		t.Errorf("WaitFor on a store that closed: %v, want ErrClosed", err)
	}
}

// rule H3: a batch with messages that do not decode, sit on the wrong
// subject or break their aggregate's hash chain applies everything else;
// the refused messages are listed as breaks, and the aggregate's version
// moves to them (the write side appends after them) while its hash stays
// that of its last valid event.
func TestBatchWithBreaksMidway(t *testing.T) {
	st := basic(t)
	p1 := events.Subject("acme", events.AggregateLicense, "P1")
	user := events.Subject("acme", events.AggregateUser, "a@x.example")
	p1Hash, userHash := events.Hash(st.msgs[3].Data), events.Hash(st.msgs[4].Data)

	garbage := st.raw(p1, []byte("not json"))
	forged := events.Event{ID: events.NewID(), Account: "acme", AggregateID: "a@x.example", OccurredAt: t0, RecordedAt: t0,
		Actor: "intruder", CommandID: events.NewID(), CorrelationID: "x", PrevHash: strings.Repeat("0", 64),
		Data: events.UserCountryChanged{Email: "a@x.example", EntitlementCountry: "FR", Previous: "DE"}}
	badChain := st.raw(user, st.marshal(forged))
	// A valid event of P2 stored on the account's subject.
	misplaced := events.Event{ID: events.NewID(), Account: "acme", AggregateID: "P2", OccurredAt: t0, RecordedAt: t0,
		Actor: "test", CommandID: events.NewID(), CorrelationID: "y",
		Data: events.LicenseCreated{ID: "P2", Kind: events.KindTrial, Products: []string{"openroads"}, ValidFrom: t0,
			ValidUntil: t0.AddDate(0, 1, 0)}}
	acct := events.Subject("acme", events.AggregateAccount, "acme")
	wrongSubject := st.raw(acct, st.marshal(misplaced))
	// The ledger's next events chain to the last valid ones.
	st.last[p1], st.last[user] = p1Hash, userHash
	renewed := st.add("acme", "P1", events.LicenseRenewed{ID: "P1", ValidUntil: t0.AddDate(3, 0, 0),
		PreviousValidUntil: t0.AddDate(2, 0, 0)})
	country := st.add("acme", "a@x.example", events.UserCountryChanged{Email: "a@x.example", EntitlementCountry: "AT", Previous: "DE"})

	s := openStore(t, t.TempDir())
	apply(t, s, st.msgs[:5]...)
	apply(t, s, garbage, badChain, wrongSubject)
	if cp := s.Checkpoint(); cp != wrongSubject.Seq {
		t.Fatalf("checkpoint %d, want %d: refused messages are consumed", cp, wrongSubject.Seq)
	}
	lic, v, _ := s.License("acme", "P1")
	if v.Seq != garbage.Seq || v.Hash != p1Hash {
		t.Errorf("P1 version %+v, want sequence %d (the break) with the hash of sequence 4", v, garbage.Seq)
	}
	if lic.Assignee != "a@x.example" {
		t.Errorf("P1 changed by garbage: %+v", lic)
	}
	u, v, _ := s.User("acme", "a@x.example")
	if v.Seq != badChain.Seq || v.Hash != userHash || u.EntitlementCountry != "DE" {
		t.Errorf("user %+v at %+v, want country DE at sequence %d with the hash of sequence 5", u, v, badChain.Seq)
	}
	if p2, _, _ := s.License("acme", "P2"); p2.Exists() {
		t.Error("an event stored on the wrong subject created licence P2")
	}
	breaks, err := s.Breaks()
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		seq     uint64
		subject string
		reason  string
	}{{garbage.Seq, p1, "undecodable"}, {badChain.Seq, user, "hash chain"}, {wrongSubject.Seq, acct, "stored on"}}
	if len(breaks) != len(want) {
		t.Fatalf("breaks %+v, want %d", breaks, len(want))
	}
	for i, w := range want {
		if b := breaks[i]; b.Seq != w.seq || b.Subject != w.subject || !strings.Contains(b.Reason, w.reason) {
			t.Errorf("break %d: %+v, want sequence %d on %s, reason with %q", i, b, w.seq, w.subject, w.reason)
		}
	}

	apply(t, s, renewed, country)
	if lic, _, _ := s.License("acme", "P1"); !lic.ValidUntil.Equal(t0.AddDate(3, 0, 0)) {
		t.Errorf("the renewal after the break was not applied: valid_until %s", lic.ValidUntil)
	}
	if u, _, _ := s.User("acme", "a@x.example"); u.EntitlementCountry != "AT" {
		t.Errorf("the country change after the break was not applied: %q", u.EntitlementCountry)
	}
	if b, _ := s.Breaks(); len(b) != len(want) {
		t.Errorf("breaks after valid events: %+v", b)
	}

	// The same messages in other batches give the same store.
	one := openStore(t, t.TempDir())
	for _, m := range st.msgs {
		apply(t, one, m)
	}
	if got, want := digest(t, one), digest(t, s); got != want {
		t.Error("a store fed message by message differs from one fed in batches")
	}
}
