package ledger

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// maxGroupMsgs bounds the messages of one group commit; JetStream's limit for
// an atomic batch is 1000.
const maxGroupMsgs = 256

// maxBigBatchesInFlight bounds the big batches appended on their own at once. JetStream
// refuses more than 50 atomic batches in flight per stream (by default), and
// other ledger processes may share the stream.
const maxBigBatchesInFlight = 8

// maxBigBatchWait bounds the wait for a slot among them.
const maxBigBatchWait = 10 * time.Second

// committer appends the events of concurrent commands together (group
// commit). JetStream stages every atomic batch of a file-backed R1 stream in
// a file store of its own, which caps batches at a few hundred per second
// whatever their size; putting the batches of commands that arrive while
// another append is in flight into one atomic batch spreads that cost over
// all of them.
//
// Each message keeps its own Nats-Expected-Last-Subject-Sequence, so the
// combined batch lands only if every command in it still holds, and a
// command's events still land together or not at all. If the combined batch
// is rejected (a conflict in one command), every command in it is appended
// again on its own, so one conflict fails only the command that caused it.
//
// There are at most maxLeaders leaders at a time (1 unless
// Options.GroupsInFlight says more), each with one batch in flight: a
// caller that finds fewer starts a leader goroutine, which commits the
// queue and goes on while more requests arrived meanwhile. Callers wait
// for their own answer or their context, whichever comes first: a leader
// may commit several groups, each waiting up to commitTimeout when the
// stream's leader is lost, and no caller waits for another's group (rule
// H5, docs/operations.md: Losing a server). On R1 one is best:
// the staging cost is per batch, so the fewer and larger the better. On R3,
// where the server stages batches in memory, 4 and 8 in flight were
// measured beside 1 on the 2-core machine and did not do better
// (docs/benchmarks.md): the default stays 1.
type committer struct {
	app           *appender
	bigBatchSlots chan struct{} // taken by each batch appended on its own (maxBigBatchesInFlight)
	maxLeaders    int           // at least 1

	// mu guards the queue and how many leaders are committing it.
	mu struct {
		sync.Mutex
		queue   []*appendReq
		leaders int
	}
}

type appendReq struct {
	ctx  context.Context
	msgs []outgoing
	done chan appendRes // buffered: the leader never blocks on it
}

type appendRes struct {
	seq uint64 // stream sequence of the request's last message
	err error
}

// append appends msgs, alone or grouped with other requests, and returns the
// stream sequence of the last of them.
func (c *committer) append(ctx context.Context, msgs []outgoing) (uint64, error) {
	if len(msgs) >= maxGroupMsgs {
		// A batch this large gains nothing from company, and waiting for
		// the leader would only queue it behind the others: it goes alone,
		// in parallel with them (its expected sequences still hold it to
		// the state it was decided on), a few at a time.
		// The wait is bounded: the decision being appended relied on
		// JetStream's duplicate window (catchUpForUsage), and a batch still
		// waiting after maxBigBatchWait is decided again instead.
		wait := time.NewTimer(maxBigBatchWait)
		defer wait.Stop()
		select {
		case c.bigBatchSlots <- struct{}{}:
		case <-wait.C:
			return 0, fmt.Errorf("%w: no append slot within %s", ErrConflict, maxBigBatchWait)
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		defer func() { <-c.bigBatchSlots }()
		return c.app.append(ctx, msgs)
	}
	req := &appendReq{ctx: ctx, msgs: msgs, done: make(chan appendRes, 1)}
	c.mu.Lock()
	c.mu.queue = append(c.mu.queue, req)
	lead := c.mu.leaders < max(c.maxLeaders, 1)
	if lead {
		c.mu.leaders++
	}
	c.mu.Unlock()
	if lead {
		go c.lead()
	}
	select {
	case res := <-req.done:
		return res.seq, res.err
	case <-ctx.Done():
		// The append may still land; the caller's retry finds it by its
		// command id.
		return 0, ctx.Err()
	}
}

// appendAlone appends msgs on their own, never in a group: for the events
// every ledger process emits at about the same moment (G4, G5), of which
// all but one are refused as duplicates or conflicts; in a group, that
// refusal would make every command in it be appended again alone.
func (c *committer) appendAlone(ctx context.Context, msgs []outgoing) (uint64, error) {
	return c.app.append(ctx, msgs)
}

// lead commits the queue once, then passes leadership on if requests
// arrived meanwhile.
func (c *committer) lead() {
	c.mu.Lock()
	q := c.mu.queue
	c.mu.queue = nil
	c.mu.Unlock()

	for len(q) > 0 {
		n, size := 0, 0
		for n < len(q) && (n == 0 || size+len(q[n].msgs) <= maxGroupMsgs) {
			size += len(q[n].msgs)
			n++
		}
		c.commit(q[:n])
		q = q[n:]
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.mu.queue) == 0 {
		c.mu.leaders--
		return
	}
	go c.lead()
}

// commit appends a group and answers every request in it.
func (c *committer) commit(group []*appendReq) {
	live := group[:0:0]
	for _, r := range group {
		if err := r.ctx.Err(); err != nil {
			r.done <- appendRes{err: err}
			continue
		}
		live = append(live, r)
	}
	switch len(live) {
	case 0:
		return
	case 1:
		r := live[0]
		seq, err := c.app.append(r.ctx, r.msgs)
		r.done <- appendRes{seq: seq, err: err}
		return
	}
	var all []outgoing
	for _, r := range live {
		all = append(all, r.msgs...)
	}
	// The group's context: the batch is worth sending while any request
	// in it still waits.
	last, err := c.app.publishBatch(context.WithoutCancel(live[0].ctx), all)
	if lostRace(err) {
		// One request lost a race, its message another's duplicate, say
		// (rule H5): the others must not fail with it.
		for _, r := range live {
			seq, err := c.app.append(r.ctx, r.msgs)
			r.done <- appendRes{seq: seq, err: err}
		}
		return
	}
	// Messages of an atomic batch get consecutive sequences ending at last.
	end := last - uint64(len(all))
	for _, r := range live {
		end += uint64(len(r.msgs))
		if err != nil {
			r.done <- appendRes{err: err}
		} else {
			r.done <- appendRes{seq: end}
		}
	}
}
