package commands_test

import (
	"testing"
	"time"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
)

// The worked example of docs/rules.md (rules C2, C3, C4), step by step, folding
// each step's events into the states with License.Apply and User.Apply. The
// example's a@x, b@x and c@x are a@x.com, b@x.com and c@x.com here (an email
// needs a domain with a dot).
func TestWorkedExample(t *testing.T) {
	date := func(month time.Month, day, hour, min int) time.Time {
		return time.Date(2026, month, day, hour, min, 0, 0, time.UTC)
	}
	w := stdWorld(t)

	// Assign to a@x at 2026-01-05T00:00Z: window until 01-06T00:00Z, lock
	// until 02-05T00:00Z (C2).
	at := date(time.January, 5, 0, 0)
	evs := w.must(t)(w.assign("P1", "a@x.com", at))
	if got, want := len(evs), 2; got != want {
		t.Fatalf("step 1: events got %v, want license.assigned and user.license_attached", types(evs))
	}
	_, assigned := only[events.LicenseAssigned](t, evs)
	if assigned.Email != "a@x.com" || !assigned.NewWindow {
		t.Errorf("step 1: license.assigned got %+v, want a@x.com with a new window", assigned)
	}
	lic := w.license(acct, "P1")
	if lic.Assignee != "a@x.com" {
		t.Errorf("step 1: assignee got %q, want a@x.com", lic.Assignee)
	}
	wantTimers(t, lic, at, date(time.January, 6, 0, 0), date(time.February, 5, 0, 0))
	if got := rfc3339(lic.WindowClosesAt); got != "2026-01-06T00:00:00Z" {
		t.Errorf("step 1: window_closes_at got %s, want 2026-01-06T00:00:00Z", got)
	}
	if got := rfc3339(lic.LockedUntil); got != "2026-02-05T00:00:00Z" {
		t.Errorf("step 1: locked_until got %s, want 2026-02-05T00:00:00Z", got)
	}
	if got := w.user(acct, "a@x.com").LicenseID; got != "P1" {
		t.Errorf("step 1: a@x.com holds %q, want P1", got)
	}

	// Reassign to b@x at 01-05T23:59Z: allowed, window unchanged (C3).
	at = date(time.January, 5, 23, 59)
	evs = w.must(t)(w.reassign("P1", "b@x.com", at))
	_, reassigned := only[events.LicenseReassigned](t, evs)
	if reassigned.Email != "b@x.com" || reassigned.PreviousEmail != "a@x.com" || reassigned.NewWindow {
		t.Errorf("step 2: license.reassigned got %+v, want a@x.com → b@x.com without a new window", reassigned)
	}
	lic = w.license(acct, "P1")
	if lic.Assignee != "b@x.com" {
		t.Errorf("step 2: assignee got %q, want b@x.com", lic.Assignee)
	}
	wantTimers(t, lic, date(time.January, 5, 0, 0), date(time.January, 6, 0, 0), date(time.February, 5, 0, 0))
	if got := w.user(acct, "a@x.com").LicenseID; got != "" {
		t.Errorf("step 2: a@x.com holds %q, want nothing", got)
	}
	if got := w.user(acct, "b@x.com").LicenseID; got != "P1" {
		t.Errorf("step 2: b@x.com holds %q, want P1", got)
	}

	// Reassign at 01-06T00:00Z: license_locked (locked_until 02-05T00:00Z).
	at = date(time.January, 6, 0, 0)
	e := rejected(t, commands.CodeLicenseLocked)(w.reassign("P1", "c@x.com", at))
	wantDetail(t, e, "locked_until", "2026-02-05T00:00:00Z")
	if got := w.license(acct, "P1").Assignee; got != "b@x.com" {
		t.Errorf("step 3: assignee got %q, want b@x.com", got)
	}

	// Reassign to c@x at 02-05T00:00Z: allowed; new window until 02-06T00:00Z,
	// lock until 03-08T00:00Z (C4, C2).
	at = date(time.February, 5, 0, 0)
	evs = w.must(t)(w.reassign("P1", "c@x.com", at))
	_, reassigned = only[events.LicenseReassigned](t, evs)
	if reassigned.Email != "c@x.com" || reassigned.PreviousEmail != "b@x.com" || !reassigned.NewWindow {
		t.Errorf("step 4: license.reassigned got %+v, want b@x.com → c@x.com with a new window", reassigned)
	}
	lic = w.license(acct, "P1")
	if lic.Assignee != "c@x.com" {
		t.Errorf("step 4: assignee got %q, want c@x.com", lic.Assignee)
	}
	wantTimers(t, lic, at, date(time.February, 6, 0, 0), date(time.March, 8, 0, 0))
	if got := rfc3339(lic.WindowClosesAt); got != "2026-02-06T00:00:00Z" {
		t.Errorf("step 4: window_closes_at got %s, want 2026-02-06T00:00:00Z", got)
	}
	if got := rfc3339(lic.LockedUntil); got != "2026-03-08T00:00:00Z" {
		t.Errorf("step 4: locked_until got %s, want 2026-03-08T00:00:00Z", got)
	}
	if got := w.user(acct, "b@x.com").LicenseID; got != "" {
		t.Errorf("step 4: b@x.com holds %q, want nothing", got)
	}
	if got := w.user(acct, "c@x.com").LicenseID; got != "P1" {
		t.Errorf("step 4: c@x.com holds %q, want P1", got)
	}
}

