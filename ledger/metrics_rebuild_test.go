package ledger_test

import (
	"context"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/entledger/ledger/server"
)

// lastLook is a real registry that gathers itself before a collector
// leaves it: what a scrape at the end of a rebuild would have seen.
type lastLook struct {
	*prometheus.Registry
	mu   sync.Mutex
	seen map[string]float64 // by metric name
	err  error
}

// Unregister gathers the registry, then unregisters c.
func (r *lastLook) Unregister(c prometheus.Collector) bool {
	mfs, err := r.Gather()
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.err = err
	}
	for _, mf := range mfs {
		if ms := mf.GetMetric(); len(ms) == 1 {
			r.seen[mf.GetName()] = ms[0].GetGauge().GetValue()
		}
	}
	return r.Registry.Unregister(c)
}

// RebuildProjections reports its progress on cfg.Registerer while it runs:
// at its end the rebuild's checkpoint has reached its target, the stream's
// last sequence; afterwards the gauges are gone.
func TestMetricsRebuildProgress(t *testing.T) {
	dir := t.TempDir()
	tl := startLedger(t, dir, nil)
	tl.setup()
	tl.waitReady()
	last := tl.srv.Store().Checkpoint()
	tl.stop()
	reg := &lastLook{Registry: prometheus.NewRegistry(), seen: map[string]float64{}}
	if _, err := server.RebuildProjections(context.Background(), server.Config{DataDir: dir, Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	if reg.err != nil {
		t.Fatal(reg.err)
	}
	for _, name := range []string{"ledger_rebuild_target_sequence", "ledger_rebuild_checkpoint"} {
		if got, ok := reg.seen[name]; !ok || got != float64(last) {
			t.Errorf("%s at the rebuild's end: %v (reported %v), want %d", name, got, ok, last)
		}
	}
	if mfs, err := reg.Gather(); err != nil || len(mfs) != 0 {
		t.Errorf("after the rebuild the registry holds %d families (%v), want none", len(mfs), err)
	}
}
