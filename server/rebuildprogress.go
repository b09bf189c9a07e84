package server

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/entledger/ledger/projections"
)

// rebuildProgress are the gauges of a running rebuild: the sequence it
// replays up to and the one it has reached.
type rebuildProgress struct {
	target     prometheus.Gauge
	checkpoint prometheus.GaugeFunc
	store      atomic.Pointer[projections.Store]
}

// newRebuildProgress creates the gauges and registers them on reg.
func newRebuildProgress(reg prometheus.Registerer) (*rebuildProgress, error) {
	p := &rebuildProgress{
		target: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ledger_rebuild_target_sequence",
			Help: "The stream's last sequence when the running rebuild started: the sequence it replays up to.",
		}),
	}
	p.checkpoint = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ledger_rebuild_checkpoint",
		Help: "Stream sequence of the last event the running rebuild applied to the new projections.",
	}, func() float64 {
		if s := p.store.Load(); s != nil {
			return float64(s.Checkpoint())
		}
		return 0
	})
	for _, c := range []prometheus.Collector{p.target, p.checkpoint} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("server: rebuild metrics: %w", err)
		}
	}
	return p, nil
}

// unregister removes the gauges from reg once the rebuild is over.
func (p *rebuildProgress) unregister(reg prometheus.Registerer) {
	reg.Unregister(p.target)
	reg.Unregister(p.checkpoint)
}

// buildWithProgress is projections.Build reporting its progress on reg
// (nil: nowhere) while it runs.
func buildWithProgress(ctx context.Context, stream jetstream.Stream, identity, dir string, opts projections.Options, reg prometheus.Registerer) (*projections.Store, error) {
	if reg == nil {
		return projections.Build(ctx, stream, identity, dir, opts)
	}
	p, err := newRebuildProgress(reg)
	if err != nil {
		return nil, err
	}
	defer p.unregister(reg)
	info, err := stream.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("projections: build: stream info: %w", err)
	}
	s, err := projections.Open(dir, opts)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*projections.Store, error) { s.Close(); return nil, err }
	if s.Checkpoint() != 0 {
		return fail(fmt.Errorf("projections: build: %s is not empty", dir))
	}
	if err := s.Bind(identity, info.State.LastSeq); err != nil {
		return fail(err)
	}
	p.target.Set(float64(info.State.LastSeq))
	p.store.Store(s)
	if err := s.CatchUp(ctx, stream, info.State.LastSeq); err != nil {
		return fail(err)
	}
	return s, nil
}
