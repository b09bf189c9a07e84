package projections_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/projections"
)

// licenceMsgs returns n license.created messages, one licence each, as the
// stream would hold them.
func licenceMsgs(tb testing.TB, n int) []projections.Msg {
	tb.Helper()
	t0 := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	out := make([]projections.Msg, n)
	for i := range out {
		id := "L-" + strconv.Itoa(i)
		e := events.Event{ID: events.NewID(), Account: "acme", AggregateID: id, OccurredAt: t0, RecordedAt: t0,
			Actor: "bench", CommandID: events.NewID(), CorrelationID: "bench",
			Data: events.LicenseCreated{ID: id, Kind: events.KindPractitioner, Products: []string{"microstation"},
				ValidFrom: t0, ValidUntil: t0.Add(365 * 24 * time.Hour)}}
		raw, err := events.Marshal(e)
		if err != nil {
			tb.Fatal(err)
		}
		out[i] = projections.Msg{Seq: uint64(i + 1), Subject: e.Subject(), Data: raw}
	}
	return out
}

// BenchmarkApply measures the projection write path without the stream:
// decode, fold and Pebble, 1024 events per batch.
func BenchmarkApply(b *testing.B) { benchApply(b, licenceMsgs(b, 20000), 1024) }

// benchApply applies msgs to a fresh store, batch messages at a time, per
// iteration, and reports events per second.
func benchApply(b *testing.B, msgs []projections.Msg, batch int) {
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		s, err := projections.Open(b.TempDir(), projections.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		for i := 0; i < len(msgs); i += batch {
			if err := s.Apply(msgs[i:min(i+batch, len(msgs))]); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(len(msgs)*b.N)/b.Elapsed().Seconds(), "events/s")
}

// usageMsgs returns n usage.recorded messages on one product's subject,
// chained as the ledger writes them, spread over 50 users, 200 machines and
// a day of start times.
func usageMsgs(tb testing.TB, n int) []projections.Msg { return usageMsgsIn(tb, n, nil) }

// usageMsgsIn is usageMsgs with user u's country countries[u mod len] (none
// when countries is nil), as the ledger records it (G9).
func usageMsgsIn(tb testing.TB, n int, countries []events.Country) []projections.Msg {
	tb.Helper()
	t0 := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	out := make([]projections.Msg, n)
	prev := ""
	for i := range out {
		start := t0.Add(time.Duration(i%1440) * time.Minute)
		id := "u-" + strconv.Itoa(i)
		e := events.Event{ID: events.DerivedID("usage", "acme", id), Account: "acme", AggregateID: "microstation",
			OccurredAt: start, RecordedAt: t0.Add(48 * time.Hour), Actor: "bench", CommandID: "cmd-" + strconv.Itoa(i/500),
			CorrelationID: "bench", PrevHash: prev,
			Data: events.UsageRecorded{UsageID: id, Email: "u" + strconv.Itoa(i%50) + "@acme.example", Product: "microstation",
				MachineID: "m" + strconv.Itoa(i%200), ClientVersion: "10.00.18.25", StartedAt: start, EndedAt: start.Add(45 * time.Minute),
				Classification: events.ClassPooled, Digest: events.Hash([]byte(id))}}
		if countries != nil {
			d := e.Data.(events.UsageRecorded)
			d.Country = countries[i%50%len(countries)]
			e.Data = d
		}
		raw, err := events.Marshal(e)
		if err != nil {
			tb.Fatal(err)
		}
		prev = events.Hash(raw)
		out[i] = projections.Msg{Seq: uint64(i + 1), Subject: e.Subject(), Data: raw}
	}
	return out
}

// BenchmarkApplyUsage measures the projection of usage events without the
// stream: decode, fold, indexes and Pebble, 500 events per batch.
func BenchmarkApplyUsage(b *testing.B) { benchApply(b, usageMsgs(b, 20000), 500) }

// BenchmarkApplyUsageCountries is BenchmarkApplyUsage with the users in four
// countries (G9): against it, what countries cost the projections.
func BenchmarkApplyUsageCountries(b *testing.B) {
	benchApply(b, usageMsgsIn(b, 20000, []events.Country{"DE", "FR", "US", "JP"}), 500)
}
