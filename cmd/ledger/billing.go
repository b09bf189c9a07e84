package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/entledger/ledger/api"
	"github.com/entledger/ledger/billing"
	"github.com/entledger/ledger/events"
)

// runQTL prints an account's term licence report of a quarter or a month
// (G2, G6, G9, G10), or with "advice" first how it could have paid less
// (G11).
func runQTL(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "advice" {
		return runQTLAdvice(ctx, args[1:], stdout, stderr)
	}
	fs := newFlagSet("qtl", "Print an account's term licence report of a quarter or a month: per product the peak interval, its "+
		"machines, the seats and the units billed (G2, G10), and per country pool when a licence names a country (G9).\n"+
		"With --as-of-seq N the report is the one the events at or below N give, byte for byte, whenever it is asked (G6).\n"+
		"ledger qtl advice prints how the account could have paid less (G11).", stderr)
	var cf clientFlags
	cf.register(fs)
	var pf periodFlags
	pf.register(fs)
	asCSV := fs.Bool("csv", false, "print CSV for an invoicing system: one row per product")
	if err := parse(fs, args); err != nil {
		return err
	}
	if (pf.quarter == "") == (pf.month == "") {
		return badUsage("qtl: give --quarter (e.g. 2026-Q4) or --month (e.g. 2026-11), one of them")
	}
	raw, err := cf.call(ctx, http.MethodGet, cf.accountPath("/qtl?"+pf.query().Encode()), nil)
	if err != nil {
		return err
	}
	if cf.json {
		_, err := stdout.Write(raw)
		return err
	}
	var rep billing.Report
	if err := json.Unmarshal(raw, &rep); err != nil {
		return err
	}
	if *asCSV {
		return writeQTLCSV(stdout, rep)
	}
	fmt.Fprintf(stdout, "QTL of %s for %s, as of stream sequence %d\n\n", rep.Account, reportPeriod(rep), rep.AsOfSeq)
	fmt.Fprintf(stdout, "%-20s %-20s %6s %6s %6s  %s\n", "PRODUCT", "PEAK INTERVAL", "COUNT", "SEATS", "UNITS", "MACHINES")
	for _, p := range rep.Products {
		peak := "-"
		if p.PeakInterval != nil {
			peak = p.PeakInterval.Format("2006-01-02T15:04Z")
		}
		fmt.Fprintf(stdout, "%-20s %-20s %6d %6d %6d  %s\n", p.Product, peak, p.PeakCount, p.Seats, p.Units, strings.Join(p.Machines, " "))
		for _, c := range p.Countries {
			fmt.Fprintf(stdout, "  in %-17s %-20s %6d %6d %6d  above its own seats\n", countryLabel(c.Country), "", c.Count, c.Seats, c.Over)
		}
	}
	return nil
}

// runQTLAdvice prints how an account could have paid less in a quarter or
// a month (G11): per product billed units, the plan for its free
// practitioner licences, the leak and the users whose pooled use cost most.
func runQTLAdvice(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("qtl advice", "Print how the account could have paid less in a quarter or a month (G11), per product "+
		"billed units: whom to give its free practitioner licences (greedy) and the units after, the pooled use of "+
		"practitioners on clients older than 10.00.18 (the leak), and the users whose pooled use cost the most.\n"+
		"With --as-of-seq N it is the advice the events at or below N give, byte for byte, whenever it is asked.", stderr)
	var cf clientFlags
	cf.register(fs)
	var pf periodFlags
	pf.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	raw, err := cf.call(ctx, http.MethodGet, cf.accountPath("/qtl/advice?"+pf.query().Encode()), nil)
	if err != nil || cf.json {
		if err == nil {
			_, err = stdout.Write(raw)
		}
		return err
	}
	var adv billing.Advice
	if err := json.Unmarshal(raw, &adv); err != nil {
		return err
	}
	period := adv.Quarter
	if adv.Month != "" {
		period = adv.Month
	}
	fmt.Fprintf(stdout, "Advice for %s, %s, as of stream sequence %d\n", adv.Account, period, adv.AsOfSeq)
	if len(adv.Products) == 0 {
		fmt.Fprintf(stdout, "\nNothing is billed above the seats: no advice.\n")
	}
	for _, p := range adv.Products {
		fmt.Fprintf(stdout, "\n%s: %s\n", p.Product, plural(p.Units, "unit"))
		switch {
		case p.Plan.LicencesAvailable == 0:
			fmt.Fprintf(stdout, "  plan: no free practitioner licence covers %s\n", p.Product)
		case len(p.Plan.Assign) == 0:
			fmt.Fprintf(stdout, "  plan: assigning the %s would lower nothing\n", plural(p.Plan.LicencesAvailable, "free practitioner licence"))
		default:
			fmt.Fprintf(stdout, "  plan: assign %d of the %s to %s: %s instead of %d\n", len(p.Plan.Assign),
				plural(p.Plan.LicencesAvailable, "free practitioner licence"), strings.Join(p.Plan.Assign, ", "),
				plural(p.Plan.UnitsAfter, "unit"), p.Units)
		}
		if p.Leak.Records > 0 {
			fmt.Fprintf(stdout, "  leak: %s by practitioners on clients older than 10.00.18, billed as pooled: %s without them\n",
				plural(p.Leak.Records, "record"), plural(p.Leak.UnitsWithout, "unit"))
		}
		if len(p.Users) > 0 {
			fmt.Fprintf(stdout, "  %-40s %6s %14s\n", "USER", "SAVES", "UNITS WITHOUT")
			for _, u := range p.Users {
				fmt.Fprintf(stdout, "  %-40s %6d %14d\n", u.Email, u.Saves, u.UnitsWithout)
			}
		}
	}
	return nil
}

