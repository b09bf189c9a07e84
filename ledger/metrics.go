package ledger

import (
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/projections"
)

// metrics are the ledger's Prometheus instruments. They live in a registry
// the caller owns, never in the global one.
type metrics struct {
	commands        *prometheus.CounterVec
	duration        *prometheus.HistogramVec
	conflicts       prometheus.Counter
	integrityBreaks *prometheus.CounterVec
	opsMetrics
}

// Kinds of integrity break counted in ledger_integrity_breaks_total.
const (
	// IntegrityEvent: an event the projections did not apply (H3): not
	// written by the ledger, undecodable, on the wrong subject or breaking
	// its aggregate's hash chain (projections.Store.Breaks).
	IntegrityEvent = "event"

	// IntegrityReplayAnswer: an entry of the replay-answers bucket the
	// ledger did not keep (ReplayAnswersBucket).
	IntegrityReplayAnswer = "replay_answer"
	// IntegrityStream: the stream's configuration or state no longer keeps
	// the ledger's guarantees (messages deleted, a limit set; see
	// server.CheckStream).
	IntegrityStream = "stream"
)

// newMetrics creates the instruments and registers them on reg (nil: not
// registered anywhere, for tests and library use).
func newMetrics(reg prometheus.Registerer, stream jetstream.Stream, store *projections.Store) *metrics {
	m := &metrics{
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ledger_commands_total",
			Help: "Commands handled, by command and outcome (ok, or the rejection code, or error).",
		}, []string{"command", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ledger_command_duration_seconds",
			Help:    "Time from receiving a command to its effect being readable.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}, []string{"command"}),
		conflicts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ledger_append_conflicts_total",
			Help: "Appends rejected by the expected-last-subject-sequence check and decided again.",
		}),
		integrityBreaks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ledger_integrity_breaks_total",
			Help: "Integrity breaks found, by kind: event (an event the projections did not apply: forged, replayed, out of order, undecodable), replay_answer (a forged or damaged replay answer), stream (the stream lost messages or its guarantees).",
		}, []string{"kind"}),
		opsMetrics: newOpsMetrics(reg, stream, store),
	}
	for _, kind := range []string{IntegrityEvent, IntegrityReplayAnswer, IntegrityStream} {
		m.integrityBreaks.WithLabelValues(kind) // exported at 0 before the first
	}
	if reg != nil {
		reg.MustRegister(m.commands, m.duration, m.conflicts, m.integrityBreaks,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "ledger_projection_checkpoint",
				Help: "Stream sequence of the last event applied to the projections.",
			}, func() float64 { return float64(store.Checkpoint()) }))
	}
	return m
}

// observeCommand counts one command of name that started at start and ended
// with err.
func (m *metrics) observeCommand(name string, start time.Time, err error) {
	outcome := "ok"
	if err != nil {
		outcome = commands.CodeOf(err)
		if outcome == "" {
			outcome = "error"
		}
	}
	m.commands.WithLabelValues(name, outcome).Inc()
	m.duration.WithLabelValues(name).Observe(time.Since(start).Seconds())
	m.raceLost.WithLabelValues(name) // exported at 0 from the command's first run
	m.retries.WithLabelValues(name)
}

// integrityBreak counts one integrity break of kind.
func (m *metrics) integrityBreak(kind string) { m.integrityBreaks.WithLabelValues(kind).Inc() }

// CountIntegrityBreak counts, in ledger_integrity_breaks_total, one
// integrity break of kind that the caller found and logged (the server's
// stream check counts IntegrityStream; the ledger counts IntegrityEvent
// itself, see reportEventBreaks).
func (l *Ledger) CountIntegrityBreak(kind string) { l.metrics.integrityBreak(kind) }
