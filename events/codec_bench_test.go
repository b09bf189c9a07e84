package events_test

import (
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/entledger/ledger/events"
)

// usageEvent is a typical usage.recorded event, the ledger's most frequent.
func usageEvent() events.Event {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	return events.Event{ID: events.DerivedID("usage", "acme", "u-1"), Account: "acme", AggregateID: "microstation",
		OccurredAt: t0, RecordedAt: t0.Add(time.Hour), Actor: "importer", CommandID: events.NewID(), CorrelationID: "c-1",
		PrevHash: events.Hash([]byte("previous")),
		Data: events.UsageRecorded{UsageID: "u-1", Email: "ana@acme.example", Product: "microstation", MachineID: "WS-0042",
			ClientVersion: "10.00.18.25", StartedAt: t0, EndedAt: t0.Add(45 * time.Minute),
			Classification: events.ClassPooled, Digest: events.Hash([]byte("record"))}}
}

func BenchmarkMarshalUsage(b *testing.B) {
	e := usageEvent()
	for b.Loop() {
		if _, err := events.Marshal(e); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnmarshalUsage(b *testing.B) {
	raw, err := events.Marshal(usageEvent())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := events.Unmarshal(raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSignUsage(b *testing.B) {
	raw, _ := events.Marshal(usageEvent())
	_, key, _ := ed25519.GenerateKey(nil)
	s := events.NewSigner(key)
	for b.Loop() {
		s.Sign("ledger.acme.usage.microstation", raw)
	}
}

func BenchmarkMACUsage(b *testing.B) {
	raw, _ := events.Marshal(usageEvent())
	_, key, _ := ed25519.GenerateKey(nil)
	m := events.NewMAC(key)
	for b.Loop() {
		m.Tag("ledger.acme.usage.microstation", raw)
	}
}
