package ledger

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/projections"
)

// UsageAnswer is the answer to a usage batch.
type UsageAnswer struct {
	Accepted   int
	Duplicates int
	Results    []commands.UsageResult
}

// errAlreadyRecorded stops a usage decision that finds its own command
// already recorded (an earlier attempt landed, its acknowledgement lost).
var errAlreadyRecorded = errors.New("ledger: the command is already recorded")

// RecordUsage records a batch of usage records whole or not at all (F1–F5).
//
// Every event's id, and so its Nats-Msg-Id, is derived from its usage id, so
// JetStream refuses a record sent again within its duplicate window, and a
// batch holding one is decided again once the projections have caught up.
// Older records are known to the projections: they first catch up with the
// stream unless everything they may lack is inside that window
// (catchUpForUsage). A resent record is therefore a duplicate however old
// (F2), and of two racing batches with the same ids only one counts.
//
// The batch holds one usage shard of each of its products from its decision
// until its append is answered, so batches of one product sent at once to
// this process do not race each other; it is answered once JetStream holds
// it, before the projections apply it.
func (l *Ledger) RecordUsage(ctx context.Context, meta Meta, c commands.RecordUsage) (UsageAnswer, error) {
	start := time.Now()
	ans, err := l.recordUsage(ctx, meta.withDefaults(), c)
	l.metrics.observeCommand("record_usage", start, err)
	return ans, err
}

func (l *Ledger) recordUsage(ctx context.Context, meta Meta, c commands.RecordUsage) (UsageAnswer, error) {
	if err := l.requireAccount(ctx, meta, c.Account); err != nil {
		return UsageAnswer{}, err
	}
	c, err := c.Normalize()
	if err != nil {
		return UsageAnswer{}, err
	}
	// The shards first: the catch-up's promise (everything the projections
	// lack is inside JetStream's duplicate window) must still hold when the
	// batch is appended, so nothing unbounded may come between them.
	shards, release, err := l.takeUsageShards(ctx, c)
	if err != nil {
		return UsageAnswer{}, err
	}
	defer func() { release(false) }()
	if err := l.catchUpForUsage(ctx); err != nil {
		return UsageAnswer{}, err
	}
	for attempt := 1; ; attempt++ {
		if _, ok, err := l.replay(ctx, meta, attempt == 1); err != nil {
			return UsageAnswer{}, err
		} else if ok {
			return l.replayUsage(ctx, meta, c)
		}
		now := l.Now()
		evs, results, versions, err := l.decideUsage(meta, c, shards, now)
		if errors.Is(err, errAlreadyRecorded) {
			return l.replayUsage(ctx, meta, c)
		}
		if err != nil {
			return UsageAnswer{}, l.keepRejection(ctx, meta, err)
		}
		if len(evs) == 0 { // every record a duplicate
			_, err := l.unchanged(ctx, meta, shards[c.Records[0].Product], now)
			return usageAnswer(results), err
		}
		msgs, err := l.encode(evs, func(e events.Event) string { return shards[e.AggregateID] }, versions, meta, now)
		if err != nil {
			return UsageAnswer{}, err
		}
		seq, err := l.appendEncoded(ctx, evs, msgs, l.commit.append)
		if lostRace(err) {
			// The shards it lost on are busy, most likely with another
			// process's batches: go to the bottom of their stacks and try
			// others. They are taken before the catch-up, which must come
			// last before the decision.
			release(true)
			if shards, release, err = l.takeUsageShards(ctx, c); err != nil {
				release = func(bool) {}
				return UsageAnswer{}, err
			}
			if err := l.beforeRetry(ctx, "record_usage", attempt); err != nil {
				return UsageAnswer{}, err
			}
			continue
		}
		if err != nil {
			return UsageAnswer{}, err
		}
		l.lastAppended.note(evs, msgs, seq)
		l.usageAnswered.note(c.Account, seq)
		return usageAnswer(results), nil
	}
}

