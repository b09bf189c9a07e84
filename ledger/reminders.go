package ledger

import (
	"context"
	"errors"
	"time"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/projections"
)

// DefaultReminderPoll bounds how long the reminder loop waits before it
// looks at the clock again (to see a UTC midnight pass).
const DefaultReminderPoll = time.Minute

// RunReminders emits the daily reminders of unassigned practitioner
// licences (G5) until ctx is done: one license.unassigned_reminder per active
// unassigned licence per UTC day, on the licence's reminder subject. A
// licence that becomes unassigned gets that day's reminder at once (if it has
// none yet); every later day's comes at 00:00 UTC by the ledger's clock, or
// at start-up when the ledger was down at midnight; missed days are not
// filled in.
//
// Exactly once: the reminder subject holds the last day reminded, the append
// is checked against its last sequence, and the event id is derived from
// (account, licence, day), so another ledger process or a retry never appends
// a day's reminder twice. Every process sharing the stream reminds; the
// one whose reminder JetStream refuses as a duplicate or a conflict takes
// the other's for its own, without an error (rule H5).
func (l *Ledger) RunReminders(ctx context.Context) error {
	reminded := map[projections.LicenceRef]string{} // the day each was last looked at
	for {
		cp := l.store.Checkpoint()
		now := l.Now()
		day := now.Format(time.DateOnly)
		refs, err := l.store.UnassignedLicences()
		if err != nil {
			return err
		}
		for _, ref := range refs {
			if reminded[ref] == day {
				continue
			}
			settled, err := l.remind(ctx, ref, day)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				l.logger.Warn("reminder not decided; will retry", "account", ref.Account, "license", ref.ID, "err", err)
				continue
			}
			if settled {
				reminded[ref] = day
			}
		}
		// Wake when the projections move (a licence may have become
		// unassigned), at the next midnight, or after the poll bound.
		wait := min(l.reminderPoll, now.Truncate(24*time.Hour).Add(24*time.Hour).Sub(now))
		wctx, cancel := context.WithTimeout(ctx, max(wait, time.Millisecond))
		err = l.store.WaitFor(wctx, cp+1)
		cancel()
		switch {
		case ctx.Err() != nil || errors.Is(err, projections.ErrClosed):
			return nil
		case err != nil && !errors.Is(err, context.DeadlineExceeded):
			return err
		}
	}
}

// remind decides one licence's reminder for day. It is settled unless
// another ledger process was appending the same reminder (rule H5): the
// next round, once the projections show it, finds it there.
func (l *Ledger) remind(ctx context.Context, ref projections.LicenceRef, day string) (settled bool, err error) {
	subj := events.ReminderSubject(ref.Account, ref.ID)
	ans, err := l.execute(ctx, Meta{Actor: alertActor}, command{name: "remind_unassigned", account: ref.Account, primary: subj, emitted: true,
		decide: func(ld *loader, now time.Time) ([]events.Event, error) {
			if now.Format(time.DateOnly) != day {
				return nil, nil // midnight passed: the next round reminds of the new day
			}
			log := load[commands.ReminderLog](ld, subj)
			lic := load[commands.License](ld, events.LicenseSubject(ref.Account, ref.ID))
			return commands.RemindUnassigned{Account: ref.Account, LicenseID: ref.ID, Day: day}.Decide(log, lic, now)
		}})
	return !ans.elsewhere, err
}
