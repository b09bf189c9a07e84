package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/entledger/ledger/ledger"
	"github.com/entledger/ledger/projections"
)

// DefaultStreamCheckInterval is how often a running ledger checks the
// shared streams (Config.StreamCheckInterval), besides at once on a stream
// advisory.
const DefaultStreamCheckInterval = 10 * time.Second

// ErrMessagesDeleted is returned by RebuildProjections for a stream that
// lost messages, unless Config.AcceptDeleted.
var ErrMessagesDeleted = errors.New("server: the stream has lost messages")

// StreamLoss counts the messages gone from a stream. The ledger never
// deletes one and the stream denies deletes and purges, but anyone who may
// update the stream's configuration can still remove messages: a limit set
// for a moment (max_msgs_per_subject = 1, say) removes what it exceeds, and
// setting it back returns nothing.
type StreamLoss struct {
	FirstSeq, LastSeq uint64
	Head              uint64 // messages before FirstSeq: FirstSeq - 1
	Interior          uint64 // messages missing between FirstSeq and LastSeq (StreamState.NumDeleted)
}

// lossOf reads the loss from a stream's state. A ledger stream starts at
// sequence 1 and has no gaps, so any message before the first sequence or
// between the first and the last was removed.
func lossOf(st jetstream.StreamState) StreamLoss {
	l := StreamLoss{FirstSeq: st.FirstSeq, LastSeq: st.LastSeq, Interior: uint64(max(st.NumDeleted, 0))}
	if st.FirstSeq > 1 {
		l.Head = st.FirstSeq - 1
	}
	return l
}

// Deleted is how many messages are gone.
func (l StreamLoss) Deleted() uint64 { return l.Head + l.Interior }

func (l StreamLoss) String() string {
	return fmt.Sprintf("deleted messages: %d (%d before the first sequence %d, %d between it and the last sequence %d)",
		l.Deleted(), l.Head, l.FirstSeq, l.Interior, l.LastSeq)
}

// CheckStream compares the LEDGER stream as it is now with what the ledger
// requires, and returns each difference in words: a setting that could lose
// or rewrite events (the ones EnsureStream refuses, and atomic publish off),
// replicas or a duplicate window below the declared minimum (usage
// deduplication relies on the window, F2), messages deleted, and, when
// started is the stream as the ledger found it at start, a stream deleted or
// created again since, fewer replicas or a shorter duplicate window than it
// had then, or another discard policy. No problem is nil. The error is that
// of reaching the stream.
func CheckStream(ctx context.Context, stream jetstream.Stream, started *jetstream.StreamInfo) ([]string, error) {
	info, err := stream.Info(ctx)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return []string{missingProblem(ledgerShared)}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("server: check stream: %w", err)
	}
	return streamProblems(info, started), nil
}

// missingProblem is the problem of a shared stream that does not exist.
func missingProblem(st sharedStream) string {
	return fmt.Sprintf("the %s does not exist: it was deleted", st.what)
}

// streamProblems is CheckStream's comparison of info with the ledger's
// requirements and with started (nil: not compared).
func streamProblems(info, started *jetstream.StreamInfo) []string {
	floor := ledgerShared.least
	if started != nil {
		floor = floor.strongest(settingsOf(started.Config))
	}
	return sharedProblems(ledgerShared, info, started, floor, 0)
}

// sharedProblems compares info, a shared stream st's information, with
// what st requires (sharedStream.problems), with floor (the settings that
// only go up), and with started (nil: not compared): the stream found at
// start, which a stream deleted and created again is not. For LEDGER it also
// reads the messages deleted, beyond accepted (sharedRecord.AcceptedDeleted).
// Problems of a bucket start with its name.
func sharedProblems(st sharedStream, info, started *jetstream.StreamInfo, floor streamSettings, accepted uint64) []string {
	got := info.Config
	bad := st.problems(got)
	if st.name == StreamName && !got.AllowAtomicPublish {
		bad = append(bad, "allow_atomic_publish (want true: a command's events land together)")
	}
	if started != nil && replaced(info, started) {
		bad = append(bad, replacedProblem(st, info, started))
	}
	bad = append(bad, settingsOf(got).weakerThan(st, floor, "the declared minimum, or the most it has had while the ledger ran")...)
	if st.name == StreamName {
		if started != nil && got.Discard != started.Config.Discard {
			bad = append(bad, fmt.Sprintf("discard %s (the ledger started with %s)", discardName(got.Discard), discardName(started.Config.Discard)))
		}
		if loss := lossOf(info.State); loss.Deleted() > accepted {
			bad = append(bad, loss.String())
		}
		return bad
	}
	for i := range bad {
		bad[i] = st.what + ": " + bad[i]
	}
	return bad
}

