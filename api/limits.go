package api

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/entledger/ledger/commands"
)

// Limits by cost (S9): one tenant cannot starve another. What a request
// costs the ledger is metered, not the request: a usage batch in records,
// a report in computations (one served from the cache is free), a body in
// bytes, any other mutating request as one command. Each cost has a rate
// per account, and each token may use half of it, so one integration
// cannot take its account's whole budget either; the buckets run on the
// wall clock. Past a bucket the request is answered 429 rate_limited with
// Retry-After and details saying which limit (limit, scope, rate). Besides,
// the requests running at once are capped for the process, and each
// account and each token may hold a fraction of that cap.

// A cost is one thing the limits meter.
type cost int

const (
	costCommands cost = iota // mutating requests other than usage batches
	costUsageRecords
	costReports // report computations: QTL, peaks, evidence, exports
	costBodyBytes
	numCosts
)

// costNames name each cost in a rate_limited answer (details.limit).
var costNames = [numCosts]string{"commands", "usage_records", "report_computations", "body_bytes"}

// Default limits: per account, per second. A token gets half. They leave
// an account at full rate well within the ledger's capacity on the 2-core
// reference machine (docs/benchmarks.md, the fairness phase), so that other
// accounts' latency stays within twice its idle figure.
const (
	DefaultRateLimit     = 100          // commands a second per token (Options.RateLimit); twice that per account
	DefaultUsageRate     = 4000         // usage records a second per account
	DefaultReportRate    = 4            // report computations a second per account
	DefaultBodyRate      = 8 << 20      // request body bytes a second per account
	DefaultMaxInFlight   = 256          // requests running at once in the process
	inFlightTokenShare   = 8            // a token may hold 1/8 of the process's in-flight cap
	inFlightAccountShare = 4            // an account 1/4
	burstSeconds         = 2            // a bucket holds this many seconds of its rate
	reportSession        = 10           // the least report computations a bucket holds
	maxUsageBatch        = 1000         // the largest single charge of usage records
	tokenShare           = 0.5          // a token's share of its account's rates
	maxBodyCharge        = MaxBodyBytes // the largest single charge of body bytes
)

// rates are the per-account rates of each cost; <= 0: not limited.
type rates [numCosts]float64

// limits keeps the buckets of every token and account, and the requests
// running. It is safe for concurrent use.
type limits struct {
	perAccount  rates
	maxInFlight int // the process's; <= 0: no cap
	now         func() time.Time

	mu       sync.Mutex // guards what follows
	tokens   map[string]*meter
	accounts map[string]*meter
	inFlight int
}

// meter is one token's or account's buckets and running requests.
type meter struct {
	buckets  [numCosts]*rate.Limiter
	inFlight int
}

func newLimits(perAccount rates, maxInFlight int, now func() time.Time) *limits {
	if now == nil {
		now = time.Now
	}
	return &limits{perAccount: perAccount, maxInFlight: maxInFlight, now: now,
		tokens: map[string]*meter{}, accounts: map[string]*meter{}}
}

// burst is a bucket's size at rate r: burstSeconds of it, and at least the
// largest single charge of c, which could otherwise never pass; reports at
// least reportSession, what a person or a script asks at once (a quarter,
// its month, the advice, a peak's evidence).
func burst(c cost, r float64) int {
	b := r * burstSeconds
	switch c {
	case costUsageRecords:
		b = math.Max(b, maxUsageBatch)
	case costBodyBytes:
		b = math.Max(b, maxBodyCharge)
	case costReports:
		b = math.Max(b, reportSession)
	}
	return int(math.Max(1, math.Ceil(b)))
}

// meterOf returns the meter of key in m, made with share of the account
// rates. l.mu must be held.
func (l *limits) meterOf(m map[string]*meter, key string, share float64) *meter {
	mt := m[key]
	if mt == nil {
		mt = &meter{}
		for c, r := range l.perAccount {
			if r > 0 {
				mt.buckets[c] = rate.NewLimiter(rate.Limit(r*share), burst(cost(c), r*share))
			}
		}
		m[key] = mt
	}
	return mt
}

// charge takes n of cost c from the token's bucket and the account's
// ("": a request of no one account, charged to the token alone), or
// neither, saying which is exceeded and when to retry.
func (l *limits) charge(token, account string, c cost, n int) error {
	if l == nil || l.perAccount[c] <= 0 || n <= 0 {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	type take struct {
		scope string
		b     *rate.Limiter
		r     *rate.Reservation
	}
	takes := []take{{scope: "token", b: l.meterOf(l.tokens, token, tokenShare).buckets[c]}}
	if account != "" {
		takes = append(takes, take{scope: "account", b: l.meterOf(l.accounts, account, 1).buckets[c]})
	}
	var worst *take
	var wait time.Duration
	for i := range takes {
		t := &takes[i]
		t.r = t.b.ReserveN(now, n)
		d := time.Duration(math.MaxInt64)
		if t.r.OK() {
			d = t.r.DelayFrom(now)
		}
		if d > wait {
			worst, wait = t, d
		}
	}
	if worst == nil {
		return nil
	}
	for _, t := range takes {
		t.r.CancelAt(now)
	}
	secs := max(1, int(math.Ceil(wait.Seconds())))
	if !worst.r.OK() {
		secs = 1
	}
	per := float64(worst.b.Limit())
	return commands.Reject(commands.CodeRateLimited, "more than %g %s a second for this %s; retry in %d s",
		per, costNames[c], worst.scope, secs).
		With("limit", costNames[c]).With("scope", worst.scope).With("rate", per).With("retry_after_seconds", secs)
}

// enter counts a running request of token in account ("": none); the
// returned leave uncounts it. The process holds at most maxInFlight, an
// account a quarter of that and a token an eighth.
func (l *limits) enter(token, account string) (leave func(), err error) {
	if l == nil || l.maxInFlight <= 0 {
		return func() {}, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	tm := l.meterOf(l.tokens, token, tokenShare)
	var am *meter
	if account != "" {
		am = l.meterOf(l.accounts, account, 1)
	}
	full := func(scope string, n int) error {
		return commands.Reject(commands.CodeRateLimited, "more than %d requests at once for this %s", n, scope).
			With("limit", "in_flight").With("scope", scope).With("rate", n).With("retry_after_seconds", 1)
	}
	switch perToken, perAccount := max(1, l.maxInFlight/inFlightTokenShare), max(1, l.maxInFlight/inFlightAccountShare); {
	case tm.inFlight >= perToken:
		return nil, full("token", perToken)
	case am != nil && am.inFlight >= perAccount:
		return nil, full("account", perAccount)
	case l.inFlight >= l.maxInFlight:
		return nil, full("ledger", l.maxInFlight)
	}
	tm.inFlight++
	l.inFlight++
	if am != nil {
		am.inFlight++
	}
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		tm.inFlight--
		l.inFlight--
		if am != nil {
			am.inFlight--
		}
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
