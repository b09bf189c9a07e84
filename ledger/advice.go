package ledger

import (
	"context"
	"runtime"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/entledger/ledger/billing"
	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/projections"
)

// Advice returns how the account could have paid less in period q, per
// product billed units (G11): the leak, the users whose pooled use cost
// most and the plan for its free practitioner licences, computed from the
// same events as the report (G9). With asOf > 0 it is computed from the
// events at or below that sequence, and "now" (which licences are free,
// who could take one) is when the ledger recorded event asOf: the same
// bytes whenever it is asked. With asOf 0 it is computed as of the
// projections' checkpoint when it starts, which its as_of_seq names, and
// "now" is the ledger's clock.
func (l *Ledger) Advice(ctx context.Context, account string, q billing.Period, asOf uint64) (billing.Advice, error) {
	if q == (billing.Period{}) {
		return billing.Advice{}, commands.Invalid("quarter", "required: a quarter or a month")
	}
	if err := l.awaitBilling(ctx, account, asOf); err != nil {
		return billing.Advice{}, err
	}
	key := reportKey{account: account, period: q, asOf: asOf}
	if asOf > 0 {
		if adv, ok := l.advice.get(key); ok {
			return adv, nil
		}
	}
	bound, now := asOf, l.Now()
	if bound == 0 {
		bound = l.store.Checkpoint()
	} else {
		var err error
		if now, err = l.recordedAt(ctx, asOf); err != nil {
			return billing.Advice{}, err
		}
	}
	products, err := l.store.BillingProducts(account)
	if err != nil {
		return billing.Advice{}, err
	}
	lines := make([]*billing.ProductAdvice, len(products))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, p := range products {
		g.Go(func() error {
			adv, err := l.productAdvice(account, p, q, bound, now)
			lines[i] = adv
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return billing.Advice{}, err
	}
	adv := billing.NewAdvice(account, q, bound)
	for _, line := range lines {
		if line != nil {
			adv.Products = append(adv.Products, *line)
		}
	}
	if asOf > 0 {
		l.advice.put(key, adv)
	}
	return adv, nil
}

// productAdvice is one product's advice as of bound, or nil when the product
// bills no units in the period.
func (l *Ledger) productAdvice(account, p string, q billing.Period, bound uint64, now time.Time) (*billing.ProductAdvice, error) {
	advisor, emails := billing.NewAdvisor(q), map[string]bool{}
	err := l.store.EachPooled(account, p, q.Start(), q.End(), bound, projections.WithEmails, func(r billing.Record) {
		advisor.Add(r)
		emails[r.Email] = true
	})
	if err != nil || len(emails) == 0 {
		return nil, err
	}
	lics, err := l.store.CommercialLicences(account, p, bound)
	if err != nil {
		return nil, err
	}
	lics = slices.DeleteFunc(lics, func(lic billing.Licence) bool { return !lic.Overlaps(q) })
	candidates, err := l.couldHoldLicence(account, emails, bound)
	if err != nil {
		return nil, err
	}
	available, err := l.freePractitionerLicences(account, p, bound, now)
	if err != nil {
		return nil, err
	}
	adv, ok := advisor.Advise(p, lics, candidates, available)
	if !ok {
		return nil, nil
	}
	return &adv, nil
}

// couldHoldLicence returns, sorted, the emails of pooled use (used) that
// could be given a practitioner licence as of bound (C1, A3): registered,
// with an entitlement country, holding none. Only emails with pooled use
// can lower the units, so only theirs are looked at.
func (l *Ledger) couldHoldLicence(account string, used map[string]bool, bound uint64) ([]string, error) {
	emails := make([]string, 0, len(used))
	for e := range used {
		emails = append(emails, e)
	}
	slices.Sort(emails)
	out := emails[:0]
	for _, e := range emails {
		u, err := stateAtSeq[commands.User](l, events.UserSubject(account, e), bound)
		if err != nil {
			return nil, err
		}
		if u.Registered && u.EntitlementCountry != "" && u.LicenseID == "" {
			out = append(out, e)
		}
	}
	return out, nil
}

// freePractitionerLicences counts the account's practitioner licences
// covering product that are active at now and unassigned as of bound (G11).
func (l *Ledger) freePractitionerLicences(account, product string, bound uint64, now time.Time) (int, error) {
	n, after := 0, ""
	for {
		page, err := projections.Aggregates(l.store, account, events.AggregateLicense, after, 1000, 1000,
			func(lic *commands.License) bool {
				return lic.Kind == events.KindPractitioner && slices.Contains(lic.Products, product)
			})
		if err != nil {
			return 0, err
		}
		for _, cur := range page.Items {
			lic, err := stateAtSeq[commands.License](l, events.LicenseSubject(account, cur.ID), bound)
			if err != nil {
				return 0, err
			}
			if lic.Exists() && lic.Assignee == "" && lic.ActiveAt(now) {
				n++
			}
		}
		if !page.More {
			return n, nil
		}
		after = page.Last
	}
}

// recordedAt is when the ledger recorded the event at stream sequence seq:
// the "now" of an answer as of seq. A message that is no event of the
// ledger gives the time the stream stored it.
func (l *Ledger) recordedAt(ctx context.Context, seq uint64) (time.Time, error) {
	msg, err := l.stream.GetMsg(ctx, seq)
	if err != nil {
		return time.Time{}, err
	}
	if e, err := events.Unmarshal(msg.Data); err == nil {
		return e.RecordedAt.UTC(), nil
	}
	return msg.Time.UTC(), nil
}

// adviceCache keeps advice as of a sequence, which never changes.
type adviceCache struct {
	mu sync.Mutex
	m  map[reportKey]billing.Advice
}

func (c *adviceCache) get(k reportKey) (billing.Advice, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.m[k]
	return a, ok
}

func (c *adviceCache) put(k reportKey, a billing.Advice) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxCachedReports {
		c.m = map[reportKey]billing.Advice{}
	}
	c.m[k] = a
}
