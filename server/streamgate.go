package server

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// streamGate says whether the LEDGER stream is still the one the ledger
// started on. The projections follow it only while it is: their consumer,
// made again from the checkpoint whenever it is lost (projections.Follow),
// would go on from the checkpoint in another stream created under the same
// name, whose events are no continuation of what the projections hold. The
// stream check (streamWatch) sets it; a nil gate is always open.
type streamGate struct {
	mu      sync.Mutex
	lost    string        // why the stream is not the one, "" while it is
	changed chan struct{} // closed, and replaced, when lost changes
}

func newStreamGate() *streamGate { return &streamGate{changed: make(chan struct{})} }

// set records why the stream is lost ("" when it is the one again).
func (g *streamGate) set(lost string) {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if lost == g.lost {
		return
	}
	g.lost = lost
	close(g.changed)
	g.changed = make(chan struct{})
}

// state is why the stream is lost ("" when it is not) and a channel closed
// at the next change.
func (g *streamGate) state() (lost string, changed <-chan struct{}) {
	if g == nil {
		return "", nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.lost, g.changed
}

// retryLost is how long the projections wait before they follow again a
// stream their consumer could not find, if the stream check has not told
// the gate by then.
const retryLost = time.Second

// followGated keeps the projections following the stream while the gate is
// open, stops them when it closes and starts them again, from their
// checkpoint, when it opens (the same stream restored from a backup keeps
// its creation time). It returns nil when ctx is done, or the error that
// stopped the projections.
func (s *Server) followGated(ctx context.Context) error {
	for {
		lost, changed := s.gate.state()
		if lost != "" {
			select {
			case <-changed:
				continue
			case <-ctx.Done():
				return nil
			}
		}
		fctx, stop := context.WithCancel(ctx)
		go func() {
			select {
			case <-changed:
				stop()
			case <-fctx.Done():
			}
		}()
		err := s.store.Follow(fctx, s.conn.Stream)
		stop()
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, jetstream.ErrStreamNotFound):
			// Gone before the check saw it: ask for one, and look again.
			if s.watch != nil {
				s.watch.poke()
			}
			select {
			case <-changed:
			case <-time.After(retryLost):
			case <-ctx.Done():
				return nil
			}
		case err != nil:
			return err
		}
	}
}
