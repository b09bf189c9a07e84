package ledger

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/projections"
)

// DefaultMaxAttempts bounds how often a command is decided again after losing
// a race for an aggregate.
const DefaultMaxAttempts = 16

// Ledger is the write side: it decides commands against the projected state
// of their aggregates and appends the resulting events to the stream with
// optimistic concurrency. It is safe for concurrent use.
type Ledger struct {
	stream  jetstream.Stream
	commit  *committer
	store   *projections.Store
	signer  *events.Signer
	mac     *events.MAC
	now     func() time.Time
	logger  *slog.Logger
	metrics *metrics

	maxAttempts  int
	sessionTTL   time.Duration
	answers      *answers
	checkoutKey  ed25519.PrivateKey
	usageHorizon time.Duration
	exclusive    bool   // see Options.Exclusive
	startSeq     uint64 // the stream's last sequence when the ledger started
	// dedupeWindow is the stream's duplicate window: JetStream itself
	// refuses a message id seen this recently (0: unknown).
	dedupeWindow time.Duration
	// usageSeq is the stream sequence of the last usage batch this ledger
	// acknowledged. Usage is answered without waiting for the projections;
	// whatever reads what usage changes waits for this sequence instead
	// (awaitUsage), so reads still follow the writes they come after.
	usageSeq atomic.Uint64
	tips     tips    // the usage subjects' tips (tips.go)
	own      ownSeqs // what this ledger appended that may not be applied yet
	lanes    lanes   // per-subject queues for busy subjects (lanes.go)
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
	// CheckoutKey signs offline checkout tokens (F6); nil refuses checkouts.
	CheckoutKey ed25519.PrivateKey
	// Answers keeps rejected answers of Idempotency-Key requests (see
	// AnswersBucket); nil decides such replays again.
	Answers jetstream.KeyValue
	// Exclusive promises that no other process writes to the stream (an
	// embedded server without a listener). Usage decisions then need not
	// ask the stream for changes other ledgers acknowledged.
	Exclusive bool
	metrics   *metrics
}

// New returns a Ledger writing to stream through nc and reading state from
// store. The caller keeps store following the stream (projections.Follow).
func New(nc *nats.Conn, js jetstream.JetStream, stream jetstream.Stream, store *projections.Store, o Options) *Ledger {
	l := &Ledger{
		stream: stream, commit: &committer{app: &appender{nc: nc, js: js}, alone: make(chan struct{}, maxAloneInFlight)}, store: store,
		now: o.Now, logger: o.Logger, metrics: o.metrics, maxAttempts: o.MaxAttempts,
	}
	l.checkoutKey, l.exclusive = o.CheckoutKey, o.Exclusive
	if stream != nil {
		if info := stream.CachedInfo(); info != nil {
			l.dedupeWindow = info.Config.Duplicates
			// Usage acknowledged before a restart may not be applied yet:
			// reads that depend on usage wait for what the stream held at
			// start (see awaitUsage).
			l.usageSeq.Store(info.State.LastSeq)
			l.startSeq = info.State.LastSeq
		}
	}
	if l.usageHorizon = o.UsageHorizon; l.usageHorizon <= 0 {
		l.usageHorizon = commands.DefaultUsageHorizon
	}
	if o.Answers != nil {
		l.answers = &answers{kv: o.Answers}
	}
	if o.Key != nil {
		l.signer, l.mac = events.NewSigner(o.Key), events.NewMAC(o.Key)
	}
	if l.now == nil {
		l.now = time.Now
	}
	if l.logger == nil {
		l.logger = slog.Default()
	}
	if l.metrics == nil {
		l.metrics = newMetrics(nil, store)
	}
	if l.maxAttempts <= 0 {
		l.maxAttempts = DefaultMaxAttempts
	}
	if l.sessionTTL = o.SessionTTL; l.sessionTTL <= 0 {
		l.sessionTTL = commands.DefaultSessionTTL
	}
	return l
}

// Now is the ledger's clock.
func (l *Ledger) Now() time.Time { return l.now().UTC() }

