package projections

import (
	"testing"
	"time"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
)

// The binary values of a usage id and a day's totals decode to what was
// encoded, and a truncated or padded value is an error, never a silent zero.
func TestUsageValueCodec(t *testing.T) {
	t0 := time.Date(2026, 3, 31, 23, 55, 0, 123, time.UTC)
	k := commands.KnownUsage{Digest: "d1", Classification: events.ClassPooled, LicenseID: "L-1", CommandID: "c",
		Product: "microstation", Email: "ana@acme.example", MachineID: "m-1", StartedAt: t0, EndedAt: t0.Add(time.Hour),
		Seq: 1 << 40, VoidedSeq: 7, Country: "DE", Leak: true}
	raw := appendKnown(nil, k)
	got, err := decodeKnown(raw)
	if err != nil || got != k {
		t.Fatalf("decodeKnown = %+v, %v; want %+v", got, err, k)
	}
	for _, bad := range [][]byte{raw[:len(raw)-1], append(append([]byte{}, raw...), 0), {0xff}} {
		if _, err := decodeKnown(bad); err == nil {
			t.Errorf("decodeKnown(%x) accepted a damaged value", bad)
		}
	}
	// rules G9, G11: a pooled record's value carries its country and email.
	v := pooledUsageValue(5, t0, 0, flagLeak, "DE", "ana@acme.example", "m-1")
	if c, e, m, ok := pooledUsageFields(v); !ok || string(c) != "DE" || string(e) != "ana@acme.example" || string(m) != "m-1" {
		t.Fatalf("pooledUsageFields = %q %q %q %v", c, e, m, ok)
	}
	if c, e, m, ok := pooledUsageFields(pooledUsageValue(5, t0, 0, 0, "", "a@b.c", "m")); !ok || len(c) != 0 || string(e) != "a@b.c" || string(m) != "m" {
		t.Fatalf("no country: %q %q %q %v", c, e, m, ok)
	}
	for _, bad := range [][]byte{v[:24], v[:26], v[:27]} {
		if _, _, _, ok := pooledUsageFields(bad); ok {
			t.Errorf("pooledUsageFields(%x) accepted a damaged value", bad)
		}
	}
	tot := UsageTotals{Sessions: 3, Seconds: -1, Users: 2, Machines: 1}
	if got, err := decodeTotals(appendTotals(nil, tot)); err != nil || got != tot {
		t.Fatalf("decodeTotals = %+v, %v; want %+v", got, err, tot)
	}
	if _, err := decodeTotals(appendTotals(nil, tot)[:3]); err == nil {
		t.Error("decodeTotals accepted a truncated value")
	}
}
