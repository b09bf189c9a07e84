package ledger

import (
	"slices"
	"sync"
	"time"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/projections"
)

// Usage batches and checks are answered before the projections apply them,
// so the next batch on the same usage shard (or check on the same product)
// would be decided against a version of the subject that is already behind
// the stream, and lose its append to a conflict. The ledger therefore
// remembers the last event it appended to every such subject: its sequence and hash, and its business time (all a
// usage decision reads from the subject). A decision uses it when it is ahead
// of the projections. If another writer appended meanwhile, the append
// conflicts, the projections catch up past it, and the next attempt decides
// on them.

// appendedTip is the last event this ledger appended to a subject.
type appendedTip struct {
	projections.Version
	LastEventAt time.Time
}

// lastAppended holds the appendedTip of every usage and check subject this
// ledger appended to.
type lastAppended struct {
	mu sync.Mutex
	m  map[string]appendedTip
}

// note records the tips of the subjects of evs, appended as msgs (in the same
// order) with the last message at stream sequence last.
func (t *lastAppended) note(evs []events.Event, msgs []outgoing, last uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[string]appendedTip{}
	}
	seen := map[string]bool{}
	for i := len(msgs) - 1; i >= 0; i-- {
		o := msgs[i]
		if seen[o.subject] {
			continue
		}
		seen[o.subject] = true
		seq := last - uint64(len(msgs)-1-i)
		if cur, ok := t.m[o.subject]; ok && cur.Seq >= seq {
			continue
		}
		t.m[o.subject] = appendedTip{Version: projections.Version{Seq: seq, Hash: events.Hash(o.data)}, LastEventAt: evs[i].OccurredAt}
	}
}

func (t *lastAppended) get(subject string) (appendedTip, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	v, ok := t.m[subject]
	return v, ok
}

// loadUsageLog loads a usage shard's subject for a decision: from the
// projections, or from the last event this ledger appended there if that is
// newer. It returns the business time of the subject's last event.
func (l *Ledger) loadUsageLog(ld *loader, subject string) time.Time {
	st := load[commands.UsageLog](ld, subject)
	return l.lastAppendedAt(ld, subject, st.LastEventAt)
}

// lastAppendedAt makes a decision that loaded subject (whose last event
// the projections show happened at projected) build on the last event this
// ledger appended there, if the projections do not show it yet, and returns
// the business time of the subject's last event.
func (l *Ledger) lastAppendedAt(ld *loader, subject string, projected time.Time) time.Time {
	if t, ok := l.lastAppended.get(subject); ok && t.Seq > ld.versions[subject].Seq {
		ld.versions[subject] = t.Version
		return t.LastEventAt
	}
	return projected
}

// ownAppends are the stream sequences this ledger appended that the projections
// may not have applied yet, as ranges. A usage decision reads aggregates it
// does not write (users, their holdings, licences), so it must see every
// change acknowledged before it, by this ledger or another one sharing the
// stream. This ledger's own changes are applied before they are answered;
// so if every event the projections lack is one of its own usage batches,
// they already show every such change.
type ownAppends struct {
	mu     sync.Mutex
	ranges []seqRange // sorted by from, disjoint
}

type seqRange struct{ from, to uint64 }

// add records that this ledger appended [from, to], and forgets ranges at or
// below applied.
func (o *ownAppends) add(from, to, applied uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	kept := o.ranges[:0]
	for _, r := range o.ranges {
		if r.to > applied {
			kept = append(kept, r)
		}
	}
	i := len(kept)
	for i > 0 && kept[i-1].from > from {
		i--
	}
	o.ranges = slices.Insert(kept, i, seqRange{from, to})
}

// covers reports whether every sequence in [from, to] was appended by this
// ledger.
func (o *ownAppends) covers(from, to uint64) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	next := from
	for _, r := range o.ranges {
		if r.to < next {
			continue
		}
		if r.from > next {
			return false
		}
		next = r.to + 1
		if next > to {
			return true
		}
	}
	return next > to
}
