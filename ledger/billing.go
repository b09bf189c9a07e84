package ledger

import (
	"context"
	"runtime"
	"sync"
	"time"

	"github.com/entledger/ledger/billing"
	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
	"golang.org/x/sync/errgroup"
)

// MaxPeakRange is the longest range of a peaks series one request may ask
// for: a quarter and then some.
const MaxPeakRange = 100 * 24 * time.Hour

// ParsePeriod reads the period of a report, a quarter ("YYYY-Qn") or a
// month ("YYYY-MM"), exactly one of them given (G10), as billing.ParsePeriod
// does, refusing a bad one as invalid_argument naming its field.
func ParsePeriod(quarter, month string) (billing.Period, error) {
	p, err := billing.ParsePeriod(quarter, month)
	if pe, ok := err.(*billing.PeriodError); ok {
		return p, commands.Invalid(pe.Field, "%s", pe.Message)
	}
	if err != nil {
		return p, err
	}
	// In the years every client time is in (commands.Instant).
	if _, err := commands.Instant(p.Field(), p.Start()); err != nil {
		return billing.Period{}, err
	}
	return p, nil
}

// QTL returns the account's term licence report for period q, a quarter
// or a month, per product (G2, G3, G9, G10). With asOf > 0 it is computed
// from the events at or below that stream sequence only, and is the same,
// byte for byte, whenever it is asked (G6); with asOf 0 it reflects
// everything the stream holds now, and its as_of_seq is the newest event it
// depends on.
func (l *Ledger) QTL(ctx context.Context, account string, q billing.Period, asOf uint64) (billing.Report, error) {
	if q == (billing.Period{}) {
		return billing.Report{}, commands.Invalid("quarter", "required: a quarter or a month")
	}
	if err := l.awaitBilling(ctx, account, asOf); err != nil {
		return billing.Report{}, err
	}
	key := reportKey{account: account, period: q, asOf: asOf}
	version := l.store.BillingVersion(account)
	if rep, ok := l.reports.get(key, version); ok {
		return rep, nil
	}
	// A report of everything is computed as of the projections' checkpoint
	// when it starts: every read below stops there, so the events applied
	// meanwhile cannot tear it, and its as_of_seq reproduces it.
	bound := asOf
	if bound == 0 {
		bound = l.store.Checkpoint()
	}
	rep, err := l.computeQTL(account, q, bound)
	if err != nil {
		return billing.Report{}, err
	}
	if asOf == 0 {
		rep.AsOfSeq = rep.newest
	}
	l.reports.put(key, version, rep.Report)
	return rep.Report, nil
}

// QTLCached reports whether QTL(account, q, asOf) would be answered from
// the cache without a computation, as a report as of a sequence is once
// computed (G6), and a live one while nothing billing-relevant was applied
// since: such an answer costs nothing (S9).
func (l *Ledger) QTLCached(account string, q billing.Period, asOf uint64) bool {
	_, ok := l.reports.get(reportKey{account: account, period: q, asOf: asOf}, l.store.BillingVersion(account))
	return ok
}

// computedReport is a report with the newest sequence it depends on.
type computedReport struct {
	billing.Report
	newest uint64
}

