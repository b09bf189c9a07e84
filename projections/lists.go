package projections

import (
	"encoding/json"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/entledger/ledger/events"
)

// Lists walk keys in key order from just after a key the caller names,
// never from an offset: each page reads one consistent snapshot of the
// store, and aggregate and account keys are never deleted, so a walk page
// by page meets every key that exists throughout it exactly once, however
// much is written between the pages.

// AggregatePage is one page of a walk over the aggregates of one kind in
// an account.
type AggregatePage[T any] struct {
	Items []T
	// Last is the key of the last aggregate examined (its id's subject
	// token, events.EncodeToken): the next page starts after it.
	Last string
	// More reports whether keys follow Last.
	More bool
}

// Aggregates returns the states of the account's aggregates of one kind
// (events.AggregateLicense, events.AggregateUser, …) whose keys follow
// after ("" from the first), in key order: up to limit of those keep
// accepts, examining at most budget aggregates. A page that examined its
// budget may hold fewer than limit items, none even, and still have More.
func Aggregates[T any](s *Store, account, aggregate, after string, limit, budget int, keep func(*T) bool) (AggregatePage[T], error) {
	prefix := aggKey(events.Subject(account, aggregate, ""))
	var page AggregatePage[T]
	examined := 0
	more, err := s.walkAfter(prefix, after, func(rest string, value []byte) (bool, error) {
		examined++
		page.Last = rest
		var rec record
		if err := rec.unmarshal(value); err != nil {
			return false, fmt.Errorf("projections: aggregate %s%s: %w", prefix[len(prefixAgg):], rest, err)
		}
		var st T
		if len(rec.State) > 0 {
			if err := json.Unmarshal(rec.State, &st); err != nil {
				return false, fmt.Errorf("projections: aggregate %s%s: %w", prefix[len(prefixAgg):], rest, err)
			}
		}
		if keep(&st) {
			page.Items = append(page.Items, st)
		}
		return len(page.Items) < limit && examined < budget, nil
	})
	page.More = more
	return page, err
}

// AccountsAfter returns up to limit account ids that sort after after (""
// from the first), in order, and whether more follow.
func (s *Store) AccountsAfter(after string, limit int) (ids []string, more bool, err error) {
	more, err = s.walkAfter([]byte("ac/"), after, func(rest string, _ []byte) (bool, error) {
		ids = append(ids, rest)
		return len(ids) < limit, nil
	})
	return ids, more, err
}

// walkAfter calls fn with the rest and the value of each key with prefix
// that sorts after prefix+after, in key order, on one snapshot, until fn
// returns false or an error; more reports whether keys remained then.
func (s *Store) walkAfter(prefix []byte, after string, fn func(rest string, value []byte) (bool, error)) (more bool, err error) {
	release, err := s.read()
	if err != nil {
		return false, err
	}
	defer release()
	lower := prefix
	if after != "" {
		// The least key greater than prefix+after.
		lower = append(append(append([]byte{}, prefix...), after...), 0)
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return false, fmt.Errorf("projections: list: %w", err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		cont, ferr := fn(string(it.Key()[len(prefix):]), it.Value())
		if ferr != nil {
			it.Close()
			return false, ferr
		}
		if !cont {
			more = it.Next()
			break
		}
	}
	if err := it.Close(); err != nil {
		return false, fmt.Errorf("projections: list: %w", err)
	}
	return more, nil
}
