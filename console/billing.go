package console

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/entledger/ledger/api"
	"github.com/entledger/ledger/billing"
	"github.com/entledger/ledger/projections"
)

// usageIDsShown bounds the usage ids listed for one machine of a peak.
const usageIDsShown = 20

// billingPageData is the usage and billing page of an account.
type billingPageData struct {
	frame
	// Period is the quarter (2026-Q4) or month (2026-11) of the report, as
	// asked (G10); PeriodField says which ("quarter" or "month").
	Period, PeriodField, Product string
	Periods                      []string // recent quarters, then recent months
	Products                     []string
	From, To                     string // the range of the charts, UTC days
	QTL                          *billing.Report
	QTLProblem                   string
	Advice                       []adviceView // per product billed units (G11)
	AdviceProblem                string
	Evidence                     map[string]evidenceView // by product
	Daily                        []dailyView
	DailyProblem                 string
	Peaks                        template.HTML
	PeakPoints                   []billing.Point // the intervals above the seats, for the table
	PeakCount                    int             // intervals with pooled use
	PeakOver                     int             // intervals above the seats
	PeakProblem                  string
	Thresholds                   []api.ThresholdView
	Alerts                       []projections.Alert
	AlertsProblem                string
	// The threshold form: what was entered and its refusal.
	ThresholdProduct, ThresholdMax, ThresholdProblem string
}

// adviceView is one product's advice in words an administrator acts on
// (G11).
type adviceView struct {
	Product string
	Units   int
	Plan    string // what to do with the free practitioner licences
	Leak    string // the practitioners billed as pooled because of old clients; "" when none
	Users   []billing.UserSaving
}

// evidenceView is the machines behind a product's peak interval (G7).
type evidenceView struct {
	Machines []machineView
	Problem  string
}

// machineView is one machine of a peak and the usage that put it there.
type machineView struct {
	ID       string
	UsageIDs []string
	More     int
}

// dailyView is one product's daily use, drawn and tabled.
type dailyView struct {
	Product string
	Chart   template.HTML
	Days    []dayUse
}

// billingPage shows per product the daily pooled and practitioner use, a
// product's 10-minute series against seats, the QTL of a quarter with its
// peak interval, units and machines (G2, G7), the thresholds and alerts
// (G4, G8). Each part that the API refuses says why, and the rest stays.
func (c *Console) billingPage(w http.ResponseWriter, r *http.Request, s session) error {
	return c.showBilling(w, r, s, http.StatusOK, "", "", "")
}

func (c *Console) showBilling(w http.ResponseWriter, r *http.Request, s session, status int, thrProduct, thrMax, thrProblem string) error {
	account := r.PathValue("account")
	q := r.URL.Query()
	var acct api.AccountView
	if err := c.get(r.Context(), s, apiPath("accounts", account), &acct); err != nil {
		return err
	}
	now := c.now().UTC()
	d := billingPageData{Product: q.Get("product"),
		Evidence: map[string]evidenceView{}, ThresholdProduct: thrProduct, ThresholdMax: thrMax, ThresholdProblem: thrProblem}
	period := pagePeriod(q, now, &d)
	d.Periods = recentPeriods(now)
	if !slices.Contains(d.Periods, d.Period) {
		d.Periods = append([]string{d.Period}, d.Periods...)
	}
	from, to := c.chartRange(period, q.Get("from"), q.Get("to"))
	d.From, d.To = from.Format(dayLayout), to.Format(dayLayout)
	for _, load := range []func(*http.Request, session, *billingPageData, time.Time, time.Time) error{
		c.loadQTL, c.loadAdvice, c.loadDaily, c.loadPeaks, c.loadThresholds,
	} {
		if err := load(r, s, &d, from, to); err != nil {
			return err
		}
	}
	d.frame = c.frame(s, account, "billing", "Usage and billing")
	c.render(w, r, status, "billing.html", d)
	return nil
}

