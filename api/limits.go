package api

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/entledger/ledger/commands"
)

// Abuse limits a reasonable operator expects: each token may send so many
// mutating requests a second (with a burst), and have so many requests
// running at once. Past either it is answered 429 with Retry-After; other
// tokens are not slowed.

// Default limits, generous for one busy integration.
const (
	DefaultRateLimit   = 1000 // mutating requests per second per token
	DefaultMaxInFlight = 256  // concurrent requests per token
)

// limits keeps each token's bucket and in-flight count.
type limits struct {
	rate        float64 // refill per second; <= 0: no rate limit
	burst       float64
	maxInFlight int // <= 0: no cap
	now         func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens   float64
	last     time.Time
	inFlight int
}

func newLimits(rate float64, burst, maxInFlight int, now func() time.Time) *limits {
	if burst <= 0 {
		burst = int(math.Max(1, 2*rate))
	}
	return &limits{rate: rate, burst: float64(burst), maxInFlight: maxInFlight, now: now, buckets: map[string]*bucket{}}
}

func (l *limits) bucket(id string) *bucket {
	b := l.buckets[id]
	if b == nil {
		b = &bucket{tokens: l.burst, last: l.now()}
		l.buckets[id] = b
	}
	return b
}

// charge takes one mutating request from id's bucket, or says how long to
// wait for one.
func (l *limits) charge(id string) error {
	if l == nil || l.rate <= 0 {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b, now := l.bucket(id), l.now()
	if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
		b.tokens = math.Min(l.burst, b.tokens+elapsed*l.rate)
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return nil
	}
	wait := int(math.Ceil((1 - b.tokens) / l.rate))
	return commands.Reject(commands.CodeRateLimited, "more than %g mutating requests a second from this token; retry in %d s", l.rate, wait).
		With("retry_after_seconds", max(wait, 1))
}

// enter counts a running request of id; the returned leave uncounts it.
func (l *limits) enter(id string) (leave func(), err error) {
	if l == nil || l.maxInFlight <= 0 {
		return func() {}, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucket(id)
	if b.inFlight >= l.maxInFlight {
		return nil, commands.Reject(commands.CodeRateLimited, "more than %d requests at once from this token", l.maxInFlight).
			With("retry_after_seconds", 1)
	}
	b.inFlight++
	return func() {
		l.mu.Lock()
		b.inFlight--
		l.mu.Unlock()
	}, nil
}

// setRetryAfter adds the Retry-After header of a rate_limited answer.
func setRetryAfter(w http.ResponseWriter, rej *commands.Error) {
	if rej.Code != commands.CodeRateLimited {
		return
	}
	if s, ok := rej.Details["retry_after_seconds"].(int); ok {
		w.Header().Set("Retry-After", strconv.Itoa(s))
	}
}
