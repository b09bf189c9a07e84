package ledger

import (
	"crypto/ed25519"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/projections"
)

// DefaultMaxAttempts bounds how often a command is decided again after losing
// a race for an aggregate.
const DefaultMaxAttempts = 16

// DefaultUsageShards is how many subjects one product's usage is spread over
// (see events.UsageShardSubject). A process holds at most
// usageBatchesInFlight of them at once, so ledgers sharing a stream can keep
// to shards of their own.
const DefaultUsageShards = 64

// usageBatchesInFlight bounds the usage batches of one product that a process
// decides and appends at once; more wait for their turn. Each holds a shard.
const usageBatchesInFlight = 8

// Ledger is the write side: it decides commands against the projected state
// of their aggregates and appends the resulting events to the stream with
// optimistic concurrency. It is safe for concurrent use.
type Ledger struct {
	stream  jetstream.Stream
	commit  *committer
	store   *projections.Store
	signer  *events.Signer
	mac     *events.MAC
	cursors cursorKey // seals list cursors (cursor.go)
	now     func() time.Time
	logger  *slog.Logger
	metrics *metrics

	maxAttempts   int
	sessionTTL    time.Duration
	replayAnswers *replayAnswers
	checkoutKey   ed25519.PrivateKey
	usageHorizon  time.Duration
	exclusive     bool   // see Options.Exclusive
	startSeq      uint64 // the stream's last sequence when the ledger started
	// dedupeWindow is the stream's duplicate window: JetStream itself
	// refuses a message id seen this recently (0: unknown).
	dedupeWindow time.Duration
	// msgGetSubject asks the stream's leader for a message (onstream.go).
	msgGetSubject string

	usageAnswered usageAnswered // per account: the last usage batch answered (usage.go)
	lastAppended  lastAppended  // the last event appended to each usage subject (usagetips.go)
	ownAppends    ownAppends    // what this ledger appended that may not be applied yet
	checkQueues   subjectQueues // checks wait their turn per product (subjectqueue.go)
	usageShards   *usageShards  // the free usage shards of each product
	reports       reportCache   // computed QTL reports (billing.go)
	advice        adviceCache   // advice as of a sequence (advice.go)
	alertPause    time.Duration // see Options.AlertPause
	reminderPoll  time.Duration // see Options.ReminderPoll
	integrity     integrity     // the stream check's latest problems (integrity.go)
}

// Options configure New.
type Options struct {
	// Key makes every event's MAC and signs the last event of each subject
	// in each command (H3); nil writes unsigned events.
	Key         ed25519.PrivateKey
	Now         func() time.Time // the ledger's clock; defaults to time.Now
	Logger      *slog.Logger     // defaults to slog.Default()
	MaxAttempts int              // defaults to DefaultMaxAttempts
	SessionTTL  time.Duration    // defaults to commands.DefaultSessionTTL (D3)
	// UsageHorizon is how late usage may arrive (F3); defaults to
	// commands.DefaultUsageHorizon.
	UsageHorizon time.Duration
	// UsageShards is how many subjects each product's usage is spread over
	// (1 to events.MaxUsageShards); defaults to DefaultUsageShards. Ledgers
	// sharing a stream may use different numbers.
	UsageShards int
	// CheckoutKey signs offline checkout tokens (F6); nil refuses checkouts.
	CheckoutKey ed25519.PrivateKey
	// ReplayAnswers keeps the answers of Idempotency-Key requests that
	// appended nothing (see ReplayAnswersBucket); nil decides such replays
	// again.
	ReplayAnswers jetstream.KeyValue
	// Exclusive promises that no other process writes to the stream (an
	// embedded server without a listener). Usage decisions then need not
	// ask the stream for changes other ledgers acknowledged.
	Exclusive bool
	// Registerer gets the ledger's metrics; nil registers them nowhere.
	Registerer prometheus.Registerer
	// GroupsInFlight is how many group commits may be in flight at once;
	// 0 means 1 (see committer).
	GroupsInFlight int
	// AlertPause is the least time between two rounds of RunAlerter;
	// defaults to DefaultAlertPause.
	AlertPause time.Duration
	// ReminderPoll bounds how long RunReminders waits before it looks at
	// the clock again; defaults to DefaultReminderPoll. A test with a fake
	// clock sets it short.
	ReminderPoll time.Duration
}