// takeUsageShards takes a shard of each product of the batch, in product
// order (so that two batches never wait for each other's shards), and
// returns their subjects by product and the function that gives them back,
// saying whether the batch lost a race on them.
func (l *Ledger) takeUsageShards(ctx context.Context, c commands.RecordUsage) (map[string]string, func(contended bool), error) {
	var products []string
	for _, r := range c.Records {
		products = append(products, r.Product)
	}
	slices.Sort(products)
	products = slices.Compact(products)
	shards := make(map[string]string, len(products))
	var taken []func(bool)
	release := func(contended bool) {
		for _, give := range taken {
			give(contended)
		}
	}
	for _, p := range products {
		pool := events.UsageSubject(c.Account, p)
		n, err := l.usageShards.take(ctx, pool)
		if err != nil {
			release(false)
			return nil, nil, err
		}
		taken = append(taken, func(contended bool) { l.usageShards.give(pool, n, contended) })
		shards[p] = events.UsageShardSubject(c.Account, p, n)
	}
	return shards, release, nil
}

// decideUsage loads what the batch is decided against and decides it at
// now. shards names the usage subject each product's events go to.
func (l *Ledger) decideUsage(meta Meta, c commands.RecordUsage, shards map[string]string, now time.Time) (
	[]events.Event, []commands.UsageResult, map[string]projections.Version, error) {
	ld := newLoader(l.store)
	if err := commands.AccountMustExist(load[commands.Account](ld, events.AccountSubject(c.Account)), c.Account); ld.err != nil || err != nil {
		return nil, nil, nil, errors.Join(ld.err, err)
	}
	facts := commands.UsageFacts{Users: map[string]commands.User{}, Licenses: map[string]commands.License{},
		Pooled: map[string][]commands.License{}, Logs: map[string]time.Time{}, Horizon: l.usageHorizon}
	for _, r := range c.Records {
		if _, ok := facts.Users[r.Email]; !ok {
			u := load[commands.User](ld, events.UserSubject(c.Account, r.Email))
			facts.Users[r.Email] = u
			for _, h := range u.Holdings {
				lic, _, err := l.store.License(c.Account, h.LicenseID)
				ld.fail(err)
				facts.Licenses[h.LicenseID] = lic
			}
		}
		if _, ok := facts.Pooled[r.Product]; !ok {
			p, err := l.store.Pooled(c.Account, r.Product)
			ld.fail(err)
			facts.Pooled[r.Product] = p
			facts.Logs[r.Product] = l.loadUsageLog(ld, shards[r.Product])
		}
	}
	known, err := l.store.KnownUsage(c.Account, usageIDs(c))
	ld.fail(err)
	if ld.err != nil {
		return nil, nil, nil, ld.err
	}
	for _, k := range known {
		if k.CommandID == meta.CommandID {
			return nil, nil, nil, errAlreadyRecorded
		}
	}
	facts.Known = known
	evs, results, err := c.Decide(facts, now)
	return evs, results, ld.versions, err
}

// replayUsage answers a batch that was recorded before under meta's command
// id, from what it recorded, once the projections show all of it (they may
// have applied only part of its batch so far).
func (l *Ledger) replayUsage(ctx context.Context, meta Meta, c commands.RecordUsage) (UsageAnswer, error) {
	if err := l.catchUp(ctx); err != nil {
		return UsageAnswer{}, err
	}
	// The records are this command's only if the request is the same.
	if res, ok, err := l.store.Command(meta.CommandID); err != nil {
		return UsageAnswer{}, err
	} else if ok && !meta.sameRequest(res.Hash) {
		return UsageAnswer{}, errKeyReused()
	}
	known, err := l.store.KnownUsage(c.Account, usageIDs(c))
	if err != nil {
		return UsageAnswer{}, err
	}
	return usageAnswer(c.Replay(known, meta.CommandID)), nil
}

func usageIDs(c commands.RecordUsage) []string {
	ids := make([]string, len(c.Records))
	for i, r := range c.Records {
		ids[i] = r.UsageID
	}
	return ids
}

func usageAnswer(results []commands.UsageResult) UsageAnswer {
	ans := UsageAnswer{Results: results}
	for _, r := range results {
		if r.Duplicate {
			ans.Duplicates++
		} else {
			ans.Accepted++
		}
	}
	return ans
}

