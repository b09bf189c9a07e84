package ledger_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/server"
)

// alerts waits until the account's alerts of October and November number
// n, and returns them.
func alerts(tl *testLedger, n int) []any {
	tl.tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := tl.must(200, "GET", "/v1/accounts/acme/alerts?from=2026-10-01&to=2026-11-30", nil)
		got := r.Body["alerts"].([]any)
		if len(got) >= n || time.Now().After(deadline) {
			if len(got) != n {
				tl.tb.Fatalf("alerts: %s, want %d", r.Raw, n)
			}
			return got
		}
		// Wait for the projections to move (an alert is an event), or a
		// short bound: the alerter runs after they do.
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		tl.srv.Store().WaitFor(ctx, tl.srv.Store().Checkpoint()+1)
		cancel()
	}
}

// exceeded returns the threshold.exceeded events of the stream.
func exceeded(tl *testLedger) []events.ThresholdExceeded {
	var out []events.ThresholdExceeded
	for _, e := range tl.checkStream() {
		if d, ok := e.Data.(events.ThresholdExceeded); ok {
			out = append(out, d)
		}
	}
	return out
}

// rules G4, G8, F5: when an interval's count first exceeds the threshold on a
// UTC day, one threshold.exceeded names the interval, its count, the
// threshold and the machines; later use that day repeats nothing; exactly
// the threshold is not over it; practitioner use never raises an alert; a
// threshold set later checks its own day. Exactly once across a restart
// and a rebuild.
func TestRuleG4ThresholdAlerts(t *testing.T) {
	dir := t.TempDir()
	tl := bilStart(t, dir)
	tl.must(200, "PUT", "/v1/accounts/acme/thresholds/microstation", map[string]any{"max_machines": 2})
	day := func(d int, hh int) time.Time { return time.Date(2026, 10, d, hh, 0, 0, 0, time.UTC) }
	machines := func(prefix string, at time.Time, n int) []any {
		var out []any
		for i := range n {
			out = append(out, bilUse(fmt.Sprintf("%s-%d", prefix, i), fmt.Sprintf("m%d", i+1), at, time.Hour))
		}
		return out
	}
	tl.must(200, "POST", "/v1/accounts/acme/usage", useBatch(machines("d5", day(5, 10), 3)...))
	got := alerts(tl, 1)[0].(map[string]any)
	if got["day"] != "2026-10-05" || got["interval_start"] != "2026-10-05T10:00:00Z" || got["count"] != float64(3) ||
		got["max_machines"] != float64(2) || fmt.Sprint(got["machines"]) != "[m1 m2 m3]" || got["product"] != "microstation" {
		t.Errorf("alert %v, want 2026-10-05 10:00, 3 machines over 2", got)
	}
	// Later the same day, more machines: nothing new. Exactly 2 machines
	// on the 7th: not over. Practitioner use of 4 machines on the 8th: never.
	tl.must(200, "POST", "/v1/accounts/acme/usage", useBatch(machines("d5b", day(5, 14), 5)...))
	tl.must(200, "POST", "/v1/accounts/acme/usage", useBatch(machines("d7", day(7, 10), 2)...))
	var prac []any
	for i := range 4 {
		prac = append(prac, useR(fmt.Sprintf("d8-%d", i), day(8, 10), time.Hour).set("machine_id", fmt.Sprintf("p%d", i)))
	}
	tl.must(200, "POST", "/v1/accounts/acme/usage", useBatch(prac...))
	// A later day over the threshold: once its alert is there, the days
	// queued before it have been checked too.
	tl.must(200, "POST", "/v1/accounts/acme/usage", useBatch(machines("d9", day(9, 10), 4)...))
	all := alerts(tl, 2)
	if d := all[1].(map[string]any)["day"]; d != "2026-10-09" {
		t.Errorf("second alert on %v, want 2026-10-09 (nothing for the 7th or the 8th)", d)
	}
	// A threshold set after the usage of its day checks that day.
	tl.must(200, "POST", "/v1/accounts/acme/usage", useBatch(
		bilUse("n1", "m1", bilNow.Add(-3*time.Hour), time.Hour).set("product", "revit"),
		bilUse("n2", "m2", bilNow.Add(-3*time.Hour), time.Hour).set("product", "revit")))
	tl.must(200, "PUT", "/v1/accounts/acme/thresholds/revit", map[string]any{"max_machines": 1})
	if d := alerts(tl, 3)[2].(map[string]any); d["day"] != "2026-11-01" || d["product"] != "revit" {
		t.Errorf("third alert %v, want revit on 2026-11-01", d)
	}
	want := len(exceeded(tl))
	if want != 3 {
		t.Fatalf("%d threshold.exceeded events, want 3", want)
	}
	clk := tl.clock
	tl.stop()
	tl = startLedger(t, dir, clk)
	tl.must(200, "POST", "/v1/accounts/acme/usage", useBatch(machines("d5c", day(5, 18), 4)...)) // the 5th again
	alerts(tl, 3)
	tl.stop()
	if _, err := server.RebuildProjections(context.Background(), server.Config{DataDir: dir}); err != nil {
		t.Fatal(err)
	}
	tl = startLedger(t, dir, clk)
	tl.must(200, "POST", "/v1/accounts/acme/usage", useBatch(machines("d9b", day(9, 18), 4)...)) // the 9th again
	// Round-trip a later day so the alerter has surely looked at both.
	tl.must(200, "POST", "/v1/accounts/acme/usage", useBatch(machines("d20", day(20, 10), 3)...))
	alerts(tl, 4)
	var days []string
	for _, d := range exceeded(tl) {
		days = append(days, d.Product+"@"+d.Day)
	}
	if strings.Join(days, " ") != "microstation@2026-10-05 microstation@2026-10-09 revit@2026-11-01 microstation@2026-10-20" {
		t.Errorf("alerts in the stream: %v, want one per product and day, never repeated", days)
	}
}