// New returns a Ledger writing to stream through nc and reading state from
// store. The caller keeps store following the stream (projections.Follow);
// the ledger logs and counts the breaks the store records from then on.
func New(nc *nats.Conn, js jetstream.JetStream, stream jetstream.Stream, store *projections.Store, o Options) *Ledger {
	l := &Ledger{
		stream: stream, store: store, now: o.Now, logger: o.Logger, maxAttempts: o.MaxAttempts,
		commit:      &committer{app: &appender{nc: nc, js: js}, bigBatchSlots: make(chan struct{}, maxBigBatchesInFlight)},
		checkoutKey: o.CheckoutKey, exclusive: o.Exclusive,
		metrics: newMetrics(o.Registerer, stream, store),
	}
	l.commit.app.observe = l.metrics.observePublish
	if stream != nil {
		if info := stream.CachedInfo(); info != nil {
			l.dedupeWindow = info.Config.Duplicates
			l.startSeq = info.State.LastSeq
			l.msgGetSubject = msgGetSubject(js, info.Config.Name)
		}
	}
	l.commit.maxLeaders = max(o.GroupsInFlight, 1)
	if l.usageHorizon = o.UsageHorizon; l.usageHorizon <= 0 {
		l.usageHorizon = commands.DefaultUsageHorizon
	}
	shards := o.UsageShards
	if shards <= 0 {
		shards = DefaultUsageShards
	}
	l.usageShards = newUsageShards(min(shards, events.MaxUsageShards), usageBatchesInFlight)
	if o.ReplayAnswers != nil {
		l.replayAnswers = &replayAnswers{kv: o.ReplayAnswers}
	}
	if o.Key != nil {
		l.signer, l.mac = events.NewSigner(o.Key), events.NewMAC(o.Key)
	}
	l.cursors = newCursorKey(o.Key)
	if l.now == nil {
		l.now = time.Now
	}
	if l.logger == nil {
		l.logger = slog.Default()
	}
	if l.alertPause = o.AlertPause; l.alertPause <= 0 {
		l.alertPause = DefaultAlertPause
	}
	if l.reminderPoll = o.ReminderPoll; l.reminderPoll <= 0 {
		l.reminderPoll = DefaultReminderPoll
	}
	if l.maxAttempts <= 0 {
		l.maxAttempts = DefaultMaxAttempts
	}
	if l.sessionTTL = o.SessionTTL; l.sessionTTL <= 0 {
		l.sessionTTL = commands.DefaultSessionTTL
	}
	if store != nil {
		store.OnBreaks(l.reportEventBreaks)
	}
	return l
}

// Now is the ledger's clock.
func (l *Ledger) Now() time.Time { return l.now().UTC() }

// Store is the projection store the ledger reads from.
func (l *Ledger) Store() *projections.Store { return l.store }

// SessionTTL is how long a sign-in session lives without activity (D3).
func (l *Ledger) SessionTTL() time.Duration { return l.sessionTTL }

// EventKey is the public key that verifies the events' signatures, or nil
// when the ledger does not sign.
func (l *Ledger) EventKey() ed25519.PublicKey {
	if l.signer == nil {
		return nil
	}
	return l.signer.Public()
}

// CheckoutKey is the public key that verifies offline checkout tokens, or
// nil when the ledger has no checkout key.
func (l *Ledger) CheckoutKey() ed25519.PublicKey {
	if l.checkoutKey == nil {
		return nil
	}
	return l.checkoutKey.Public().(ed25519.PublicKey)
}

// Meta is the metadata of a command (H2).
type Meta struct {
	Actor       string // who issued it; "anonymous" when empty
	CommandID   string // stable id; a retried request with the same id appends nothing twice
	CommandHash string // digest of the request; a reused CommandID with another hash is rejected
	// SentHash, if set, is another digest that stands for this request
	// too: that of its bytes as sent, which ledgers recorded before keyed
	// requests were compared by their canonical JSON (CommandHash).
	SentHash      string
	CorrelationID string // defaults to CommandID
	CausationID   string
	// FromIdempotencyKey marks a command whose id comes from a client's
	// Idempotency-Key: an answer that appends nothing is kept, so that a
	// replay answers it again.
	FromIdempotencyKey bool
}

// sameRequest reports whether hash, recorded for meta's command id, is the
// digest of this request.
func (m Meta) sameRequest(hash string) bool {
	return hash == m.CommandHash || (m.SentHash != "" && hash == m.SentHash)
}

// withDefaults fills in the command id, actor and correlation id.
func (m Meta) withDefaults() Meta {
	if m.CommandID == "" {
		m.CommandID = events.NewID()
	}
	if m.Actor == "" {
		m.Actor = "anonymous"
	}
	if m.CorrelationID == "" {
		m.CorrelationID = m.CommandID
	}
	return m
}
