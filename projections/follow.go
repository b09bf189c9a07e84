package projections

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/entledger/ledger/events"
)

// maxBatch bounds how many events one Pebble batch applies.
const maxBatch = 1024

// How Follow keeps its consumer (rule H5, docs/operations.md: Losing a
// server).
const (
	// followHeartbeat is how often an idle consumer says it is there; two
	// missed, and Follow makes a new one.
	followHeartbeat = time.Second
	// consumerCreateTimeout bounds one try to make the consumer.
	consumerCreateTimeout = 2 * time.Second
	// consumerRetryPause is the pause between two tries.
	consumerRetryPause = 250 * time.Millisecond
)

// Follow applies the stream's events after the checkpoint, then every new
// one, until ctx is done (it then returns nil) or applying fails. Events
// that arrive together are applied in one batch.
//
// It reads through an ephemeral consumer of its own: one replica, in
// memory, no acknowledgements, no state a restart needs. When that
// consumer is lost (its server went away, its heartbeats stopped, it was
// deleted) or skips a message, Follow makes a new one that starts after
// the checkpoint, each try bounded by consumerCreateTimeout, until one is
// made; so after a server loss the projections follow again within seconds
// of the stream answering. JetStream's ordered consumer, which this
// replaces, does the same with heartbeats 5 s apart and tries of up to 10 s
// each with a backoff of up to 10 s: when the server it lived on was
// killed, it left the projections, and every request waiting to read its
// own write, stalled for 10 to 55 s.
func (s *Store) Follow(ctx context.Context, stream jetstream.Stream) error {
	f := &follower{store: s, stream: stream, ch: make(chan delivery, 4*maxBatch), lost: make(chan struct{}, 1), done: make(chan struct{})}
	defer close(f.done)
	defer f.stop()
	if err := f.start(ctx, ""); err != nil {
		return err
	}
	buf := make([]Msg, 0, maxBatch)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-f.lost:
			why, lost := f.lostNow()
			if !lost {
				continue // a consumer replaced already
			}
			if err := f.start(ctx, why); err != nil {
				return err
			}
			continue
		case d := <-f.ch:
			if d.gen != f.gen {
				continue
			}
			buf = append(buf[:0], d.msg)
		}
		if !f.gather(ctx, &buf) {
			return nil
		}
		if err := s.Apply(buf); err != nil {
			return err
		}
	}
}

// delivery is a message as a consumer of Follow delivered it.
type delivery struct {
	msg Msg
	gen uint64 // the consumer's generation
}

// follower is Follow's consumer, made again whenever it is lost. Follow's
// goroutine uses its fields; the consumers' callbacks send on ch, and
// report a loss through lose.
type follower struct {
	store  *Store
	stream jetstream.Stream
	ch     chan delivery
	lost   chan struct{} // a consumer was lost: look at mu
	done   chan struct{} // closed when Follow returns
	gen    uint64        // the current consumer's generation
	name   string        // its name
	cc     jetstream.ConsumeContext

	// mu guards the last loss reported.
	mu struct {
		sync.Mutex
		gen uint64 // the generation of the last consumer lost
		why string // why it was lost, for the log
	}
}

// lose reports that the consumer of generation gen was lost, for why.
func (f *follower) lose(gen uint64, why string) {
	f.mu.Lock()
	if gen > f.mu.gen {
		f.mu.gen, f.mu.why = gen, why
	}
	f.mu.Unlock()
	select {
	case f.lost <- struct{}{}:
	default: // Follow will look
	}
}

// lostNow reports whether the current consumer was lost, and why.
func (f *follower) lostNow() (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mu.why, f.mu.gen == f.gen
}

