package projections

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/entledger/ledger/events"
)

// maxBatch bounds how many events one Pebble batch applies.
const maxBatch = 1024

// Follow applies the stream's events after the checkpoint, then every new
// one, until ctx is done (it then returns nil) or applying fails. It reads
// through one ordered consumer: no durable state on the server, and gaps are
// healed by the client library recreating the consumer where it left off.
// Events that arrive together are applied in one batch.
func (s *Store) Follow(ctx context.Context, stream jetstream.Stream) error {
	cfg := jetstream.OrderedConsumerConfig{}
	if cp := s.Checkpoint(); cp > 0 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = cp + 1
	}
	cons, err := stream.OrderedConsumer(ctx, cfg)
	if err != nil {
		return fmt.Errorf("projections: consumer: %w", err)
	}
	ch := make(chan Msg, 4*maxBatch)
	cc, err := cons.Consume(func(m jetstream.Msg) {
		md, err := m.Metadata()
		if err != nil {
			s.logger.Error("projections: message without metadata", "subject", m.Subject(), "err", err)
			return
		}
		// Decoding here runs on the client library's delivery goroutine, in
		// parallel with the applying goroutine below.
		select {
		case ch <- prepare(s.auth, Msg{Seq: md.Sequence.Stream, Subject: m.Subject(), Data: m.Data(),
			MAC: m.Headers().Get(events.MACHeader), Stored: md.Timestamp, Pending: md.NumPending}):
		case <-ctx.Done():
		}
	}, jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		if !errors.Is(err, jetstream.ErrConsumerDeleted) && ctx.Err() == nil {
			s.logger.Warn("projections: consumer", "err", err)
		}
	}))
	if err != nil {
		return fmt.Errorf("projections: consume: %w", err)
	}
	defer cc.Stop()

	buf := make([]Msg, 0, maxBatch)
	for {
		select {
		case <-ctx.Done():
			return nil
		case m := <-ch:
			buf = append(buf[:0], m)
		}
		if !gather(ctx, ch, &buf) {
			return nil
		}
		if err := s.Apply(buf); err != nil {
			return err
		}
	}
}

// gatherWait bounds how long Follow waits for messages the stream says are
// coming before it applies what it has.
const gatherWait = 2 * time.Millisecond

// gather adds to buf what ch holds, and keeps waiting while the last message
// says more are pending in the stream (an atomic batch arrives one message
// at a time), up to maxBatch messages or gatherWait. One run per batch costs
// far less than one per few messages: every run reads and writes the
// aggregates it touches, and commits. It returns false if ctx ended.
func gather(ctx context.Context, ch <-chan Msg, buf *[]Msg) bool {
	var timeout <-chan time.Time
	for len(*buf) < maxBatch {
		select {
		case m := <-ch:
			*buf = append(*buf, m)
			continue
		default:
		}
		if (*buf)[len(*buf)-1].Pending == 0 {
			return true
		}
		if timeout == nil {
			t := time.NewTimer(gatherWait)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case m := <-ch:
			*buf = append(*buf, m)
		case <-timeout:
			return true
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// Build builds a fresh store in dir (which must be empty or absent) from
// every event of the stream up to its last sequence at the time of the call,
// and returns it open.
// identity names the stream as Bind expects it.
func Build(ctx context.Context, stream jetstream.Stream, identity, dir string, opts Options) (*Store, error) {
	info, err := stream.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("projections: build: stream info: %w", err)
	}
	s, err := Open(dir, opts)
	if err != nil {
		return nil, err
	}
	if s.Checkpoint() != 0 {
		s.Close()
		return nil, fmt.Errorf("projections: build: %s is not empty", dir)
	}
	if err := s.Bind(identity, info.State.LastSeq); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.CatchUp(ctx, stream, info.State.LastSeq); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// CatchUp follows the stream until the store has applied sequence target.
func (s *Store) CatchUp(ctx context.Context, stream jetstream.Stream, target uint64) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		err := s.Follow(ctx, stream)
		if err == nil && ctx.Err() == nil {
			err = errors.New("projections: follow stopped")
		}
		done <- err
		cancel() // a failed Follow ends the wait below at once
	}()
	waitErr := s.WaitFor(ctx, target)
	cancel()
	if err := <-done; err != nil && waitErr != nil {
		return err
	}
	return waitErr
}
