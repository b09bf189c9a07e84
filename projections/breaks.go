package projections

import (
	"encoding/json"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/entledger/ledger/events"
)

// Account is the account whose subject the break is on, or "" for a
// subject of no one account: the _global aggregates, or a subject that is
// not a ledger subject at all.
func (b Break) Account() string {
	account, _, _, err := events.ParseSubject(b.Subject)
	if err != nil || account == events.GlobalAccount {
		return ""
	}
	return account
}

// OnBreaks has f told of the breaks each Apply records, once, after they
// are committed and before the checkpoint moves past them: a caller that
// waits for a sequence (WaitFor) finds f done with every break up to it.
// f runs on the applying goroutine, so it must be quick (log, count). Breaks
// recorded by an earlier process or an earlier store are not told again: a
// restarted store applies only what follows its checkpoint. nil stops
// telling.
func (s *Store) OnBreaks(f func([]Break)) {
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	s.onBreaks = f
}

// BreakSummary is how many breaks the store holds, and the first (the
// lowest sequence; ok false when there is none), without reading them: it
// is kept in memory, for a probe that asks often.
func (s *Store) BreakSummary() (n int, first Break, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.breaks, s.mu.firstBreak, s.mu.breaks > 0
}

// noteBreaks adds the breaks a committed batch recorded, in stream order,
// to the summary and tells the OnBreaks hook. It runs under applyMu.
func (s *Store) noteBreaks(bs []Break) {
	if len(bs) == 0 {
		return
	}
	s.mu.Lock()
	if s.mu.breaks == 0 {
		s.mu.firstBreak = bs[0]
	}
	s.mu.breaks += len(bs)
	s.mu.Unlock()
	if s.onBreaks != nil {
		s.onBreaks(bs)
	}
}

// loadBreakSummary counts the breaks in db and reads the first, for Open.
func loadBreakSummary(db *pebble.DB) (n int, first Break, err error) {
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: prefixBreak, UpperBound: prefixEnd(prefixBreak)})
	if err != nil {
		return 0, first, fmt.Errorf("projections: breaks: %w", err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		if n == 0 {
			if err := json.Unmarshal(it.Value(), &first); err != nil {
				it.Close()
				return 0, first, fmt.Errorf("projections: break: %w", err)
			}
		}
		n++
	}
	return n, first, it.Close()
}
