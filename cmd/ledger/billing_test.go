package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/ledger"
)

// rules G2, G7 from the command line: the QTL report as a table, as CSV for
// an invoicing system and as JSON; the peaks series and one interval's
// evidence.
func TestQTLAndPeaksCommands(t *testing.T) {
	url, srv := cliServer(t)
	ctx, l := context.Background(), srv.Ledger()
	// b@x.example holds no licence: pooled use of "ms" on two machines in
	// the interval after the start (the first partial interval is not
	// counted), so the CLI can be checked against known numbers.
	start := time.Now().UTC().Add(-2 * time.Hour).Truncate(10 * time.Minute).Add(3 * time.Minute)
	recs := []commands.UsageRecord{}
	for i, m := range []string{"ws-1", "ws-2"} {
		recs = append(recs, commands.UsageRecord{UsageID: fmt.Sprintf("cli-%d", i), Email: "b@x.example", Product: "ms",
			MachineID: m, ClientVersion: "10.00.18.25", StartedAt: start, EndedAt: start.Add(30 * time.Minute)})
	}
	if _, err := l.SetThreshold(ctx, ledger.Meta{}, commands.SetThreshold{Account: "acme", Product: "ms", MaxMachines: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.RecordUsage(ctx, ledger.Meta{}, commands.RecordUsage{Account: "acme", Records: recs}); err != nil {
		t.Fatal(err)
	}
	peak := start.Add(7 * time.Minute) // the next interval start
	q := peak.Year()
	quarter := fmt.Sprintf("%d-Q%d", q, (int(peak.Month())-1)/3+1)
	base := []string{"--url", url, "--account", "acme"}

	out, err := cli(t, append([]string{"qtl", "--quarter", quarter}, base...)...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "QTL of acme for "+quarter) || !strings.Contains(out, "ms ") ||
		!strings.Contains(out, peak.Format("2006-01-02T15:04Z")) || !strings.Contains(out, "ws-1 ws-2") {
		t.Errorf("qtl table:\n%s", out)
	}
	csvOut, err := cli(t, append([]string{"qtl", "--quarter", quarter, "--csv"}, base...)...)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(csvOut), "\n")
	wantRow := fmt.Sprintf(",%s,2,0,2,ws-1 ws-2", peak.Format("2006-01-02T15:04:05Z"))
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "account,quarter,as_of_seq,product") || !strings.HasPrefix(lines[1], "acme,"+quarter+",") ||
		!strings.HasSuffix(lines[1], wantRow) {
		t.Errorf("qtl csv:\n%s\nwant one row ending %q", csvOut, wantRow)
	}
	if out, err := cli(t, append([]string{"qtl", "--quarter", "2026-Q9"}, base...)...); err == nil || !strings.Contains(err.Error(), "quarter") {
		t.Errorf("a bad quarter: %q, %v; want an error naming the quarter", out, err)
	}
	// rule G10: a month, as a table and as CSV naming the month.
	month := peak.Format("2006-01")
	out, err = cli(t, append([]string{"qtl", "--month", month}, base...)...)
	if err != nil || !strings.Contains(out, "QTL of acme for "+month) || !strings.Contains(out, "ws-1 ws-2") {
		t.Errorf("qtl --month:\n%s\n%v", out, err)
	}
	csvOut, err = cli(t, append([]string{"qtl", "--month", month, "--csv"}, base...)...)
	if err != nil || !strings.HasPrefix(csvOut, "account,month,as_of_seq,product") || !strings.Contains(csvOut, "acme,"+month+",") {
		t.Errorf("qtl --month --csv:\n%s\n%v", csvOut, err)
	}
	// rule G11: the advice; ms bills 2 units, and ws-1 and ws-2 are b's.
	advice, err := cli(t, append([]string{"qtl", "advice", "--quarter", quarter}, base...)...)
	if err != nil || !strings.Contains(advice, "Advice for acme, "+quarter) || !strings.Contains(advice, "ms: 2 units") ||
		!strings.Contains(advice, "b@x.example") {
		t.Errorf("qtl advice:\n%s\n%v", advice, err)
	}
	if j, err := cli(t, append([]string{"qtl", "advice", "--month", month, "--json"}, base...)...); err != nil ||
		!strings.HasPrefix(j, `{"account":"acme","month":"`+month+`"`) {
		t.Errorf("qtl advice --json:\n%s\n%v", j, err)
	}
	for _, bad := range [][]string{{"--month", "2026-13"}, {"--quarter", quarter, "--month", month}, {}} {
		if out, err := cli(t, append(append([]string{"qtl"}, bad...), base...)...); err == nil {
			t.Errorf("qtl %v: %q, want an error", bad, out)
		}
	}
	ev, err := cli(t, append([]string{"peaks", "--product", "ms", "--interval", peak.Format(time.RFC3339)}, base...)...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ev, "2 machines over 0 seats = 2 over") || !strings.Contains(ev, "ws-1") || !strings.Contains(ev, "cli-1") {
		t.Errorf("peaks --interval:\n%s", ev)
	}
	series, err := cli(t, append([]string{"peaks", "--product", "ms", "--from", start.Add(-time.Hour).Format(time.RFC3339),
		"--to", start.Add(time.Hour).Format(time.RFC3339)}, base...)...)
	if err != nil {
		t.Fatal(err)
	}
	if rows := strings.Split(strings.TrimSpace(series), "\n"); len(rows) != 4 { // header + 3 intervals
		t.Errorf("peaks series:\n%s\nwant 3 intervals", series)
	}
	// The threshold of 1 machine, set before the usage: the interval with 2
	// raises an alert.
	var alerts string
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(alerts, "ws-1 ws-2") && time.Now().Before(deadline); {
		if alerts, err = cli(t, append([]string{"alerts"}, base...)...); err != nil {
			t.Fatal(err)
		}
		wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		srv.Store().WaitFor(wctx, srv.Store().Checkpoint()+1)
		cancel()
	}
	if !strings.Contains(alerts, peak.Format("2006-01-02T15:04Z")) || !strings.Contains(alerts, "ws-1 ws-2") {
		t.Errorf("alerts:\n%s\nwant the interval at %s with ws-1 and ws-2", alerts, peak.Format("15:04"))
	}
	export, err := cli(t, append([]string{"usage", "export"}, base...)...)
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(export), "\n"); len(lines) != 2 || !strings.Contains(lines[0], `"seq":`) ||
		!strings.Contains(lines[0], `"usage_id":"cli-0"`) || !strings.Contains(lines[1], `"usage_id":"cli-1"`) {
		t.Errorf("usage export:\n%s\nwant the two records, one per line, with their sequences", export)
	}
}
