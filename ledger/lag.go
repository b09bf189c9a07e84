package ledger

import (
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/entledger/ledger/projections"
)

// lagTracker measures how far the projections are behind the stream
// without asking the stream at scrape time. The stream's last sequence is
// the highest of: what this ledger appended (noteAppended), the stream
// information cached by the last Stream.Info anyone made on the ledger's
// stream handle (the server's stream check every minute, /readyz, the
// catch-up before a retry), and the checkpoint itself.
//
// The lag in seconds is how long the projections have been behind without
// applying anything: 0 when caught up, otherwise the time since the later
// of the checkpoint's last move and the moment the tracker first saw the
// stream ahead of it. A follower that applies steadily but stays behind
// shows a small value and a large lag in events; a stuck one shows a value
// that grows with the clock.
type lagTracker struct {
	stream jetstream.Stream
	store  *projections.Store
	now    func() time.Time // the wall clock: lag is an operational time, never the ledger's business clock

	mu       sync.Mutex
	appended uint64    // the highest sequence this ledger appended
	seenCP   uint64    // the checkpoint at the last look
	movedAt  time.Time // when seenCP was first seen
	behind   bool      // the stream was ahead at the last look
	since    time.Time // when the stream was first seen ahead of seenCP
}

// register exports the tracker's gauges on reg.
func (t *lagTracker) register(reg prometheus.Registerer) {
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ledger_stream_last_sequence",
			Help: "The stream's last sequence as this ledger knows it (its own appends and the latest cached stream info; no stream round trip per scrape).",
		}, func() float64 { tip, _, _ := t.look(); return float64(tip) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ledger_projection_lag_events",
			Help: "Events the stream holds that the projections have not applied: ledger_stream_last_sequence minus ledger_projection_checkpoint.",
		}, func() float64 { tip, cp, _ := t.look(); return float64(tip - cp) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ledger_projection_lag_seconds",
			Help: "How long the projections have been behind the stream without applying an event: 0 when caught up, else the time since the later of the checkpoint's last move and the stream being first seen ahead.",
		}, func() float64 { _, _, d := t.look(); return d.Seconds() }),
	)
}

// noteAppended records that the stream holds sequence seq.
func (t *lagTracker) noteAppended(seq uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.appended = max(t.appended, seq)
}

// look returns the stream's last known sequence, the checkpoint, and how
// long the projections have been behind without moving.
func (t *lagTracker) look() (tip, cp uint64, stalled time.Duration) {
	cp = t.store.Checkpoint()
	var cached uint64
	if t.stream != nil {
		if info := t.stream.CachedInfo(); info != nil {
			cached = info.State.LastSeq
		}
	}
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	tip = max(t.appended, cached, cp)
	if cp != t.seenCP || t.movedAt.IsZero() {
		t.seenCP, t.movedAt = cp, now
	}
	switch {
	case tip <= cp:
		t.behind = false
		return tip, cp, 0
	case !t.behind:
		t.behind, t.since = true, now
	}
	return tip, cp, now.Sub(later(t.movedAt, t.since))
}

// later is the later of a and b.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// ProjectionLag is how many events the stream holds, as far as the ledger
// knows without asking it, that the projections have not applied
// (ledger_projection_lag_events).
func (l *Ledger) ProjectionLag() uint64 {
	tip, cp, _ := l.metrics.lag.look()
	return tip - cp
}