// start makes a consumer that starts after the checkpoint, trying until
// one is made or ctx is done, and consumes it. why says why a consumer was
// lost ("" at the first start).
func (f *follower) start(ctx context.Context, why string) error {
	f.stop()
	f.gen++
	from := f.store.Checkpoint() + 1
	cfg := jetstream.ConsumerConfig{
		Name: "ledger_projections_" + nats.NewInbox()[len(nats.InboxPrefix):], DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: from,
		AckPolicy: jetstream.AckNonePolicy, MemoryStorage: true, Replicas: 1,
		// A consumer this process lost track of (made by a try that timed
		// out, or left by a crash) goes away by itself.
		InactiveThreshold: 5 * time.Minute,
	}
	began := time.Now()
	for tries := 1; ; tries++ {
		cctx, cancel := context.WithTimeout(ctx, consumerCreateTimeout)
		cons, err := f.stream.CreateOrUpdateConsumer(cctx, cfg)
		cancel()
		if err == nil {
			if err := f.consume(cons); err != nil {
				return err
			}
			f.name = cfg.Name
			if why != "" {
				f.store.logger.Warn("projections: the stream's consumer was lost; following again", "reason", why,
					"from", from, "tries", tries, "took", time.Since(began).Round(time.Millisecond))
			}
			return nil
		}
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("projections: consumer: %w", err)
		}
		if tries == 1 {
			f.store.logger.Warn("projections: cannot make the stream's consumer; trying again", "err", err)
		}
		select {
		case <-time.After(consumerRetryPause):
		case <-ctx.Done():
			return nil
		}
	}
}

// consume starts delivering cons's messages to f.ch under the current
// generation.
func (f *follower) consume(cons jetstream.Consumer) error {
	gen := f.gen
	var delivered uint64 // the consumer sequence of the last message
	lose := func(why string) { f.lose(gen, why) }
	cc, err := cons.Consume(func(m jetstream.Msg) {
		md, err := m.Metadata()
		if err != nil {
			f.store.logger.Error("projections: message without metadata", "subject", m.Subject(), "err", err)
			return
		}
		if md.Sequence.Consumer != delivered+1 {
			lose(fmt.Sprintf("delivery %d after %d", md.Sequence.Consumer, delivered))
			return
		}
		delivered = md.Sequence.Consumer
		// Decoding here runs on the client library's delivery goroutine, in
		// parallel with the applying goroutine.
		select {
		case f.ch <- delivery{gen: gen, msg: prepare(f.store.auth, Msg{Seq: md.Sequence.Stream, Subject: m.Subject(), Data: m.Data(),
			MAC: m.Headers().Get(events.MACHeader), Stored: md.Timestamp, Pending: md.NumPending})}:
		case <-f.done:
		}
	}, jetstream.PullHeartbeat(followHeartbeat), jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		switch {
		case errors.Is(err, jetstream.ErrNoHeartbeat), errors.Is(err, jetstream.ErrConsumerDeleted),
			errors.Is(err, jetstream.ErrConsumerNotFound), errors.Is(err, nats.ErrNoResponders):
			lose(err.Error())
		case errors.Is(err, jetstream.ErrConnectionClosed):
		default:
			f.store.logger.Warn("projections: consumer", "err", err)
		}
	}))
	if err != nil {
		return fmt.Errorf("projections: consume: %w", err)
	}
	f.cc = cc
	return nil
}

// stop stops consuming and deletes the consumer, in the background and
// within consumerCreateTimeout: one on a server that is gone cannot be
// deleted, and goes away with it.
func (f *follower) stop() {
	if f.cc == nil {
		return
	}
	f.cc.Stop()
	f.cc = nil
	name, stream := f.name, f.stream
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), consumerCreateTimeout)
		defer cancel()
		stream.DeleteConsumer(ctx, name)
	}()
}

// gatherWait bounds how long Follow waits for messages the stream says are
// coming before it applies what it has.
const gatherWait = 2 * time.Millisecond

// gather adds to buf what the current consumer delivered, and keeps
// waiting while the last message says more are pending in the stream (an
// atomic batch arrives one message at a time), up to maxBatch messages or
// gatherWait. One run per batch costs far less than one per few messages:
// every run reads and writes the aggregates it touches, and commits. It
// returns false if ctx ended.
func (f *follower) gather(ctx context.Context, buf *[]Msg) bool {
	var timeout <-chan time.Time
	add := func(d delivery) {
		if d.gen == f.gen {
			*buf = append(*buf, d.msg)
		}
	}
	for len(*buf) < maxBatch {
		select {
		case d := <-f.ch:
			add(d)
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
		case d := <-f.ch:
			add(d)
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
