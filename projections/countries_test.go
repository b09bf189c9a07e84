package projections_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/entledger/ledger/billing"
	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/projections"
)

// asVersion1 rewrites an encoded usage.recorded or license.created of
// version 2 without a country as the version 1 event a ledger wrote before
// countries.
func asVersion1(tb testing.TB, raw []byte) []byte {
	tb.Helper()
	v1 := bytes.Replace(raw, []byte(`"schemaversion":2`), []byte(`"schemaversion":1`), 1)
	v1 = bytes.Replace(v1, []byte(`,"country":null}`), []byte(`}`), 1)
	if bytes.Equal(v1, raw) || bytes.Contains(v1, []byte(`"country"`)) {
		tb.Fatalf("not a version 2 event without a country: %s", raw)
	}
	return v1
}

// rule G9: a stream written before countries (usage.recorded and
// license.created of version 1) reads as country null, served by global
// seats: billing reads the same records and licences, and reports the same
// bytes, as from the same events written today without countries.
func TestRuleG9Version1StreamReadsAsNoCountry(t *testing.T) {
	q := billing.Period{Year: 2026, Quarter: 1}
	build := func(v1 bool) *projections.Store {
		s := newStream(t)
		add := func(account, id string, d events.Data) {
			m := s.add(account, id, d)
			if v1 && (d.EventType() == events.TypeUsageRecorded || d.EventType() == events.TypeLicenseCreated) {
				s.msgs = s.msgs[:len(s.msgs)-1]
				s.seq--
				s.raw(m.Subject, asVersion1(t, m.Data))
			}
		}
		add("acme", "acme", events.AccountCreated{ID: "acme", Name: "Acme", FulfillmentContacts: []string{"o@acme.example"},
			Admins: []string{"o@acme.example"}})
		add("acme", "C1", events.LicenseCreated{ID: "C1", Kind: events.KindCommercial, Products: []string{"microstation"}, Seats: 1,
			ValidFrom: q.Start(), ValidUntil: q.End()})
		for i, m := range []string{"m1", "m2", "m3"} {
			start := t0.Add(time.Duration(i) * time.Minute).Truncate(billing.Interval)
			add("acme", "microstation", events.UsageRecorded{UsageID: "u" + m, Email: "b@x.example", Product: "microstation",
				MachineID: m, ClientVersion: "10.00.18.25", StartedAt: start, EndedAt: start.Add(time.Hour),
				Classification: events.ClassPooled, LicenseID: "C1", Digest: events.Hash([]byte(m))})
		}
		st := openStore(t, t.TempDir())
		apply(t, st, s.msgs...)
		return st
	}
	report := func(st *projections.Store) []byte {
		records, err := st.PooledUsage("acme", "microstation", q.Start(), q.End(), 0)
		if err != nil {
			t.Fatal(err)
		}
		lics, err := st.CommercialLicences("acme", "microstation", 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range records {
			if r.Country != "" {
				t.Errorf("record %s reads with country %q, want none", r.UsageID, r.Country)
			}
		}
		for _, l := range lics {
			if l.Country != "" {
				t.Errorf("licence %s reads with country %q, want global", l.ID, l.Country)
			}
		}
		line, seq := billing.Peak("microstation", records, lics, q)
		b, _ := json.Marshal(line)
		return append(b, byte('0'+seq))
	}
	old, now := report(build(true)), report(build(false))
	if !bytes.Equal(old, now) {
		t.Errorf("version 1 stream: %s\ntoday's: %s", old, now)
	}
	if want := `{"product":"microstation","peak_interval":"2026-01-05T00:00:00Z","peak_count":3,"seats":1,"units":2,"machines":["m1","m2","m3"]}5`; string(now) != want {
		t.Errorf("report %s, want %s", now, want)
	}
}

// rule G11: a pooled record is the leak when its email held, at its
// started_at, a practitioner licence active then and covering the product,
// and its client was older than 10.00.18 (F4). The index says so from the
// user and the licence as the events before it made them.
func TestRuleG11LeakFlag(t *testing.T) {
	s := basic(t) // P1 (microstation, active from a year before t0) assigned to a@x.example at t0
	use := func(id, product, version string, start time.Time) {
		s.add("acme", product, events.UsageRecorded{UsageID: id, Email: "a@x.example", Product: product, MachineID: "m-" + id,
			ClientVersion: version, StartedAt: start, EndedAt: start.Add(time.Hour), Classification: events.ClassPooled,
			Digest: events.Hash([]byte(id)), Country: "DE"})
	}
	use("leak", "microstation", "10.00.17.99", t0.Add(time.Hour))
	use("before", "microstation", "10.00.17.99", t0.Add(-time.Hour))
	use("new-client", "microstation", "10.00.18", t0.Add(time.Hour))
	use("other-product", "revit", "9.1", t0.Add(time.Hour))
	st := openStore(t, t.TempDir())
	apply(t, st, s.msgs...)
	for product, want := range map[string]map[string]bool{
		"microstation": {"leak": true, "before": false, "new-client": false}, "revit": {"other-product": false},
	} {
		recs, err := st.PooledUsage("acme", product, t0.Add(-24*time.Hour), t0.Add(24*time.Hour), 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != len(want) {
			t.Fatalf("%s: %d records, want %d", product, len(recs), len(want))
		}
		for _, r := range recs {
			if r.Leak != want[r.UsageID] || r.Email != "a@x.example" || r.Country != "DE" {
				t.Errorf("%s: leak %v email %q country %q, want leak %v", r.UsageID, r.Leak, r.Email, r.Country, want[r.UsageID])
			}
		}
	}
}
