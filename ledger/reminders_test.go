package ledger_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/entledger/ledger/events"
)

// reminderEvents returns the stream's license.unassigned_reminder events.
func reminderEvents(tl *testLedger) []events.UnassignedReminder {
	var out []events.UnassignedReminder
	for _, m := range tl.streamEvents() {
		e, err := events.Unmarshal(m.Data)
		if err != nil {
			tl.tb.Fatal(err)
		}
		if d, ok := e.Data.(events.UnassignedReminder); ok {
			if m.Subject != events.ReminderSubject(e.Account, d.LicenseID) {
				tl.tb.Errorf("reminder on %s, want the licence's reminder subject", m.Subject)
			}
			out = append(out, d)
		}
	}
	return out
}

// waitReminder waits until the stream holds a reminder of licence id for
// day, and returns it.
func waitReminder(tl *testLedger, id, day string) events.UnassignedReminder {
	tl.tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		for _, r := range reminderEvents(tl) {
			if r.LicenseID == id && r.Day == day {
				return r
			}
		}
		if time.Now().After(deadline) {
			tl.tb.Fatalf("no reminder of %s for %s: %+v", id, day, reminderEvents(tl))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		tl.srv.Store().WaitFor(ctx, tl.srv.Store().Checkpoint()+1)
		cancel()
	}
}

// rule G5 (and C7): one license.unassigned_reminder per active unassigned
// practitioner licence per UTC day, on its own subject: at once for a
// licence that is (or becomes) unassigned, then at each UTC midnight of the
// ledger's (fake) clock; none while it is assigned; missed days are not
// filled in after the ledger was down; never twice for a day, across a
// restart.
func TestRuleG5Reminders(t *testing.T) {
	dir := t.TempDir()
	clk := newClock(T0.Add(9 * time.Hour)) // 2026-01-05 09:00
	tl := startReminding(t, dir, clk)
	tl.must(201, "POST", "/v1/accounts", map[string]any{"id": "acme", "name": "Acme", "fulfillment_contact": "ops@acme.example"})
	tl.must(201, "POST", "/v1/accounts/acme/users", map[string]any{"email": "a@x.example", "entitlement_country": "DE"})
	tl.must(201, "POST", "/v1/accounts/acme/licenses", e2eLicense("P1", "practitioner", 0, T0.Add(-24*time.Hour), T0.Add(365*24*time.Hour), "microstation"))
	tl.must(201, "POST", "/v1/accounts/acme/licenses", e2eLicense("C1", "commercial", 5, T0, T0.Add(365*24*time.Hour), "microstation"))
	if r := waitReminder(tl, "P1", "2026-01-05"); !r.AssignableFrom.Equal(clk.Now()) && r.AssignableFrom.After(clk.Now()) {
		t.Errorf("first reminder %+v", r)
	}
	// The next midnight.
	clk.Set(time.Date(2026, 1, 6, 0, 0, 0, 0, time.UTC))
	waitReminder(tl, "P1", "2026-01-06")
	// Assigned on the 6th: nothing on the 7th while assigned; unassigned on
	// the 7th at noon (inside its window): that day's reminder at once,
	// since the unassignment.
	clk.Set(time.Date(2026, 1, 6, 20, 0, 0, 0, time.UTC))
	tl.must(200, "POST", "/v1/accounts/acme/licenses/P1/assign", map[string]any{"email": "a@x.example"})
	clk.Set(time.Date(2026, 1, 7, 0, 0, 1, 0, time.UTC))
	noon := time.Date(2026, 1, 7, 12, 0, 0, 0, time.UTC)
	clk.Set(noon)
	tl.must(200, "POST", "/v1/accounts/acme/licenses/P1/unassign", nil)
	if r := waitReminder(tl, "P1", "2026-01-07"); !r.Since.Equal(noon) {
		t.Errorf("reminder of the 7th since %s, want the unassignment at noon: none while it was assigned", r.Since)
	}
	// Down over three midnights: at start-up the day's reminder, and none
	// of the days missed.
	tl.stop()
	clk.Set(time.Date(2026, 1, 10, 8, 0, 0, 0, time.UTC))
	tl = startReminding(t, dir, clk)
	waitReminder(tl, "P1", "2026-01-10")
	// A restart the same day reminds of nothing again.
	tl.stop()
	tl = startReminding(t, dir, clk)
	clk.Set(time.Date(2026, 1, 11, 0, 0, 0, 0, time.UTC))
	waitReminder(tl, "P1", "2026-01-11")
	var days []string
	for _, r := range reminderEvents(tl) {
		days = append(days, r.LicenseID+"@"+r.Day)
	}
	if got := strings.Join(days, " "); got != "P1@2026-01-05 P1@2026-01-06 P1@2026-01-07 P1@2026-01-10 P1@2026-01-11" {
		t.Errorf("reminders %s, want one a day while unassigned, none missed days filled in, none repeated", got)
	}
	tl.checkStream()
}
