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
func BenchmarkApply(b *testing.B) {
	msgs := licenceMsgs(b, 20000)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		s, err := projections.Open(b.TempDir(), projections.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		for i := 0; i < len(msgs); i += 1024 {
			if err := s.Apply(msgs[i:min(i+1024, len(msgs))]); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(len(msgs)*b.N)/b.Elapsed().Seconds(), "events/s")
}
