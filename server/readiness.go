package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Readiness (rule H5): /readyz answers 200 while the process is connected,
// the stream keeps the ledger's guarantees, and the projections follow the
// stream within a bound, so that a load balancer keeps a healthy ledger
// that is a moment behind under load and drops one that is stuck,
// disconnected or on a broken stream.

// Default bounds of the projections' lag (Config.ReadyMaxLag,
// Config.ReadyMaxLagEvents).
const (
	DefaultReadyMaxLag       = 5 * time.Second
	DefaultReadyMaxLagEvents = 50_000
)

// ready reports why the process is not ready, or nil.
func (s *Server) ready(ctx context.Context) error {
	if nc := s.conn.NC; nc == nil || !nc.IsConnected() {
		return errors.New("not connected to NATS")
	}
	select {
	case <-s.followDone:
		return errors.New("the projections have stopped following the stream")
	default:
	}
	info, err := s.conn.Stream.Info(ctx)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		s.watch.poke()
		return errors.New(missingProblem(ledgerShared))
	}
	if err != nil {
		return fmt.Errorf("stream unreachable: %w", err)
	}
	if lost, _ := s.gate.state(); lost != "" {
		return fmt.Errorf("stream %s: %s", StreamName, lost)
	}
	if w := s.watch; w != nil {
		if started := w.startedInfo(StreamName); started != nil && replaced(info, started) {
			w.poke()
			return fmt.Errorf("stream %s: %s", StreamName, replacedProblem(ledgerShared, info, started))
		}
		if loss := lossOf(info.State); loss.Deleted() > w.acceptedDeleted() {
			w.poke()
			return fmt.Errorf("stream %s: %s", StreamName, loss)
		}
	}
	return s.followsWithin(ctx, info.State.LastSeq)
}

// followsWithin reports whether the projections follow the stream, whose
// last sequence is last: until they have once applied all of it (the
// catch-up after a start), they are not ready; from then on, within the
// bounds: at most readyMaxLagEvents events behind, and the oldest event
// they have not applied stored at most readyMaxLag ago (one direct get,
// only when they are behind). A ledger applying a burst stays ready; one
// that stopped applying is not, within the time bound.
func (s *Server) followsWithin(ctx context.Context, last uint64) error {
	cp := s.store.Checkpoint()
	if cp >= last {
		s.caughtUp.Store(true)
		return nil
	}
	if !s.caughtUp.Load() {
		return fmt.Errorf("catching up: projections at sequence %d of %d", cp, last)
	}
	behind := last - cp
	if behind > s.readyMaxLagEvents {
		return fmt.Errorf("projections at sequence %d of %d: %d events behind (the bound is %d, --ready-max-lag-events)",
			cp, last, behind, s.readyMaxLagEvents)
	}
	next, err := s.conn.Stream.GetMsg(ctx, cp+1)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil // applied since, or never stored: not a lag
	}
	if err != nil {
		return fmt.Errorf("stream unreachable: %w", err)
	}
	if age := time.Since(next.Time); age > s.readyMaxLag {
		return fmt.Errorf("projections at sequence %d of %d: the oldest event not applied was stored %s ago (the bound is %s, --ready-max-lag)",
			cp, last, age.Round(time.Millisecond), s.readyMaxLag)
	}
	return nil
}