// Store is the projection store the ledger reads from.
func (l *Ledger) Store() *projections.Store { return l.store }

// Meta is the metadata of a command (H2).
type Meta struct {
	Actor         string // who issued it; "anonymous" when empty
	CommandID     string // stable id; a retried request with the same id appends nothing twice
	CommandHash   string // digest of the request; a reused CommandID with another hash is rejected
	CorrelationID string // defaults to CommandID
	CausationID   string
	// Keyed marks a command whose id comes from a client's Idempotency-Key:
	// its rejection is recorded, so a replay answers it again.
	Keyed bool
}

// loader reads aggregate states for a decision and remembers the version of
// each, which becomes the expected last subject sequence of the append.
type loader struct {
	store    *projections.Store
	versions map[string]projections.Version
	err      error
}

func load[T any](ld *loader, subject string) T {
	st, v, err := projections.Load[T](ld.store, subject)
	if err != nil && ld.err == nil {
		ld.err = err
	}
	ld.versions[subject] = v
	return st
}

// decideFunc loads what a command needs through ld and decides at now.
type decideFunc func(ld *loader, now time.Time) ([]events.Event, error)

// execute runs the load → decide → append loop of one command and returns
// the state of its primary aggregate (the subject of its first event, or
// primary when the command changes nothing) once the projections show it.
func (l *Ledger) execute(ctx context.Context, name string, meta Meta, primary string, decide decideFunc) (json.RawMessage, time.Time, error) {
	start := time.Now()
	state, at, _, err := l.executeOnce(ctx, meta, primary, false, decide)
	l.metrics.observeCommand(name, start, err)
	return state, at, err
}

// executeUsage is execute for a usage batch: it neither waits for the
// usage acknowledged before it (RecordUsage needs none of it projected) nor
// for its own events to be projected, and it returns no state. decided
// reports whether the answer is the last decision of decide (its events
// landed, or there were none); otherwise the command had landed before
// (a replay, or an earlier attempt whose acknowledgement was lost) and the
// caller answers from what it recorded.
func (l *Ledger) executeUsage(ctx context.Context, meta Meta, primary string, decide decideFunc) (decided bool, err error) {
	start := time.Now()
	_, _, decided, err = l.executeOnce(ctx, meta, primary, true, decide)
	l.metrics.observeCommand("record_usage", start, err)
	return decided, err
}

// awaitUsage waits until the projections show every usage batch this ledger
// has acknowledged.
func (l *Ledger) awaitUsage(ctx context.Context) error {
	if seq := l.usageSeq.Load(); seq > 0 {
		return l.store.WaitFor(ctx, seq)
	}
	return nil
}

// noteUsage records that the usage batch ending at seq was acknowledged.
func (l *Ledger) noteUsage(seq uint64) {
	for {
		cur := l.usageSeq.Load()
		if seq <= cur || l.usageSeq.CompareAndSwap(cur, seq) {
			return
		}
	}
}