// periodFlags are the flags that name a report's period: --quarter or
// --month, exactly one (G10), and --as-of-seq (G6). The ledger reads and
// checks them.
type periodFlags struct {
	quarter, month string
	asOf           int
}

func (pf *periodFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&pf.quarter, "quarter", "", "the quarter, YYYY-Qn (or --month)")
	fs.StringVar(&pf.month, "month", "", "the month, YYYY-MM, for subscribers billed monthly (or --quarter)")
	intVar(fs, &pf.asOf, "as-of-seq", 0, "compute from the events at or below this stream sequence (0: everything)")
}

// query is the period as the API takes it.
func (pf *periodFlags) query() url.Values {
	q := url.Values{}
	if pf.quarter != "" {
		q.Set("quarter", pf.quarter)
	}
	if pf.month != "" {
		q.Set("month", pf.month)
	}
	if pf.asOf != 0 {
		q.Set("as_of_seq", strconv.Itoa(pf.asOf))
	}
	return q
}

// reportPeriod is the quarter or month a report covers.
func reportPeriod(rep billing.Report) string {
	if rep.Month != "" {
		return rep.Month
	}
	return rep.Quarter
}

// countryLabel names a country pool (G9).
func countryLabel(c events.Country) string {
	if c == "" {
		return "no country"
	}
	return string(c)
}

// writeQTLCSV writes one row per product, with the report's account,
// period and sequence on every row. The period column is "quarter" or
// "month", as the report's.
func writeQTLCSV(w io.Writer, rep billing.Report) error {
	c := csv.NewWriter(w)
	period := "quarter"
	if rep.Month != "" {
		period = "month"
	}
	c.Write([]string{"account", period, "as_of_seq", "product", "peak_interval", "peak_count", "seats", "units", "machines"})
	for _, p := range rep.Products {
		peak := ""
		if p.PeakInterval != nil {
			peak = p.PeakInterval.UTC().Format("2006-01-02T15:04:05Z")
		}
		c.Write([]string{rep.Account, reportPeriod(rep), strconv.FormatUint(rep.AsOfSeq, 10), p.Product, peak,
			strconv.Itoa(p.PeakCount), strconv.Itoa(p.Seats), strconv.Itoa(p.Units), strings.Join(p.Machines, " ")})
	}
	c.Flush()
	return c.Error()
}

// runPeaks prints a product's 10-minute series, or one interval's evidence
// (G7).
func runPeaks(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("peaks", "Print a product's 10-minute peaks of pooled use between --from and --to (G7), or with "+
		"--interval T the machines counted in the interval starting at T and the usage ids that put each there.", stderr)
	var cf clientFlags
	cf.register(fs)
	product := fs.String("product", "", "the product (required)")
	from := fs.String("from", "", "start of the range, RFC 3339")
	to := fs.String("to", "", "end of the range, RFC 3339")
	interval := fs.String("interval", "", "show this interval's evidence instead (its start, RFC 3339)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *product == "" {
		return badUsage("peaks: --product is required")
	}
	path := cf.accountPath("/peaks?" + url.Values{"product": {*product}, "from": {*from}, "to": {*to}}.Encode())
	if *interval != "" {
		path = cf.accountPath("/peaks/" + url.PathEscape(*product) + "/" + url.PathEscape(*interval))
	}
	raw, err := cf.call(ctx, http.MethodGet, path, nil)
	if err != nil || cf.json {
		if err == nil {
			_, err = stdout.Write(raw)
		}
		return err
	}
	if *interval != "" {
		var ev billing.Evidence
		if err := json.Unmarshal(raw, &ev); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: %s over %s = %d over\n", ev.Start.Format("2006-01-02T15:04Z"), plural(ev.Count, "machine"),
			plural(ev.Seats, "seat"), ev.Over)
		for _, m := range ev.Machines {
			fmt.Fprintf(stdout, "  %-24s %s\n", m.MachineID, strings.Join(m.UsageIDs, " "))
		}
		return nil
	}
	var series struct {
		Intervals []billing.Point `json:"intervals"`
	}
	if err := json.Unmarshal(raw, &series); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%-18s %6s %6s %6s\n", "INTERVAL", "COUNT", "SEATS", "OVER")
	for _, p := range series.Intervals {
		fmt.Fprintf(stdout, "%-18s %6d %6d %6d\n", p.Start.Format("2006-01-02T15:04Z"), p.Count, p.Seats, p.Over)
	}
	return nil
}

