package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/entledger/ledger/ledger"
)

// DefaultStreamCheckInterval is how often a running ledger checks the
// stream (Config.StreamCheckInterval).
const DefaultStreamCheckInterval = time.Minute

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
// messages deleted, and, when started is the stream as the ledger found it
// at start, a stream deleted or created again since, a shorter duplicate
// window (usage deduplication relies on it, F2) or another discard policy.
// No problem is nil. The error is that of reaching the stream.
func CheckStream(ctx context.Context, stream jetstream.Stream, started *jetstream.StreamInfo) ([]string, error) {
	info, err := stream.Info(ctx)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return []string{fmt.Sprintf("the stream %s does not exist: it was deleted", StreamName)}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("server: check stream: %w", err)
	}
	return streamProblems(info, started), nil
}

// streamProblems is CheckStream's comparison of info with the ledger's
// requirements and with started (nil: not compared).
func streamProblems(info, started *jetstream.StreamInfo) []string {
	got := info.Config
	bad := configProblems(got, StreamConfig(got.Replicas))
	if !got.AllowAtomicPublish {
		bad = append(bad, "allow_atomic_publish (want true: a command's events land together)")
	}
	if started != nil {
		was := started.Config
		if !info.Created.Equal(started.Created) {
			bad = append(bad, fmt.Sprintf("created %s (the ledger started on the stream created %s: it was deleted and created again)",
				info.Created.UTC().Format(time.RFC3339Nano), started.Created.UTC().Format(time.RFC3339Nano)))
		}
		if got.Duplicates < was.Duplicates {
			bad = append(bad, fmt.Sprintf("duplicate_window %s (want at least the %s the ledger started with)", got.Duplicates, was.Duplicates))
		}
		if got.Discard != was.Discard {
			bad = append(bad, fmt.Sprintf("discard %s (the ledger started with %s)", discardName(got.Discard), discardName(was.Discard)))
		}
	}
	if loss := lossOf(info.State); loss.Deleted() > 0 {
		bad = append(bad, loss.String())
	}
	return bad
}

// discardName is p as the stream's configuration spells it.
func discardName(p jetstream.DiscardPolicy) string {
	if p == jetstream.DiscardOld {
		return "old"
	}
	return "new"
}

// streamWatch runs CheckStream at start and then periodically, and reports
// each problem once, while it lasts, as an integrity break: a warning and
// one count in ledger_integrity_breaks_total. A problem that goes away and
// comes back is reported again. Every check's problems, all of them, are
// kept for GET /v1/integrity.
type streamWatch struct {
	stream  jetstream.Stream
	started *jetstream.StreamInfo
	logger  *slog.Logger
	count   func()         // counts one integrity break
	keep    func([]string) // keeps the problems of the latest check

	// mu guards reported, the problems reported and still found.
	mu       sync.Mutex
	reported map[string]bool
}

// watchStream checks the stream now and every interval (0:
// DefaultStreamCheckInterval) until Close.
func (s *Server) watchStream(interval time.Duration) {
	if interval <= 0 {
		interval = DefaultStreamCheckInterval
	}
	w := &streamWatch{stream: s.conn.Stream, started: s.conn.Stream.CachedInfo(), logger: s.logger,
		count: func() { s.ledger.CountIntegrityBreak(ledger.IntegrityStream) }, keep: s.ledger.SetStreamProblems}
	go w.run(s.followCtx, interval)
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
		case <-ctx.Done():
			return
		}
	}
}

// check runs CheckStream once, keeps its problems and reports those not
// reported yet. A check that cannot reach the stream keeps the last ones.
func (w *streamWatch) check(ctx context.Context) error {
	problems, err := CheckStream(ctx, w.stream, w.started)
	if err != nil {
		return err
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
		w.logger.Warn("integrity break: the stream no longer keeps the ledger's guarantees",
			"stream", StreamName, "problem", p)
		w.count()
	}
	w.reported = found
	return nil
}