// executeOnce returns the primary aggregate's state and the ledger's clock
// when the command was decided (for a replay: when it was first decided).
// A usage command (see executeUsage) returns no state.
func (l *Ledger) executeOnce(ctx context.Context, meta Meta, primary string, usage bool, decide decideFunc) (state json.RawMessage, at time.Time, decided bool, err error) {
	if !usage {
		// Decisions read what usage changes (a session kept alive by it,
		// D3): they see every batch acknowledged before them.
		if err := l.awaitUsage(ctx); err != nil {
			return nil, time.Time{}, false, err
		}
	}
	if meta.CommandID == "" {
		meta.CommandID = events.NewID()
	}
	if meta.Actor == "" {
		meta.Actor = "anonymous"
	}
	if meta.CorrelationID == "" {
		meta.CorrelationID = meta.CommandID
	}
	for attempt := 1; ; attempt++ {
		// A command that already landed (a replayed Idempotency-Key, or an
		// append whose acknowledgement was lost) answers as it did the first time.
		if res, ok, err := l.store.Command(meta.CommandID); err != nil {
			return nil, time.Time{}, false, err
		} else if ok {
			if res.Hash != meta.CommandHash {
				return nil, time.Time{}, false, commands.Reject(commands.CodeIdempotencyKeyReused,
					"this Idempotency-Key was already used with a different request")
			}
			return res.State, res.RecordedAt, false, nil
		}
		if meta.Keyed && attempt == 1 {
			rej, err := l.answers.lookup(ctx, meta.CommandID)
			if err != nil {
				return nil, time.Time{}, false, err
			}
			if rej != nil {
				if rej.Hash != meta.CommandHash {
					return nil, time.Time{}, false, commands.Reject(commands.CodeIdempotencyKeyReused,
						"this Idempotency-Key was already used with a different request")
				}
				if rej.Code == "" { // it changed nothing: the same answer again
					if string(rej.State) == "null" {
						return nil, rej.DecidedAt, false, nil
					}
					return rej.State, rej.DecidedAt, false, nil
				}
				return nil, time.Time{}, false, &commands.Error{Code: rej.Code, Message: rej.Message, Details: rej.Details}
			}
		}

		now := l.Now()
		ld := &loader{store: l.store, versions: map[string]projections.Version{}}
		evs, err := decide(ld, now)
		if ld.err != nil {
			return nil, now, false, ld.err
		}
		if err != nil {
			var rej *commands.Error
			if meta.Keyed && errors.As(err, &rej) {
				if rerr := l.answers.record(ctx, meta.CommandID, meta.CommandHash, rej); rerr != nil {
					return nil, now, false, rerr
				}
			}
			return nil, now, false, err
		}
		if len(evs) == 0 {
			st, _, err := projections.Load[json.RawMessage](l.store, primary)
			if err == nil && meta.Keyed {
				// Appending nothing leaves no record: keep the answer, so a
				// replay does not decide again and change something later.
				err = l.answers.recordUnchanged(ctx, meta.CommandID, meta.CommandHash, st, now)
			}
			return st, now, err == nil, err
		}
		msgs, err := l.encode(evs, ld.versions, meta, now)
		if err != nil {
			return nil, now, false, err
		}
		seq, err := l.commit.append(ctx, msgs)
		if err == nil {
			// An atomic batch stores its messages under consecutive
			// sequences, ending at seq.
			l.own.add(seq-uint64(len(msgs))+1, seq, l.store.Checkpoint())
		}
		switch {
		case err == nil && usage:
			l.tips.note(evs, msgs, seq)
			l.noteUsage(seq)
			return nil, now, true, nil
		case err == nil:
			if err := l.store.WaitFor(ctx, seq); err != nil {
				return nil, now, false, err
			}
			st, _, err := projections.Load[json.RawMessage](l.store, evs[0].Subject())
			return st, now, err == nil, err
		case errors.Is(err, ErrConflict) || errors.Is(err, ErrDuplicate):
			l.metrics.conflicts.Inc()
			if attempt >= l.maxAttempts {
				return nil, now, false, commands.Reject(commands.CodeConflict,
					"the aggregate kept changing while this command was decided (%d attempts); retry", attempt)
			}
			if err := l.catchUp(ctx); err != nil {
				return nil, now, false, err
			}
			// Spread racing writers apart a little.
			backoff := time.Duration(rand.Int64N(int64(attempt) * int64(time.Millisecond)))
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return nil, now, false, ctx.Err()
			}
		default:
			return nil, now, false, err
		}
	}
}

// maxPayload is the largest message the NATS connection accepts (0 if
// unknown).
func (l *Ledger) maxPayload() int {
	if l.commit == nil || l.commit.app.nc == nil {
		return 0
	}
	return int(l.commit.app.nc.MaxPayload())
}

// RecordRejection keeps a rejection decided outside a command (such as an
// unknown account found before it) as the first answer of a keyed request,
// so that its replay answers the same.
func (l *Ledger) RecordRejection(ctx context.Context, meta Meta, err error) error {
	var rej *commands.Error
	if !meta.Keyed || !errors.As(err, &rej) {
		return err
	}
	if rerr := l.answers.record(ctx, meta.CommandID, meta.CommandHash, rej); rerr != nil {
		return rerr
	}
	return err
}

