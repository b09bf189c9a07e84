package ledger

import (
	"context"
	"errors"
	"time"

	"github.com/entledger/ledger/billing"
	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/projections"
)

// alertActor is the actor of the events the ledger emits itself (S3).
const alertActor = "ledger"

// DefaultAlertPause is the least time between two rounds of the alerter.
const DefaultAlertPause = 200 * time.Millisecond

// RunAlerter raises threshold alerts (G4) until ctx is done. The projections
// queue every UTC day on which pooled usage was applied while its product had
// a threshold, and the day a threshold was set (projections.AlertChecks);
// after each move of the projections the alerter checks the days whose entry
// changed since it last did: the first interval of the day with more
// machines in pooled use than the threshold raises one threshold.exceeded.
//
// Exactly once: the alert is appended to the product's alert subject with the
// expected-sequence check, decided against the days it already holds, and its
// event id is derived from (account, product, day), so another ledger process
// raising the same alert at the same time, or a retry after a crash between
// deciding and appending, appends nothing twice; the process whose alert
// JetStream refuses as a duplicate takes the other's for its own, without
// an error (rule H5). A queued day survives a
// restart (it is in the projections until its alert lands); after a restart
// every queued day is checked once more.
func (l *Ledger) RunAlerter(ctx context.Context) error {
	// checked holds, per queued day, the entry last decided: a day is
	// decided again only when its entry moves (more usage, another threshold).
	type day struct{ account, product, day string }
	checked := map[day]projections.AlertCheck{}
	for {
		cp := l.store.Checkpoint()
		checks, err := l.store.AlertChecks()
		if err != nil {
			return err
		}
		failed := false
		for _, c := range checks {
			k := day{c.Account, c.Product, c.Day}
			if checked[k] == c {
				continue
			}
			settled, err := l.checkAlert(ctx, c)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				l.logger.Warn("threshold alert not decided; will retry", "account", c.Account, "product", c.Product, "day", c.Day, "err", err)
				failed = true
				continue
			}
			if !settled {
				failed = true // looked at again soon, as after a failure, but it is none
				continue
			}
			checked[k] = c
		}
		// Wait for the projections to move; after a failed check, at most
		// a second, so the retry does not wait for unrelated traffic.
		wctx, cancel := ctx, context.CancelFunc(func() {})
		if failed {
			wctx, cancel = context.WithTimeout(ctx, time.Second)
		}
		err = l.store.WaitFor(wctx, cp+1)
		cancel()
		switch {
		case ctx.Err() != nil || errors.Is(err, projections.ErrClosed):
			return nil
		case err != nil && !errors.Is(err, context.DeadlineExceeded):
			return err
		}
		select {
		case <-time.After(l.alertPause):
		case <-ctx.Done():
			return nil
		}
	}
}

// checkAlert decides the alert of one queued day. It is settled unless
// another ledger process was appending the same alert (rule H5): the next
// round, once the projections show it, finds it there.
func (l *Ledger) checkAlert(ctx context.Context, c projections.AlertCheck) (settled bool, err error) {
	subj := events.AlertSubject(c.Account, c.Product)
	ans, err := l.execute(ctx, Meta{Actor: alertActor}, command{name: "raise_alert", account: c.Account, primary: subj, emitted: true,
		decide: func(ld *loader, now time.Time) ([]events.Event, error) {
			log := load[commands.AlertLog](ld, subj)
			if !log.Set || log.Alerted(c.Day) || log.MaxMachines != c.MaxMachines {
				// No threshold, the day's alert is there, or the day was
				// queued under a threshold no longer in force: a threshold
				// set since queued its own day.
				return nil, nil
			}
			over, err := l.firstCrossing(c.Account, c.Product, c.Day, log.MaxMachines)
			if err != nil {
				return nil, err
			}
			return commands.RaiseAlert{Account: c.Account, Product: c.Product, Day: c.Day}.Decide(log, over, now)
		}})
	return !ans.elsewhere, err
}

// firstCrossing is the first interval of day with more than max machines in
// pooled use, or nil.
func (l *Ledger) firstCrossing(account, product, day string, max int) (*commands.Crossing, error) {
	from, err := time.Parse(time.DateOnly, day)
	if err != nil {
		return nil, err
	}
	to := from.Add(24 * time.Hour)
	spans, err := l.store.PooledSpans(account, product, from, to, 0)
	if err != nil {
		return nil, err
	}
	// A threshold counts distinct machines over every country (G4): not
	// per country pool as billing does (G9).
	for _, start := range billing.Crowded(spans, from, to, max) {
		ev := billing.EvidenceAt(spans, nil, start)
		c := &commands.Crossing{IntervalStart: start, Count: len(ev.Machines), Machines: make([]string, 0, len(ev.Machines))}
		for _, m := range ev.Machines {
			c.Machines = append(c.Machines, m.MachineID)
		}
		return c, nil
	}
	return nil, nil
}

// Alerts returns the account's alerts of the UTC days in [fromDay, toDay]
// (G4, G8).
func (l *Ledger) Alerts(account, fromDay, toDay string) ([]projections.Alert, error) {
	if _, err := l.Account(account); err != nil {
		return nil, err
	}
	return l.store.Alerts(account, fromDay, toDay)
}
