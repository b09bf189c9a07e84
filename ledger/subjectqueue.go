package ledger

import (
	"context"
	"math/rand/v2"
	"sync"
)

// subjectQueues serialise, within this process, the commands that append to
// one busy subject. Every check on a product extends the product's check log
// (one hash chain): decided concurrently, all but one would lose the append
// to a conflict and be decided again, and under load some would run out of
// attempts. In its subject's queue, a check decides after the one before it
// has landed. Other ledger processes are still held off by the
// expected-sequence header.
type subjectQueues struct {
	mu sync.Mutex
	m  map[string]*subjectQueue
}

type subjectQueue struct {
	mu    sync.Mutex
	users int // holders and waiters, under subjectQueues.mu
}

// join waits for subject's turn and returns the function that ends it.
func (qs *subjectQueues) join(subject string) (leave func()) {
	qs.mu.Lock()
	if qs.m == nil {
		qs.m = map[string]*subjectQueue{}
	}
	q := qs.m[subject]
	if q == nil {
		q = &subjectQueue{}
		qs.m[subject] = q
	}
	q.users++
	qs.mu.Unlock()
	q.mu.Lock()
	return func() {
		q.mu.Unlock()
		qs.mu.Lock()
		if q.users--; q.users == 0 {
			delete(qs.m, subject)
		}
		qs.mu.Unlock()
	}
}

// usageShards hands out the shards of each product's usage (see
// events.UsageShardSubject): a batch holds one shard from its decision until
// its append is answered, so concurrent batches of one product in this
// process never race for one hash chain, and up to inFlight of them are
// decided and appended at once. A batch waits when inFlight are held.
//
// Ledgers sharing a stream may pick the same shard; the expected-sequence
// check then turns the loser into a retry. To make that rare, there are many
// more shards (n) than a process holds at once, and each process keeps to a
// few of its own: the free shards of a product are a stack that starts at a
// random shard, so a process keeps reusing the ones it used last, and a
// shard on which a batch lost a race goes to the bottom, so two processes
// drift apart onto different shards.
type usageShards struct {
	n, inFlight int
	mu          sync.Mutex
	m           map[string]*shardStack // by usage subject
}

type shardStack struct {
	free  []int         // under usageShards.mu; the top is the end
	avail chan struct{} // one token per batch that may take a shard now
}

func newUsageShards(n, inFlight int) *usageShards {
	return &usageShards{n: n, inFlight: min(n, inFlight), m: map[string]*shardStack{}}
}

// take waits for a free shard of the product whose usage subject is subject.
func (u *usageShards) take(ctx context.Context, subject string) (int, error) {
	u.mu.Lock()
	st := u.m[subject]
	if st == nil {
		st = &shardStack{avail: make(chan struct{}, u.inFlight)}
		start := rand.IntN(u.n)
		for i := u.n - 1; i >= 0; i-- {
			st.free = append(st.free, (start+i)%u.n)
		}
		for range u.inFlight {
			st.avail <- struct{}{}
		}
		u.m[subject] = st
	}
	u.mu.Unlock()
	select {
	case <-st.avail:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	n := st.free[len(st.free)-1]
	st.free = st.free[:len(st.free)-1]
	return n, nil
}

// give returns shard n of subject: on top of the stack, or at its bottom if
// a batch lost a race on it (contended).
func (u *usageShards) give(subject string, n int, contended bool) {
	u.mu.Lock()
	st := u.m[subject]
	if contended {
		st.free = append([]int{n}, st.free...)
	} else {
		st.free = append(st.free, n)
	}
	u.mu.Unlock()
	st.avail <- struct{}{}
}