// rule G4: a day is decided against the threshold in force at that point of
// the stream. A day checked under one threshold and found under it is not
// alerted later because the threshold was lowered since: not after a
// restart, not after a rebuild.
func TestRuleG4LoweredThresholdRaisesNoOldAlert(t *testing.T) {
	dir := t.TempDir()
	tl := bilStart(t, dir)
	tl.must(200, "PUT", "/v1/accounts/acme/thresholds/microstation", map[string]any{"max_machines": 10})
	tl.must(200, "PUT", "/v1/accounts/acme/thresholds/revit", map[string]any{"max_machines": 1})
	var batch []any
	for i := range 3 {
		batch = append(batch, bilUse(fmt.Sprintf("ms-%d", i), fmt.Sprintf("m%d", i), bilPeak, time.Hour))
	}
	tl.must(200, "POST", "/v1/accounts/acme/usage", useBatch(batch...))
	// revit's alert, queued after microstation's day and after it in key
	// order, shows that day was checked.
	revit := func(id string, at time.Time) {
		tl.must(200, "POST", "/v1/accounts/acme/usage", useBatch(
			bilUse(id+"a", "r1", at, time.Hour).set("product", "revit"), bilUse(id+"b", "r2", at, time.Hour).set("product", "revit")))
	}
	revit("r1", bilPeak.Add(24*time.Hour))
	alerts(tl, 1)
	tl.must(200, "PUT", "/v1/accounts/acme/thresholds/microstation", map[string]any{"max_machines": 2})
	clk := tl.clock
	tl.stop()
	tl = startLedger(t, dir, clk)
	revit("r2", bilPeak.Add(48*time.Hour))
	alerts(tl, 2)
	tl.stop()
	if _, err := server.RebuildProjections(context.Background(), server.Config{DataDir: dir}); err != nil {
		t.Fatal(err)
	}
	tl = startLedger(t, dir, clk)
	revit("r3", bilPeak.Add(72*time.Hour))
	for _, a := range alerts(tl, 3) {
		if p := a.(map[string]any)["product"]; p != "revit" {
			t.Errorf("alert %v: microstation's day was checked under 10 and must not be alerted under 2", a)
		}
	}
}