// computeQTL computes the report of the events at or below asOf. Products
// are computed concurrently (each reads and counts its own records).
func (l *Ledger) computeQTL(account string, q billing.Period, asOf uint64) (computedReport, error) {
	products, err := l.store.BillingProducts(account)
	if err != nil {
		return computedReport{}, err
	}
	lines := make([]*billing.ProductReport, len(products))
	seqs := make([]uint64, len(products))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, p := range products {
		g.Go(func() error {
			line, seq, err := l.productLine(account, p, q, asOf)
			lines[i], seqs[i] = line, seq
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return computedReport{}, err
	}
	rep := computedReport{Report: billing.NewReport(account, q, asOf)}
	for i, line := range lines {
		if line != nil {
			rep.Products = append(rep.Products, *line)
			rep.newest = max(rep.newest, seqs[i])
		}
	}
	return rep, nil
}

// productLine is one product's line of the period's report as of asOf,
// or nil when the product was neither licensed nor used in the period, and
// the newest sequence the line depends on.
func (l *Ledger) productLine(account, p string, q billing.Period, asOf uint64) (*billing.ProductReport, uint64, error) {
	counter := billing.NewPeakCounter(q)
	if err := l.store.EachPooled(account, p, q.Start(), q.End(), asOf, 0, counter.Add); err != nil {
		return nil, 0, err
	}
	lics, err := l.store.CommercialLicences(account, p, asOf)
	if err != nil {
		return nil, 0, err
	}
	var inQuarter []billing.Licence
	for _, lic := range lics {
		if lic.Overlaps(q) {
			inQuarter = append(inQuarter, lic)
		}
	}
	peak, seq := counter.Peak(inQuarter)
	switch {
	case peak != nil:
		// The evidence of the peak alone needs the usage ids.
		ev, err := l.store.PooledUsage(account, p, *peak, peak.Add(billing.Interval), asOf)
		if err != nil {
			return nil, 0, err
		}
		line := billing.PeakLine(p, billing.EvidenceAt(ev, inQuarter, *peak))
		return &line, seq, nil
	case len(inQuarter) > 0:
		line := billing.NoPeak(p, inQuarter, q)
		return &line, seq, nil
	}
	return nil, 0, nil // neither licensed nor used this period
}

// Accounts returns the ids of every account, sorted.
func (l *Ledger) Accounts() ([]string, error) { return l.store.Accounts() }

// Peaks returns the 10-minute series of a product's pooled use in [from, to)
// (G7): the intervals with pooled use, each with its count, seats and over.
func (l *Ledger) Peaks(ctx context.Context, account, product string, from, to time.Time) ([]billing.Point, error) {
	if _, err := l.Account(account); err != nil {
		return nil, err
	}
	if err := commands.ProductID("product", product); err != nil {
		return nil, err
	}
	if !to.After(from) {
		return nil, commands.Invalid("to", "to %s is not after from %s", to.Format(time.RFC3339), from.Format(time.RFC3339))
	}
	if to.Sub(from) > MaxPeakRange {
		return nil, commands.Invalid("to", "a series spans at most %s; ask for less", MaxPeakRange)
	}
	if err := l.awaitBilling(ctx, account, 0); err != nil {
		return nil, err
	}
	records, lics, err := l.billingInput(account, product, from, to, 0)
	if err != nil {
		return nil, err
	}
	return billing.Series(records, lics, from, to), nil
}

// PeakEvidence returns one interval of a product's pooled use with every
// machine counted in it and the usage ids that put each there (G7).
func (l *Ledger) PeakEvidence(ctx context.Context, account, product string, start time.Time) (billing.Evidence, error) {
	if _, err := l.Account(account); err != nil {
		return billing.Evidence{}, err
	}
	if err := commands.ProductID("product", product); err != nil {
		return billing.Evidence{}, err
	}
	if !billing.IsIntervalStart(start) {
		return billing.Evidence{}, commands.Invalid("interval_start", "%s does not start a 10-minute interval (hh:m0:00Z)",
			start.Format(time.RFC3339Nano))
	}
	if err := l.awaitBilling(ctx, account, 0); err != nil {
		return billing.Evidence{}, err
	}
	records, lics, err := l.billingInput(account, product, start, start.Add(billing.Interval), 0)
	if err != nil {
		return billing.Evidence{}, err
	}
	return billing.EvidenceAt(records, lics, start), nil
}

// awaitBilling checks the account exists and waits until the projections
// show what a billing answer reads: every event at or below asOf (which must
// be in the stream), or with asOf 0 everything the stream holds now.
func (l *Ledger) awaitBilling(ctx context.Context, account string, asOf uint64) error {
	if _, err := l.Account(account); err != nil {
		return err
	}
	if asOf == 0 {
		return l.catchUp(ctx)
	}
	info, err := l.stream.Info(ctx)
	if err != nil {
		return err
	}
	if asOf > info.State.LastSeq {
		return commands.Invalid("as_of_seq", "%d is beyond the stream, whose last sequence is %d", asOf, info.State.LastSeq).
			With("last_seq", info.State.LastSeq)
	}
	return l.store.WaitFor(ctx, asOf)
}

// billingInput reads the pooled usage and the commercial licences of a
// product that count in [from, to), as of stream sequence asOf (0: now).
func (l *Ledger) billingInput(account, product string, from, to time.Time, asOf uint64) ([]billing.Record, []billing.Licence, error) {
	records, err := l.store.PooledUsage(account, product, from, to, asOf)
	if err != nil {
		return nil, nil, err
	}
	lics, err := l.store.CommercialLicences(account, product, asOf)
	return records, lics, err
}

// QTLAll calls each with the report of every account for period q, in
// account order, all as of one stream sequence (the stream's last when the
// call starts), so a billing run gets one consistent set of reports.
func (l *Ledger) QTLAll(ctx context.Context, q billing.Period, each func(billing.Report) error) error {
	if q == (billing.Period{}) {
		return commands.Invalid("quarter", "required: a quarter or a month")
	}
	info, err := l.stream.Info(ctx)
	if err != nil {
		return err
	}
	asOf := info.State.LastSeq
	if err := l.store.WaitFor(ctx, asOf); err != nil {
		return err
	}
	accounts, err := l.store.AccountsAsOf(asOf) // the accounts the reports' sequence knows
	if err != nil {
		return err
	}
	for _, a := range accounts {
		if asOf == 0 {
			break
		}
		rep, err := l.QTL(ctx, a, q, asOf)
		if err != nil {
			return err
		}
		if err := each(rep); err != nil {
			return err
		}
	}
	return nil
}

// reportCache keeps computed QTL reports. A report as of a sequence never
// changes; a report of everything stays true while the account's billing
// version (projections.Store.BillingVersion) is the one it was computed at.
type reportCache struct {
	mu sync.Mutex
	m  map[reportKey]cachedReport
}

type reportKey struct {
	account string
	period  billing.Period
	asOf    uint64
}

type cachedReport struct {
	version uint64
	report  billing.Report
}

// maxCachedReports bounds the cache; past it, it starts again empty.
const maxCachedReports = 4096

func (c *reportCache) get(k reportKey, version uint64) (billing.Report, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.m[k]
	if !ok || (k.asOf == 0 && r.version != version) {
		return billing.Report{}, false
	}
	return r.report, true
}

func (c *reportCache) put(k reportKey, version uint64, rep billing.Report) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxCachedReports {
		c.m = map[reportKey]cachedReport{}
	}
	c.m[k] = cachedReport{version: version, report: rep}
}

// SetThreshold sets a product's threshold: alert when more than MaxMachines
// machines are in pooled use (G8). The alerts themselves (G4) are not built
// yet.
func (l *Ledger) SetThreshold(ctx context.Context, meta Meta, c commands.SetThreshold) (Result[commands.AlertLog], error) {
	if err := l.requireAccount(ctx, meta, c.Account); err != nil {
		return Result[commands.AlertLog]{}, err
	}
	c, err := c.Normalize()
	if err != nil {
		return Result[commands.AlertLog]{}, err
	}
	subj := events.AlertSubject(c.Account, c.Product)
	return run[commands.AlertLog](ctx, l, meta, command{name: "set_threshold", account: c.Account, primary: subj,
		decide: func(ld *loader, now time.Time) ([]events.Event, error) {
			return c.Decide(load[commands.AlertLog](ld, subj), now)
		}})
}

// ClearThreshold removes a product's threshold (G8).
func (l *Ledger) ClearThreshold(ctx context.Context, meta Meta, c commands.ClearThreshold) (Result[commands.AlertLog], error) {
	if err := l.requireAccount(ctx, meta, c.Account); err != nil {
		return Result[commands.AlertLog]{}, err
	}
	c, err := c.Normalize()
	if err != nil {
		return Result[commands.AlertLog]{}, err
	}
	subj := events.AlertSubject(c.Account, c.Product)
	return run[commands.AlertLog](ctx, l, meta, command{name: "clear_threshold", account: c.Account, primary: subj,
		decide: func(ld *loader, now time.Time) ([]events.Event, error) {
			return c.Decide(load[commands.AlertLog](ld, subj), now)
		}})
}

// Thresholds returns the account's thresholds in force, by product.
func (l *Ledger) Thresholds(account string) ([]commands.AlertLog, error) {
	if _, err := l.Account(account); err != nil {
		return nil, err
	}
	return l.store.Thresholds(account)
}