// replaced reports whether info is another stream than started: one made
// after it under the same name.
func replaced(info, started *jetstream.StreamInfo) bool { return !info.Created.Equal(started.Created) }

func replacedProblem(st sharedStream, info, started *jetstream.StreamInfo) string {
	return fmt.Sprintf("created %s (the ledger started on the %s created %s: it was deleted and created again)",
		info.Created.UTC().Format(time.RFC3339Nano), st.what, started.Created.UTC().Format(time.RFC3339Nano))
}

// discardName is p as the stream's configuration spells it.
func discardName(p jetstream.DiscardPolicy) string {
	if p == jetstream.DiscardOld {
		return "old"
	}
	return "new"
}

// streamWatch checks every shared stream (sharedStreams) at start, then
// periodically and whenever the server announces a change to one of them
// (JetStream's stream advisories), and reports each problem once, while it
// lasts, as an integrity break: a warning and one count in
// ledger_integrity_breaks_total. A problem that goes away and comes back is
// reported again. Every check's problems, all of them, are kept for GET
// /v1/integrity.
//
// Each setting that only goes up is compared with the strongest the watch
// has seen, and with what the projections recorded: another process raising
// the replicas raises what a later lowering is compared with. What it saw
// is recorded with the projections, so that a restart refuses a stream
// weakened while the ledger was stopped (adoptShared).
type streamWatch struct {
	js     jetstream.JetStream // reaches the shared streams but LEDGER; nil: LEDGER only
	stream jetstream.Stream    // LEDGER, as the ledger holds it
	logger *slog.Logger
	count  func()             // counts one integrity break
	keep   func([]string)     // keeps the problems of the latest check
	record func(sharedRecord) // keeps a record the check raised (nil: not kept)
	gate   *streamGate        // told whether LEDGER is still the stream the ledger started on (nil: nobody)
	pokes  chan struct{}      // asks for a check now

	// mu guards the fields below: check runs on one goroutine at a time,
	// but ready and the tests read them.
	mu       sync.Mutex
	started  map[string]*jetstream.StreamInfo // each shared stream as the ledger found it
	rec      sharedRecord                     // what the projections recorded, raised by what the checks saw
	reported map[string]bool                  // the problems reported and still found
}

// newStreamWatch watches the shared streams found as started (by stream
// name; LEDGER at least) with the projections' record rec.
func newStreamWatch(js jetstream.JetStream, stream jetstream.Stream, started map[string]*jetstream.StreamInfo, rec sharedRecord,
	logger *slog.Logger) *streamWatch {
	if logger == nil {
		logger = slog.Default()
	}
	return &streamWatch{js: js, stream: stream, started: started, rec: rec, logger: logger, pokes: make(chan struct{}, 1)}
}

// prepareWatch makes the server's stream check (s.watch) from the shared
// streams as they are now and the projections' record; watchStream starts
// it.
func (s *Server) prepareWatch(ctx context.Context) error {
	started := map[string]*jetstream.StreamInfo{StreamName: s.conn.Stream.CachedInfo()}
	for _, st := range sharedStreams[1:] {
		info, err := sharedInfo(ctx, s.conn.JS, st)
		if err != nil {
			return fmt.Errorf("server: %s: %w", st.what, err)
		}
		started[st.name] = info
	}
	raw, err := s.store.Shared()
	if err != nil {
		return err
	}
	rec, err := decodeSharedRecord(raw)
	if err != nil {
		return err
	}
	w := newStreamWatch(s.conn.JS, s.conn.Stream, started, rec, s.logger)
	w.count = func() { s.ledger.CountIntegrityBreak(ledger.IntegrityStream) }
	w.keep = s.ledger.SetStreamProblems
	w.gate = s.gate
	w.record = func(r sharedRecord) {
		if err := recordShared(s.store, r); err != nil && !errors.Is(err, projections.ErrClosed) {
			s.logger.Warn("could not record the shared streams' settings with the projections", "err", err)
		}
	}
	s.watch = w
	return nil
}