// loadQTL reads the quarter's QTL report and the machines behind each
// peak (G2, G7).
func (c *Console) loadQTL(r *http.Request, s session, d *billingPageData, _, _ time.Time) error {
	account := r.PathValue("account")
	var rep billing.Report
	if err := c.get(r.Context(), s, withQuery(apiPath("accounts", account, "qtl"), url.Values{d.PeriodField: {d.Period}}), &rep); err != nil {
		var perr error
		d.QTLProblem, perr = partProblem("QTL", err)
		return perr
	}
	d.QTL = &rep
	for _, p := range rep.Products {
		d.Products = append(d.Products, p.Product)
		if p.PeakInterval != nil {
			ev, err := c.evidence(r, s, account, p.Product, *p.PeakInterval)
			if err != nil {
				return err
			}
			d.Evidence[p.Product] = ev
		}
	}
	return nil
}

// loadAdvice reads how the account could have paid less in the period and
// puts it in words (G11).
func (c *Console) loadAdvice(r *http.Request, s session, d *billingPageData, _, _ time.Time) error {
	if d.QTL != nil && !slices.ContainsFunc(d.QTL.Products, func(p billing.ProductReport) bool { return p.Units > 0 }) {
		return nil // nothing billed: no advice to ask for (G11)
	}
	var adv billing.Advice
	if err := c.get(r.Context(), s, withQuery(apiPath("accounts", r.PathValue("account"), "qtl", "advice"),
		url.Values{d.PeriodField: {d.Period}}), &adv); err != nil {
		var perr error
		d.AdviceProblem, perr = partProblem("advice", err)
		return perr
	}
	for _, p := range adv.Products {
		d.Advice = append(d.Advice, adviseInWords(p, d.PeriodField))
	}
	return nil
}

// adviseInWords says what a product's advice means for the period ("the
// quarter" or "the month").
func adviseInWords(p billing.ProductAdvice, period string) adviceView {
	v := adviceView{Product: p.Product, Units: p.Units, Users: p.Users}
	licences := plural(p.Plan.LicencesAvailable, "unassigned practitioner licence")
	switch {
	case p.Plan.LicencesAvailable == 0:
		v.Plan = fmt.Sprintf("No practitioner licence covering %s is free: a user who holds one never counts towards the units.", p.Product)
	case len(p.Plan.Assign) == 0:
		v.Plan = fmt.Sprintf("Assigning your %s would not have lowered the units: nobody who could take one caused the peak alone.", licences)
	case len(p.Plan.Assign) == p.Plan.LicencesAvailable:
		v.Plan = fmt.Sprintf("Assign your %s to %s: the %s would have cost %s instead of %d.", licences, andList(p.Plan.Assign),
			period, plural(p.Plan.UnitsAfter, "unit"), p.Units)
	default:
		v.Plan = fmt.Sprintf("Assign %d of your %s to %s: the %s would have cost %s instead of %d; more would not have lowered it.",
			len(p.Plan.Assign), licences, andList(p.Plan.Assign), period, plural(p.Plan.UnitsAfter, "unit"), p.Units)
	}
	if n := p.Leak.Records; n > 0 {
		were := "were"
		if n == 1 {
			were = "was"
		}
		v.Leak = fmt.Sprintf("%s by practitioners on clients older than 10.00.18 %s billed as pooled: %s. Update their clients to "+
			"10.00.18 or later and their licences cover that use.", plural(n, "session"), were, plural(p.Units-p.Leak.UnitsWithout, "unit"))
	}
	return v
}

// plural is n and noun, with an s when n is not 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// andList joins names as a sentence does: "a", "a and b", "a, b and c".
func andList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// loadDaily reads the use per product and day (F5) and draws each
// product's chart.
func (c *Console) loadDaily(r *http.Request, s session, d *billingPageData, from, to time.Time) error {
	var sum struct {
		Days []struct {
			Product string `json:"product"`
			Day     string `json:"day"`
			dayTotals
		} `json:"days"`
	}
	if err := c.get(r.Context(), s, withQuery(apiPath("accounts", r.PathValue("account"), "usage", "summary"),
		url.Values{"from": {d.From}, "to": {d.To}}), &sum); err != nil {
		var perr error
		d.DailyProblem, perr = partProblem("daily use", err)
		return perr
	}
	byProduct := map[string][]dayUse{}
	var order []string
	for _, day := range sum.Days {
		if _, ok := byProduct[day.Product]; !ok {
			order = append(order, day.Product)
		}
		byProduct[day.Product] = append(byProduct[day.Product], dayUse{Day: day.Day, Pooled: day.Pooled,
			Practitioner: day.Practitioner, Trial: day.Trial})
		if !slices.Contains(d.Products, day.Product) {
			d.Products = append(d.Products, day.Product)
		}
	}
	for _, p := range order {
		d.Daily = append(d.Daily, dailyView{Product: p, Chart: dailyChart(p, byProduct[p], from, to), Days: byProduct[p]})
	}
	return nil
}

