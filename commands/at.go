package commands

import (
	"time"

	"github.com/entledger/ledger/events"
)

// businessTime resolves a command's optional business time `at` (docs/api.md):
// the ledger's clock when absent; never more than FutureSkew ahead of it
// (at_in_future); never before the last event of an aggregate the command
// changes (at_before_last_event), so each aggregate's history stays in order.
// Without an explicit at, a command right after one dated up to FutureSkew
// ahead takes that event's time instead of failing.
func businessTime(at, now time.Time, lastEvents ...time.Time) (time.Time, error) {
	if at.IsZero() {
		// The ledger's clock, or a later last event (dated ahead by an
		// explicit at, or by another ledger's clock): events stay in order
		// and a command without at is never refused for its time.
		at = now.UTC()
		for _, last := range lastEvents {
			if last.After(at) {
				at = last.UTC()
			}
		}
		return at, nil
	}
	if _, err := Instant("at", at); err != nil {
		return time.Time{}, err
	}
	at = at.UTC()
	if at.After(now.Add(FutureSkew)) {
		return time.Time{}, Reject(CodeAtInFuture, "at %s is more than %s ahead of the ledger's clock",
			at.Format(time.RFC3339), FutureSkew).With("at", at).With("now", now)
	}
	for _, last := range lastEvents {
		if at.Before(last) {
			return time.Time{}, Reject(CodeAtBeforeLastEvent,
				"at %s is earlier than the last event (%s) of an aggregate this command changes",
				at.Format(time.RFC3339Nano), last.UTC().Format(time.RFC3339Nano)).With("last_event_at", last)
		}
	}
	return at, nil
}

func event(account, id string, at time.Time, d events.Data) events.Event {
	return events.Event{Account: account, AggregateID: id, OccurredAt: at, Data: d}
}
