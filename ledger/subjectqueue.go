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
// process never race for one hash chain, and up to n of them are decided and
// appended (in one group commit) at once. A batch waits when all n are held.
//
// Each process hands its shards out from a random starting point, so that
// ledgers sharing a stream mostly write to different shards; when two do
// pick the same one, the expected-sequence check turns the loser into a
// retry.
type usageShards struct {
	n  int
	mu sync.Mutex
	m  map[string]chan int // by usage subject: the free shards
}

func newUsageShards(n int) *usageShards {
	return &usageShards{n: n, m: map[string]chan int{}}
}

// take waits for a free shard of the product whose usage subject is subject.
func (u *usageShards) take(ctx context.Context, subject string) (int, error) {
	u.mu.Lock()
	free := u.m[subject]
	if free == nil {
		free = make(chan int, u.n)
		start := rand.IntN(u.n)
		for i := range u.n {
			free <- (start + i) % u.n
		}
		u.m[subject] = free
	}
	u.mu.Unlock()
	select {
	case n := <-free:
		return n, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// give returns shard n of subject.
func (u *usageShards) give(subject string, n int) {
	u.mu.Lock()
	free := u.m[subject]
	u.mu.Unlock()
	free <- n
}