// loadPeaks reads the 10-minute series of the product asked for, or of the
// one that bills the most units, and draws it against the seats (G1, G7).
func (c *Console) loadPeaks(r *http.Request, s session, d *billingPageData, from, to time.Time) error {
	if d.Product == "" && len(d.Products) > 0 {
		d.Product = d.Products[0]
		if d.QTL != nil {
			best := -1
			for _, p := range d.QTL.Products {
				if p.PeakInterval != nil && p.Units > best {
					d.Product, best = p.Product, p.Units
				}
			}
		}
	}
	if d.Product == "" {
		return nil
	}
	var series struct {
		Intervals []billing.Point `json:"intervals"`
	}
	end := to.AddDate(0, 0, 1)
	if err := c.get(r.Context(), s, withQuery(apiPath("accounts", r.PathValue("account"), "peaks"), url.Values{"product": {d.Product},
		"from": {from.Format(time.RFC3339)}, "to": {end.Format(time.RFC3339)}}), &series); err != nil {
		var perr error
		d.PeakProblem, perr = partProblem("10-minute series", err)
		return perr
	}
	d.Peaks, d.PeakCount = peakChart(d.Product, series.Intervals, from, end), len(series.Intervals)
	for _, p := range series.Intervals {
		if p.Over > 0 {
			d.PeakOver++
			if len(d.PeakPoints) < 100 {
				d.PeakPoints = append(d.PeakPoints, p)
			}
		}
	}
	return nil
}

// loadThresholds reads the thresholds in force and the alerts of the
// range (G4, G8).
func (c *Console) loadThresholds(r *http.Request, s session, d *billingPageData, _, _ time.Time) error {
	account := r.PathValue("account")
	var thr struct {
		Thresholds []api.ThresholdView `json:"thresholds"`
	}
	if err := c.get(r.Context(), s, apiPath("accounts", account, "thresholds"), &thr); err != nil {
		if _, perr := partProblem("thresholds", err); perr != nil {
			return perr
		}
	}
	d.Thresholds = thr.Thresholds
	var alerts struct {
		Alerts []projections.Alert `json:"alerts"`
	}
	if err := c.get(r.Context(), s, withQuery(apiPath("accounts", account, "alerts"), url.Values{"from": {d.From}, "to": {d.To}}), &alerts); err != nil {
		var perr error
		d.AlertsProblem, perr = partProblem("alerts", err)
		return perr
	}
	d.Alerts = alerts.Alerts
	return nil
}

// dayTotals are a summary row's totals per classification.
type dayTotals struct {
	Pooled       useTotals `json:"pooled"`
	Practitioner useTotals `json:"practitioner"`
	Trial        useTotals `json:"trial"`
}

// pagePeriod reads the page's period (G10): quarter=, month=, or period=
// (the form's one select, holding either), with the current quarter when
// none is given. It fills d's Period and PeriodField as asked, and returns
// the period, or nil when it does not read: that one is sent to the API as
// asked, which says what is wrong with it.
func pagePeriod(q url.Values, now time.Time, d *billingPageData) *billing.Period {
	quarter, month := strings.TrimSpace(q.Get("quarter")), strings.TrimSpace(q.Get("month"))
	if v := strings.TrimSpace(q.Get("period")); v != "" && quarter == "" && month == "" {
		if strings.Contains(v, "Q") {
			quarter = v
		} else {
			month = v
		}
	}
	if quarter == "" && month == "" {
		quarter = billing.QuarterOf(now).String()
	}
	d.Period, d.PeriodField = quarter, "quarter"
	if quarter == "" {
		d.Period, d.PeriodField = month, "month"
	}
	p, err := billing.ParsePeriod(quarter, month)
	if err != nil {
		return nil
	}
	return &p
}

