package ledger

import (
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/projections"
)

// opsMetrics are the instruments an operator alerts on (docs/operations.md,
// "Metrics"): projection lag, lost races by command, what the ledger
// recorded and raised, and JetStream's publish latency.
type opsMetrics struct {
	raceLost  *prometheus.CounterVec   // ledger_command_conflicts_total{command}
	retries   *prometheus.CounterVec   // ledger_command_retries_total{command}
	usage     *prometheus.CounterVec   // ledger_usage_records_total{classification}
	alerts    prometheus.Counter       // ledger_threshold_alerts_total
	reminders prometheus.Counter       // ledger_unassigned_reminders_total
	publish   *prometheus.HistogramVec // ledger_jetstream_publish_duration_seconds{kind}
	lag       *lagTracker
}

// Kinds of publish in ledger_jetstream_publish_duration_seconds.
const (
	publishSingle = "single" // one event, a JetStream publish
	publishBatch  = "batch"  // several events, one atomic batch
)

// newOpsMetrics creates the operator's instruments and registers them on
// reg (nil: nowhere).
func newOpsMetrics(reg prometheus.Registerer, stream jetstream.Stream, store *projections.Store) opsMetrics {
	m := opsMetrics{
		raceLost: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ledger_command_conflicts_total",
			Help: "Appends of a command that lost an optimistic-concurrency race (another writer changed an aggregate, or the command's message was already stored), by command.",
		}, []string{"command"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ledger_command_retries_total",
			Help: "Commands decided again after a lost race, by command (a lost race past the last attempt is answered conflict, not retried).",
		}, []string{"command"}),
		usage: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ledger_usage_records_total",
			Help: "Usage records appended, by classification (pooled, practitioner, trial), counted when JetStream holds them.",
		}, []string{"classification"}),
		alerts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ledger_threshold_alerts_total",
			Help: "threshold.exceeded events this ledger appended.",
		}),
		reminders: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ledger_unassigned_reminders_total",
			Help: "license.unassigned_reminder events this ledger appended.",
		}),
		publish: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ledger_jetstream_publish_duration_seconds",
			Help:    "Time from publishing an append to JetStream's answer (the ack, or the batch's commit reply), by kind (single, batch).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}, []string{"kind"}),
		lag: &lagTracker{stream: stream, store: store, now: time.Now},
	}
	for _, class := range []string{events.ClassPooled, events.ClassPractitioner, events.ClassTrial} {
		m.usage.WithLabelValues(class) // exported at 0 before the first
	}
	for _, kind := range []string{publishSingle, publishBatch} {
		m.publish.WithLabelValues(kind)
	}
	if reg != nil {
		reg.MustRegister(m.raceLost, m.retries, m.usage, m.alerts, m.reminders, m.publish)
		m.lag.register(reg)
	}
	return m
}

// countAppended counts what JetStream now holds of evs: usage records by
// classification, alerts and reminders.
func (m *opsMetrics) countAppended(evs []events.Event) {
	for _, e := range evs {
		switch d := e.Data.(type) {
		case events.UsageRecorded:
			m.usage.WithLabelValues(d.Classification).Inc()
		case events.ThresholdExceeded:
			m.alerts.Inc()
		case events.UnassignedReminder:
			m.reminders.Inc()
		}
	}
}

// lostRace counts a lost race of command, and its retry unless it was the
// last attempt.
func (m *opsMetrics) lostRace(command string, retried bool) {
	m.raceLost.WithLabelValues(command).Inc()
	if retried {
		m.retries.WithLabelValues(command).Inc()
	}
}

// observePublish records how long JetStream took to answer a publish of n
// messages that started at start.
func (m *opsMetrics) observePublish(n int, start time.Time) {
	kind := publishSingle
	if n > 1 {
		kind = publishBatch
	}
	m.publish.WithLabelValues(kind).Observe(time.Since(start).Seconds())
}