// watchStream runs the stream check now, on every advisory about a shared
// stream, and every interval (0: DefaultStreamCheckInterval) until Close.
func (s *Server) watchStream(interval time.Duration) error {
	if interval <= 0 {
		interval = DefaultStreamCheckInterval
	}
	// The advisories make a deletion or an update known at once; without
	// the permission to subscribe to them (an external cluster may not
	// grant it) the periodic check still finds it.
	for _, st := range sharedStreams {
		sub, err := s.conn.NC.Subscribe("$JS.EVENT.ADVISORY.STREAM.*."+st.name, func(*nats.Msg) { s.watch.poke() })
		if err != nil {
			return fmt.Errorf("server: stream advisories of %s: %w", st.what, err)
		}
		context.AfterFunc(s.followCtx, func() { sub.Unsubscribe() })
	}
	go s.watch.run(s.followCtx, interval)
	return nil
}

// poke asks for a check now, without waiting for it.
func (w *streamWatch) poke() {
	select {
	case w.pokes <- struct{}{}:
	default:
	}
}

// run checks until ctx is done.
func (w *streamWatch) run(ctx context.Context, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		if err := w.check(ctx); err != nil && ctx.Err() == nil {
			w.logger.Warn("stream check failed; will retry", "stream", StreamName, "err", err)
		}
		select {
		case <-tick.C:
		case <-w.pokes:
		case <-ctx.Done():
			return
		}
	}
}

// check compares every shared stream with what the ledger requires, keeps
// the problems and reports those not reported yet. A check that cannot
// reach a stream keeps the last problems.
func (w *streamWatch) check(ctx context.Context) error {
	var problems []string
	for _, st := range sharedStreams {
		if w.js == nil && st.name != StreamName {
			continue
		}
		found, err := w.checkOne(ctx, st)
		if err != nil {
			return err
		}
		problems = append(problems, found...)
	}
	if w.keep != nil {
		w.keep(problems)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	found := make(map[string]bool, len(problems))
	for _, p := range problems {
		found[p] = true
		if w.reported[p] {
			continue
		}
		w.logger.Warn("integrity break: a stream or bucket no longer keeps the ledger's guarantees",
			"stream", StreamName, "problem", p)
		if w.count != nil {
			w.count()
		}
	}
	w.reported = found
	return nil
}

// checkOne checks st: its problems, and what it tells the gate (LEDGER)
// and the record.
func (w *streamWatch) checkOne(ctx context.Context, st sharedStream) ([]string, error) {
	var info *jetstream.StreamInfo
	var err error
	if st.name == StreamName {
		info, err = w.stream.Info(ctx)
	} else {
		info, err = sharedInfo(ctx, w.js, st)
	}
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		problem := missingProblem(st)
		if st.name == StreamName {
			w.gate.set(problem)
		}
		return []string{problem}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("server: check %s: %w", st.what, err)
	}
	w.mu.Lock()
	started, floor, accepted := w.started[st.name], w.rec.floor(st), w.rec.AcceptedDeleted
	w.mu.Unlock()
	other := started != nil && replaced(info, started)
	if st.name == StreamName {
		if other {
			w.gate.set(replacedProblem(st, info, started))
		} else {
			w.gate.set("")
		}
	}
	problems := sharedProblems(st, info, started, floor, accepted)
	if !other {
		w.raise(st, settingsOf(info.Config))
	}
	return problems, nil
}

// raise records s as st's settings where they are stronger than recorded.
func (w *streamWatch) raise(st sharedStream, s streamSettings) {
	w.mu.Lock()
	changed := w.rec.raise(st, s)
	rec := w.rec
	rec.Settings = maps.Clone(w.rec.Settings)
	w.mu.Unlock()
	if changed && w.record != nil {
		w.record(rec)
	}
}

// startedInfo is the shared stream name as the ledger found it at start.
func (w *streamWatch) startedInfo(name string) *jetstream.StreamInfo {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.started[name]
}

// acceptedDeleted is the loss of messages the projections accepted.
func (w *streamWatch) acceptedDeleted() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.rec.AcceptedDeleted
}