// recentPeriods are the current quarter and the seven before it, newest
// first, then the current month and the eleven before it.
func recentPeriods(now time.Time) []string {
	out := make([]string, 0, 20)
	t := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	for i := range 8 {
		out = append(out, billing.QuarterOf(t.AddDate(0, -3*i, 0)).String())
	}
	for i := range 12 {
		out = append(out, billing.MonthOf(t.AddDate(0, -i, 0)).String())
	}
	return out
}

// chartRange is the range of days the charts show: as asked, else the
// period up to today (the last 30 days without a period that reads).
func (c *Console) chartRange(period *billing.Period, fromDay, toDay string) (from, to time.Time) {
	today := c.now().UTC().Truncate(24 * time.Hour)
	qFrom, qTo := today.AddDate(0, 0, -29), today.AddDate(0, 0, 1)
	if period != nil {
		qFrom, qTo = period.Start(), period.End()
	}
	from, to = qFrom, qTo.AddDate(0, 0, -1)
	if to.After(today) && !from.After(today) {
		to = today
	}
	if t, err := time.Parse(dayLayout, fromDay); err == nil {
		from = t
	}
	if t, err := time.Parse(dayLayout, toDay); err == nil {
		to = t
	}
	if to.Before(from) {
		to = from
	}
	return from, to
}

// evidence reads the machines behind a peak interval (G7).
func (c *Console) evidence(r *http.Request, s session, account, product string, start time.Time) (evidenceView, error) {
	var ev billing.Evidence
	err := c.get(r.Context(), s, apiPath("accounts", account, "peaks", product, start.UTC().Format(time.RFC3339)), &ev)
	if err != nil {
		text, perr := partProblem("machines", err)
		return evidenceView{Problem: text}, perr
	}
	var out evidenceView
	for _, m := range ev.Machines {
		mv := machineView{ID: m.MachineID, UsageIDs: m.UsageIDs}
		if len(mv.UsageIDs) > usageIDsShown {
			mv.More, mv.UsageIDs = len(mv.UsageIDs)-usageIDsShown, mv.UsageIDs[:usageIDsShown]
		}
		out.Machines = append(out.Machines, mv)
	}
	return out, nil
}

// setThreshold sets a product's threshold (G8).
func (c *Console) setThreshold(w http.ResponseWriter, r *http.Request, s session) error {
	account := r.PathValue("account")
	product, raw := strings.TrimSpace(r.PostFormValue("product")), strings.TrimSpace(r.PostFormValue("max_machines"))
	n, err := strconv.Atoi(raw)
	if err != nil {
		return c.showBilling(w, r, s, http.StatusBadRequest, product, raw,
			fmt.Sprintf("Most machines: %q is not a whole number.", raw))
	}
	if product == "" {
		return c.showBilling(w, r, s, http.StatusBadRequest, product, raw, "Product: enter the product the threshold is for.")
	}
	var t api.ThresholdView
	err = c.call(r.Context(), s, http.MethodPut, apiPath("accounts", account, "thresholds", product),
		map[string]int{"max_machines": n}, &t)
	if ae, ok := formRefusal(err); ok {
		return c.showBilling(w, r, s, ae.Status, product, raw, explain(ae))
	}
	if err != nil {
		return err
	}
	c.note(s, fmt.Sprintf("%s: an alert is raised when more than %d machines are in pooled use at once.", t.Product, t.MaxMachines), false)
	redirect(w, r, consolePath(account, "billing"))
	return nil
}

// clearThreshold clears a product's threshold (G8).
func (c *Console) clearThreshold(w http.ResponseWriter, r *http.Request, s session) error {
	account, product := r.PathValue("account"), r.PathValue("product")
	err := c.call(r.Context(), s, http.MethodDelete, apiPath("accounts", account, "thresholds", product), nil, nil)
	if ae, ok := formRefusal(err); ok {
		return c.showBilling(w, r, s, ae.Status, "", "", explain(ae))
	}
	if err != nil {
		return err
	}
	c.note(s, fmt.Sprintf("%s: threshold cleared; no more alerts for it.", product), false)
	redirect(w, r, consolePath(account, "billing"))
	return nil
}
