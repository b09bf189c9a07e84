package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/entledger/ledger/api"
	"github.com/entledger/ledger/billing"
)

// runQTL prints an account's quarterly term licence report (G2, G6).
func runQTL(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("qtl", "Print an account's quarterly term licence report: per product the peak interval, its machines, "+
		"the seats and the units billed (G2).\nWith --as-of-seq N the report is the one the events at or below N give, "+
		"byte for byte, whenever it is asked (G6).", stderr)
	var cf clientFlags
	cf.register(fs)
	quarter := fs.String("quarter", "", "the quarter, YYYY-Qn (required)")
	var asOf int
	intVar(fs, &asOf, "as-of-seq", 0, "compute the report from the events at or below this stream sequence (0: everything)")
	asCSV := fs.Bool("csv", false, "print CSV for an invoicing system: one row per product")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *quarter == "" {
		return badUsage("qtl: --quarter is required, e.g. --quarter 2026-Q4")
	}
	q := url.Values{"quarter": {*quarter}}
	if asOf != 0 {
		q.Set("as_of_seq", strconv.Itoa(asOf))
	}
	raw, err := cf.call(ctx, http.MethodGet, cf.accountPath("/qtl?"+q.Encode()), nil)
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
	fmt.Fprintf(stdout, "QTL of %s for %s, as of stream sequence %d\n\n", rep.Account, rep.Quarter, rep.AsOfSeq)
	fmt.Fprintf(stdout, "%-20s %-20s %6s %6s %6s  %s\n", "PRODUCT", "PEAK INTERVAL", "COUNT", "SEATS", "UNITS", "MACHINES")
	for _, p := range rep.Products {
		peak := "-"
		if p.PeakInterval != nil {
			peak = p.PeakInterval.Format("2006-01-02T15:04Z")
		}
		fmt.Fprintf(stdout, "%-20s %-20s %6d %6d %6d  %s\n", p.Product, peak, p.PeakCount, p.Seats, p.Units, strings.Join(p.Machines, " "))
	}
	return nil
}

// writeQTLCSV writes one row per product, with the report's account,
// quarter and sequence on every row.
func writeQTLCSV(w io.Writer, rep billing.Report) error {
	c := csv.NewWriter(w)
	c.Write([]string{"account", "quarter", "as_of_seq", "product", "peak_interval", "peak_count", "seats", "units", "machines"})
	for _, p := range rep.Products {
		peak := ""
		if p.PeakInterval != nil {
			peak = p.PeakInterval.UTC().Format("2006-01-02T15:04:05Z")
		}
		c.Write([]string{rep.Account, rep.Quarter, strconv.FormatUint(rep.AsOfSeq, 10), p.Product, peak,
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