// catchUpForUsage makes the projections show what a usage decision must
// see, waiting for them only when they might not:
//
//   - every usage record recorded before (F2): the records the projections
//     lack were all stored after the last event they applied
//     (AppliedThrough). If that is less than half JetStream's duplicate
//     window ago, JetStream refuses a record sent again (its message id is
//     derived from its usage id), and the batch is decided again after a
//     full catch-up. Half the window is left for clock differences with a
//     remote server.
//   - every change to users and licences acknowledged before the request.
//     This ledger's own are applied before it answers them, once the
//     projections have caught up with what the stream held when the ledger
//     started (they may start behind it). Another ledger's, when the stream
//     is shared, are stored at or below the stream's last sequence now: if
//     every event the projections lack up to there was appended by this
//     ledger (ownAppends), there is none.
//
// Otherwise it waits until they have applied everything the stream holds.
func (l *Ledger) catchUpForUsage(ctx context.Context) error {
	at := l.store.AppliedThrough()
	if l.dedupeWindow <= 0 || at.IsZero() || time.Since(at) >= l.dedupeWindow/2 || l.store.Checkpoint() < l.startSeq {
		return l.catchUp(ctx)
	}
	if l.exclusive {
		return nil
	}
	info, err := l.streamInfo(ctx)
	if err != nil {
		return fmt.Errorf("ledger: stream info: %w", err)
	}
	last, applied := info.State.LastSeq, l.store.Checkpoint()
	if applied >= last || l.ownAppends.covers(applied+1, last) {
		return nil
	}
	return l.store.WaitFor(ctx, last)
}

// usageAnswered remembers, per account, the stream sequence of the last
// usage batch this ledger answered. Usage is answered before the
// projections apply it; whatever reads what usage changes in an account (a
// session kept alive by it, D3; the usage summary) waits for that account's
// sequence, and nothing else waits for usage at all.
type usageAnswered struct {
	mu  sync.Mutex
	seq map[string]uint64
}

func (u *usageAnswered) note(account string, seq uint64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.seq == nil {
		u.seq = map[string]uint64{}
	}
	u.seq[account] = max(u.seq[account], seq)
}

func (u *usageAnswered) of(account string) uint64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.seq[account]
}

// awaitUsage waits until the projections show every usage batch of account
// this ledger has answered, and, after a restart, whatever the stream held
// when the ledger started (usage answered before the restart may not be
// applied yet).
func (l *Ledger) awaitUsage(ctx context.Context, account string) error {
	if seq := max(l.usageAnswered.of(account), l.startSeq); seq > 0 {
		return l.store.WaitFor(ctx, seq)
	}
	return nil
}

// VoidUsage voids mis-recorded usage records (H1): from the usage.voided
// events on they count in no peak, QTL or summary, while reports as of an
// earlier sequence still count them. Each event goes on its product's usage
// subject; a record voided before is left as it is. It returns the usage
// ids, all voided once it returns (the same answer for a replay).
func (l *Ledger) VoidUsage(ctx context.Context, meta Meta, c commands.VoidUsage) ([]string, error) {
	if err := l.requireAccount(ctx, meta, c.Account); err != nil {
		return nil, err
	}
	c, err := c.Normalize()
	if err != nil {
		return nil, err
	}
	// Usage answered but not applied yet must be known to be voided.
	if err := l.catchUp(ctx); err != nil {
		return nil, err
	}
	_, err = l.execute(ctx, meta, command{name: "void_usage", account: c.Account, primary: events.AccountSubject(c.Account),
		decide: func(ld *loader, now time.Time) ([]events.Event, error) {
			known, err := l.store.KnownUsage(c.Account, c.UsageIDs)
			if err != nil {
				return nil, err
			}
			logs := map[string]time.Time{}
			for _, k := range known {
				if _, ok := logs[k.Product]; !ok {
					logs[k.Product] = load[commands.UsageLog](ld, events.UsageSubject(c.Account, k.Product)).LastEventAt
				}
			}
			return c.Decide(known, logs, now)
		}})
	if err != nil {
		return nil, err
	}
	return c.UsageIDs, nil
}