// rule C8: an assignment event names the assignee (on the licence's event and
// on the user's own subject), and the licence's state shows assignee,
// window_closes_at, locked_until and whether it can be reassigned now.
func TestAssignmentEventsNameAssignee(t *testing.T) {
	w := stdWorld(t)
	evs := w.must(t)(w.assign("P1", "a@x.com", t0))
	le, ld := only[events.LicenseAssigned](t, evs)
	if ld.Email != "a@x.com" || ld.ID != "P1" || le.AggregateID != "P1" || le.Account != acct {
		t.Errorf("license.assigned: got %+v on %s/%s, want P1 naming a@x.com", ld, le.Account, le.AggregateID)
	}
	ue, ud := only[events.UserLicenseAttached](t, evs)
	if ue.AggregateID != "a@x.com" || ud.Email != "a@x.com" || ud.LicenseID != "P1" || !ue.OccurredAt.Equal(t0) {
		t.Errorf("user.license_attached: got %+v on %s, want P1 on a@x.com at %v", ud, ue.AggregateID, t0)
	}

	evs = w.must(t)(w.reassign("P1", "b@x.com", t0.Add(time.Hour)))
	_, rd := only[events.LicenseReassigned](t, evs)
	if rd.Email != "b@x.com" || rd.PreviousEmail != "a@x.com" {
		t.Errorf("license.reassigned: got email %q, previous %q; want b@x.com, a@x.com", rd.Email, rd.PreviousEmail)
	}
	de, dd := only[events.UserLicenseDetached](t, evs)
	if de.AggregateID != "a@x.com" || dd.Email != "a@x.com" || dd.Reason != events.ReasonReassigned {
		t.Errorf("user.license_detached: got %+v on %s, want a@x.com with reason reassigned", dd, de.AggregateID)
	}
	ae, ad := only[events.UserLicenseAttached](t, evs)
	if ae.AggregateID != "b@x.com" || ad.Email != "b@x.com" {
		t.Errorf("user.license_attached: got %+v on %s, want b@x.com", ad, ae.AggregateID)
	}

	lic := w.license(acct, "P1")
	if lic.Assignee != "b@x.com" || !lic.WindowClosesAt.Equal(windowCloses) || !lic.LockedUntil.Equal(lockedUntil) {
		t.Errorf("state: got assignee %q, window_closes_at %v, locked_until %v; want b@x.com, %v, %v",
			lic.Assignee, lic.WindowClosesAt, lic.LockedUntil, windowCloses, lockedUntil)
	}
	reassignable := []struct {
		at   time.Time
		want bool
	}{
		{t0.Add(2 * time.Hour), true},
		{windowCloses, false},
		{lockedUntil, true},
	}
	for _, r := range reassignable {
		if got := lic.LockAt(r.at) != commands.LockLocked; got != r.want {
			t.Errorf("reassignable at %v: got %v, want %v", r.at, got, r.want)
		}
	}
}