// catchUpForUsage makes the projections show what a usage decision must
// see, waiting for them only when they might not:
//
//   - every usage record recorded before (F2): the records the projections
//     lack were all stored after the last event they applied
//     (AppliedThrough). If that is less than half JetStream's duplicate
//     window ago, JetStream refuses a record sent again (its message id is
//     derived from its usage id), and the batch is decided again after a
//     full catch-up. Half the window is left for clock differences with a
//     remote server.
//   - every change to users and licences acknowledged before the request.
//     This ledger's own are applied before it answers them, once the
//     projections have caught up with what the stream held when the ledger
//     started (they may start behind it). Another ledger's, when the stream
//     is shared, are stored at or below the stream's last sequence now: if
//     every event the projections lack up to there was appended by this
//     ledger (ownSeqs), there is none.
//
// Otherwise it waits until they have applied everything the stream holds.
func (l *Ledger) catchUpForUsage(ctx context.Context) error {
	at := l.store.AppliedThrough()
	if l.dedupeWindow <= 0 || at.IsZero() || time.Since(at) >= l.dedupeWindow/2 || l.store.Checkpoint() < l.startSeq {
		return l.catchUp(ctx)
	}
	if l.exclusive {
		return nil
	}
	info, err := l.stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("ledger: stream info: %w", err)
	}
	last, applied := info.State.LastSeq, l.store.Checkpoint()
	if applied >= last || l.own.covers(applied+1, last) {
		return nil
	}
	return l.store.WaitFor(ctx, last)
}

// catchUp waits until the projections have applied everything the stream
// holds now.
func (l *Ledger) catchUp(ctx context.Context) error {
	info, err := l.stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("ledger: stream info: %w", err)
	}
	return l.store.WaitFor(ctx, info.State.LastSeq)
}

// encode fills in the events' metadata and hash chain and encodes them. Every
// subject an event goes to must have been loaded: its version gives the
// expected last subject sequence and the prevhash.
func (l *Ledger) encode(evs []events.Event, versions map[string]projections.Version, meta Meta, recorded time.Time) ([]outgoing, error) {
	prev := map[string]string{}
	out := make([]outgoing, 0, len(evs))
	for _, e := range evs {
		subject := e.Subject()
		v, ok := versions[subject]
		if !ok {
			return nil, fmt.Errorf("ledger: %s writes to %s, which it did not load", e.Type(), subject)
		}
		ph, seen := prev[subject]
		if !seen {
			ph = v.Hash
		}
		e.ID = events.NewID()
		if u, ok := e.Data.(events.UsageRecorded); ok {
			e.ID = events.DerivedID("usage", e.Account, u.UsageID)
		}
		e.RecordedAt = recorded
		e.Actor, e.CommandID, e.CommandHash = meta.Actor, meta.CommandID, meta.CommandHash
		e.CorrelationID, e.CausationID = meta.CorrelationID, meta.CausationID
		e.PrevHash = ph
		data, err := events.Marshal(e)
		if err != nil {
			return nil, err
		}
		if max := l.maxPayload(); max > 0 && len(data)+1024 > max {
			return nil, commands.Reject(commands.CodeBodyTooLarge,
				"the %s event would be %d bytes, more than the %d a message may hold; send less", e.Type(), len(data), max).
				With("limit", max)
		}
		prev[subject] = events.Hash(data)
		o := outgoing{subject: subject, data: data, msgID: e.ID, expected: v.Seq, expect: !seen}
		if l.mac != nil {
			o.mac = l.mac.Tag(subject, data)
		}
		out = append(out, o)
	}
	// The last event of each subject is signed; its hash chain vouches for
	// the ones before it in this command (events.ChainVerifier).
	if l.signer != nil {
		signed := make(map[string]bool, len(versions))
		for i := len(out) - 1; i >= 0; i-- {
			if o := &out[i]; !signed[o.subject] {
				signed[o.subject] = true
				o.sig = l.signer.Sign(o.subject, o.data)
			}
		}
	}
	return out, nil
}