// runUsageExport streams the account's usage events in stream order, one
// {"seq", "event"} per line, so a billing system can resume at the
// sequence after the last line it read.
func runUsageExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("usage export", "Print the account's usage events in stream order, one JSON {seq, event} per line "+
		"(NDJSON), from --from-seq to --to-seq; resume with --from-seq at the sequence after the last line read.", stderr)
	var cf clientFlags
	cf.register(fs)
	var from, to int
	intVar(fs, &from, "from-seq", 1, "first stream sequence")
	intVar(fs, &to, "to-seq", 0, "last stream sequence (0: the stream's last)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if cf.account == "" {
		return badUsage("--account: an account id is required")
	}
	q := url.Values{"from_seq": {strconv.Itoa(from)}}
	if to > 0 {
		q.Set("to_seq", strconv.Itoa(to))
	}
	req, err := cf.request(ctx, http.MethodGet, cf.accountPath("/usage/export?"+q.Encode()), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("ledger at %s: %w", cf.url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(resp.Body)
		return answerError(resp.StatusCode, raw)
	}
	lines := &lineCounter{w: stdout}
	if _, err := io.Copy(lines, resp.Body); err != nil {
		return fmt.Errorf("the export was cut short (what was printed is incomplete): %w", err)
	}
	switch want := resp.Trailer.Get(api.HeaderLines); {
	case want == "":
		return fmt.Errorf("the export ended without its %s trailer: what was printed may be incomplete "+
			"(or a proxy between here and the ledger drops HTTP trailers)", api.HeaderLines)
	case want != strconv.Itoa(lines.n):
		return fmt.Errorf("the export printed %d lines, the ledger sent %s: what was printed is incomplete", lines.n, want)
	}
	return nil
}

// lineCounter counts the newlines written through it.
type lineCounter struct {
	w io.Writer
	n int
}

func (c *lineCounter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += bytes.Count(p[:n], []byte{'\n'})
	return n, err
}

// runAlerts prints an account's threshold alerts (G4).
func runAlerts(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("alerts", "Print the account's threshold alerts (G4): per product and UTC day at most one, "+
		"naming the first interval over the threshold and its machines.", stderr)
	var cf clientFlags
	cf.register(fs)
	from := fs.String("from", "", "first UTC day, YYYY-MM-DD (default: 30 days ago)")
	to := fs.String("to", "", "last UTC day, YYYY-MM-DD (default: today)")
	if err := parse(fs, args); err != nil {
		return err
	}
	q := url.Values{}
	if *from != "" {
		q.Set("from", *from)
	}
	if *to != "" {
		q.Set("to", *to)
	}
	raw, err := cf.call(ctx, http.MethodGet, cf.accountPath("/alerts?"+q.Encode()), nil)
	if err != nil || cf.json {
		if err == nil {
			_, err = stdout.Write(raw)
		}
		return err
	}
	var ans struct {
		Alerts []struct {
			Product       string    `json:"product"`
			Day           string    `json:"day"`
			IntervalStart time.Time `json:"interval_start"`
			Count         int       `json:"count"`
			MaxMachines   int       `json:"max_machines"`
			Machines      []string  `json:"machines"`
		} `json:"alerts"`
	}
	if err := json.Unmarshal(raw, &ans); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%-10s %-20s %-18s %6s %6s  %s\n", "DAY", "PRODUCT", "INTERVAL", "COUNT", "MAX", "MACHINES")
	for _, a := range ans.Alerts {
		fmt.Fprintf(stdout, "%-10s %-20s %-18s %6d %6d  %s\n", a.Day, a.Product, a.IntervalStart.Format("2006-01-02T15:04Z"),
			a.Count, a.MaxMachines, strings.Join(a.Machines, " "))
	}
	return nil
}
