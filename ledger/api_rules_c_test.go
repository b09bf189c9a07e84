package ledger_test

import (
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/entledger/ledger/events"
)

// rule C1
func TestRuleC1AssignPreconditions(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	from, until := T0, T0.AddDate(1, 0, 0)
	tl.must(201, "POST", e2eAcme+"/licenses", e2eLicense("P2", "practitioner", 0, from, until, "microstation"))
	tl.must(201, "POST", e2eAcme+"/licenses", e2eLicense("C1", "commercial", 2, from, until, "microstation"))
	tl.must(201, "POST", e2eAcme+"/licenses", e2eLicense("T1", "trial", 0, from, until, "microstation"))
	tl.must(201, "POST", e2eAcme+"/licenses", e2eLicense("PF", "practitioner", 0, T0.Add(24*time.Hour), until, "microstation"))
	tl.must(201, "POST", "/v1/accounts", map[string]any{"id": "globex", "name": "Globex", "fulfillment_contact": "it@globex.example"})
	tl.must(201, "POST", "/v1/accounts/globex/users", map[string]any{"email": "g@y.example", "entitlement_country": "US"})

	for _, id := range []string{"C1", "T1"} {
		r := e2eReject(tl, 409, "not_practitioner_license", "POST", e2eAcme+"/licenses/"+id+"/assign", e2eAssign("a@x.example"))
		e2eDetail(t, r, "kind", map[string]string{"C1": "commercial", "T1": "trial"}[id])
		e2eReject(tl, 409, "not_practitioner_license", "POST", e2eAcme+"/licenses/"+id+"/unassign", nil)
	}
	e2eReject(tl, 409, "license_inactive", "POST", e2eAcme+"/licenses/PF/assign", e2eAssign("a@x.example"))
	e2eReject(tl, 404, "license_not_found", "POST", e2eAcme+"/licenses/NOPE/assign", e2eAssign("a@x.example"))
	e2eReject(tl, 404, "user_not_found", "POST", e2eP1+"/assign", e2eAssign("ghost@x.example"))
	// A user of another account is not a user of this one.
	e2eReject(tl, 404, "user_not_found", "POST", e2eP1+"/assign", e2eAssign("g@y.example"))
	r := e2eReject(tl, 400, "invalid_argument", "POST", e2eP1+"/assign", e2eAssign("not an email"))
	e2eDetail(t, r, "field", "email")

	r = tl.must(200, "POST", e2eP1+"/assign", e2eAssign("A@X.Example"))
	e2eFields(t, "assign", r.Body, map[string]any{"assignee": "a@x.example", "assigned_at": e2eTS(T0)})
	u := tl.must(200, "GET", e2eAcme+"/users/a@x.example", nil)
	e2eFields(t, "user", u.Body, map[string]any{"license_id": "P1"})

	r = e2eReject(tl, 409, "license_assigned", "POST", e2eP1+"/assign", e2eAssign("b@x.example"))
	e2eDetail(t, r, "assignee", "a@x.example")
	e2eReject(tl, 409, "license_assigned", "POST", e2eP1+"/assign", e2eAssign("a@x.example"))
	r = e2eReject(tl, 409, "user_already_licensed", "POST", e2eAcme+"/licenses/P2/assign", e2eAssign("a@x.example"))
	e2eDetail(t, r, "license_id", "P1")
	tl.must(200, "POST", e2eAcme+"/licenses/P2/assign", e2eAssign("b@x.example"))
	// Reassigning into a user who holds another licence is also refused.
	e2eReject(tl, 409, "user_already_licensed", "POST", e2eP1+"/reassign", e2eAssign("b@x.example"))
	tl.checkStream()
}

// rules C2, C3, C4, C8, moved by the ledger's clock: every boundary exactly.
func TestRuleC2C3C4ClockBoundaries(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	closes, lockedUntil := T0.Add(e2eWindow), T0.Add(e2eLock)

	// C2: an assignment with no window open and no lock opens a window.
	r := tl.must(200, "POST", e2eP1+"/assign", e2eAssign("a@x.example"))
	e2eTimers(t, "assign", r.Body, T0)
	e2eFields(t, "assign", r.Body, map[string]any{"lock_state": "window_open", "reassignable_now": true})

	// C3: inside the window, moves keep the window.
	tl.clock.Set(T0.Add(time.Hour))
	r = tl.must(200, "POST", e2eP1+"/reassign", e2eAssign("b@x.example"))
	e2eTimers(t, "reassign in window", r.Body, T0)
	tl.clock.Set(closes.Add(-time.Second))
	r = tl.must(200, "POST", e2eP1+"/reassign", e2eAssign("c@x.example"))
	e2eTimers(t, "reassign 1s before the window closes", r.Body, T0)
	e2eFields(t, "1s before close", tl.must(200, "GET", e2eP1, nil).Body,
		map[string]any{"lock_state": "window_open", "reassignable_now": true})

	// C3: exactly at window_closes_at the lock has begun.
	tl.clock.Set(closes)
	e2eFields(t, "at window_closes_at", tl.must(200, "GET", e2eP1, nil).Body,
		map[string]any{"lock_state": "locked", "reassignable_now": false, "assignee": "c@x.example"})
	for _, move := range []struct {
		path string
		body any
	}{{e2eP1 + "/reassign", e2eAssign("a@x.example")}, {e2eP1 + "/unassign", nil}, {e2eP1 + "/unassign", map[string]any{}}} {
		r := e2eReject(tl, 409, "license_locked", "POST", move.path, move.body)
		e2eDetail(t, r, "locked_until", e2eTS(lockedUntil))
		e2eDetail(t, r, "window_closes_at", e2eTS(closes))
	}
	tl.clock.Set(lockedUntil.Add(-time.Second))
	e2eReject(tl, 409, "license_locked", "POST", e2eP1+"/reassign", e2eAssign("a@x.example"))
	e2eReject(tl, 409, "license_locked", "POST", e2eP1+"/unassign", nil)
	e2eFields(t, "1s before locked_until", tl.must(200, "GET", e2eP1, nil).Body,
		map[string]any{"lock_state": "locked", "reassignable_now": false})

	// C4: exactly at locked_until the licence moves again, opening a new
	// window and lock.
	tl.clock.Set(lockedUntil)
	e2eFields(t, "at locked_until", tl.must(200, "GET", e2eP1, nil).Body,
		map[string]any{"lock_state": "none", "reassignable_now": true, "assignee": "c@x.example"})
	r = tl.must(200, "POST", e2eP1+"/reassign", e2eAssign("a@x.example"))
	e2eTimers(t, "reassign at locked_until", r.Body, lockedUntil)
	e2eFields(t, "reassign at locked_until", r.Body, map[string]any{"lock_state": "window_open", "assignee": "a@x.example"})

	// C4: unassign at or after the new locked_until opens nothing.
	second := lockedUntil.Add(e2eLock)
	tl.clock.Set(second)
	r = tl.must(200, "POST", e2eP1+"/unassign", nil)
	e2eFields(t, "unassign at locked_until", r.Body, map[string]any{
		"assignee": nil, "lock_state": "none", "assignable_now": true, "reassignable_now": false})
	e2eTimers(t, "unassign at locked_until", r.Body, lockedUntil)
	third := second.Add(3 * time.Hour)
	tl.clock.Set(third)
	r = tl.must(200, "POST", e2eP1+"/assign", e2eAssign("b@x.example"))
	e2eTimers(t, "assign after C4 unassign", r.Body, third)

	hist := e2eHistory(tl, e2eP1+"/history")
	want := []string{"license.created", "license.assigned", "license.reassigned", "license.reassigned",
		"license.reassigned", "license.unassigned", "license.assigned"}
	if got := e2eTypes(hist); !reflect.DeepEqual(got, want) {
		t.Fatalf("history got %v, want %v", got, want)
	}
	for i, newWindow := range map[int]bool{1: true, 2: false, 3: false, 4: true, 6: true} {
		if got := e2eData(t, hist[i])["new_window"]; got != newWindow {
			t.Errorf("event %d (%s): new_window got %v, want %v", i, hist[i]["type"], got, newWindow)
		}
	}
	tl.checkStream()
}

// rule C3: the lock runs whether or not the licence is assigned.
func TestRuleC3LockRunsWhileUnassigned(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	closes, lockedUntil := T0.Add(e2eWindow), T0.Add(e2eLock)
	tl.must(200, "POST", e2eP1+"/assign", e2eAssign("a@x.example"))
	tl.clock.Set(T0.Add(time.Hour))
	r := tl.must(200, "POST", e2eP1+"/unassign", nil)
	e2eFields(t, "unassign in window", r.Body, map[string]any{"assignee": nil, "lock_state": "window_open", "assignable_now": true})
	e2eTimers(t, "unassign in window", r.Body, T0)
	// Assigning again inside the window keeps the window.
	tl.clock.Set(T0.Add(2 * time.Hour))
	r = tl.must(200, "POST", e2eP1+"/assign", e2eAssign("b@x.example"))
	e2eTimers(t, "assign again in window", r.Body, T0)
	tl.clock.Set(closes.Add(-time.Second))
	tl.must(200, "POST", e2eP1+"/unassign", nil)

	tl.clock.Set(closes)
	e2eFields(t, "unassigned at close", tl.must(200, "GET", e2eP1, nil).Body,
		map[string]any{"lock_state": "locked", "assignable_now": false, "reassignable_now": false})
	r = e2eReject(tl, 409, "license_locked", "POST", e2eP1+"/assign", e2eAssign("c@x.example"))
	e2eDetail(t, r, "locked_until", e2eTS(lockedUntil))
	e2eReject(tl, 409, "not_assigned", "POST", e2eP1+"/unassign", nil)
	tl.clock.Set(lockedUntil.Add(-time.Second))
	e2eReject(tl, 409, "license_locked", "POST", e2eP1+"/assign", e2eAssign("c@x.example"))
	tl.clock.Set(lockedUntil)
	r = tl.must(200, "POST", e2eP1+"/assign", e2eAssign("c@x.example"))
	e2eTimers(t, "assign at locked_until", r.Body, lockedUntil)
	tl.checkStream()
}

// rules C2, C3, C4 with the business time `at` (an import from an earlier
// system): the boundaries hold for `at`, not for the ledger's clock.
func TestRuleC2C3C4BoundariesWithAt(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	closes, lockedUntil := T0.Add(e2eWindow), T0.Add(e2eLock)
	tl.clock.Set(T0.AddDate(0, 3, 0)) // long after all of it

	r := tl.must(200, "POST", e2eP1+"/assign", e2eAssign("a@x.example", T0))
	e2eTimers(t, "assign at T0", r.Body, T0)
	e2eFields(t, "assign at T0", r.Body, map[string]any{"assigned_at": e2eTS(T0), "lock_state": "none"})
	r = tl.must(200, "POST", e2eP1+"/reassign", e2eAssign("b@x.example", closes.Add(-time.Nanosecond)))
	e2eTimers(t, "reassign 1ns before close", r.Body, T0)
	r = e2eReject(tl, 409, "license_locked", "POST", e2eP1+"/reassign", e2eAssign("c@x.example", closes))
	e2eDetail(t, r, "locked_until", e2eTS(lockedUntil))
	e2eReject(tl, 409, "license_locked", "POST", e2eP1+"/unassign", e2eAt(closes))
	e2eReject(tl, 409, "license_locked", "POST", e2eP1+"/unassign", e2eAt(lockedUntil.Add(-time.Nanosecond)))
	// at must not go back before the licence's last event.
	r = e2eReject(tl, 409, "at_before_last_event", "POST", e2eP1+"/reassign", e2eAssign("c@x.example", T0.Add(time.Hour)))
	if r.details()["last_event_at"] == nil {
		t.Errorf("at_before_last_event without last_event_at: %s", r.Raw)
	}
	r = tl.must(200, "POST", e2eP1+"/reassign", e2eAssign("c@x.example", lockedUntil))
	e2eTimers(t, "reassign at locked_until", r.Body, lockedUntil)
	r = tl.must(200, "POST", e2eP1+"/unassign", e2eAt(lockedUntil.Add(e2eWindow-time.Second)))
	e2eTimers(t, "unassign in the new window", r.Body, lockedUntil)
	r = e2eReject(tl, 409, "license_locked", "POST", e2eP1+"/assign", e2eAssign("a@x.example", lockedUntil.Add(e2eWindow)))
	e2eDetail(t, r, "locked_until", e2eTS(lockedUntil.Add(e2eLock)))
	r = tl.must(200, "POST", e2eP1+"/assign", e2eAssign("a@x.example", lockedUntil.Add(e2eLock)))
	e2eTimers(t, "assign at the second locked_until", r.Body, lockedUntil.Add(e2eLock))
	tl.checkStream()
}

// rule C3 with `at` up to 5 minutes ahead of the clock: the window closes at
// the business time, whatever the clock says.
func TestRuleC3BoundaryAtFutureSkew(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	closes := T0.Add(e2eWindow)
	tl.must(200, "POST", e2eP1+"/assign", e2eAssign("a@x.example"))
	tl.clock.Set(closes.Add(-5 * time.Minute))
	e2eReject(tl, 400, "at_in_future", "POST", e2eP1+"/reassign", e2eAssign("b@x.example", closes.Add(time.Second)))
	e2eReject(tl, 409, "license_locked", "POST", e2eP1+"/reassign", e2eAssign("b@x.example", closes))
	r := tl.must(200, "POST", e2eP1+"/reassign", e2eAssign("b@x.example", closes.Add(-time.Second)))
	e2eTimers(t, "reassign 1s before close", r.Body, T0)
	// The clock is still inside the window, so the view says it can move.
	e2eFields(t, "view", r.Body, map[string]any{"lock_state": "window_open", "reassignable_now": true})
	tl.checkStream()
}

// The worked example of docs/rules.md (rules C2, C3, C4), end to end through
// HTTP: once moved by the ledger's clock, once by the business time `at`.
func TestWorkedExampleHTTP(t *testing.T) {
	date := func(month time.Month, day, hour, min int) time.Time {
		return time.Date(2026, month, day, hour, min, 0, 0, time.UTC)
	}
	for _, useAt := range []bool{false, true} {
		t.Run(map[bool]string{false: "clock", true: "at"}[useAt], func(t *testing.T) {
			tl := startLedger(t, "", nil)
			tl.setup()
			if useAt {
				tl.clock.Set(date(time.March, 1, 0, 0))
			}
			move := func(action, email string, at time.Time) map[string]any {
				b := map[string]any{"email": email}
				if useAt {
					b["at"] = e2eTS(at)
				} else {
					tl.clock.Set(at)
				}
				return b
			}

			// Assign to a@x at 2026-01-05T00:00Z: window until 01-06T00:00Z,
			// lock until 02-05T00:00Z.
			r := tl.must(200, "POST", e2eP1+"/assign", move("assign", "a@x.example", date(time.January, 5, 0, 0)))
			e2eFields(t, "step 1", r.Body, map[string]any{"assignee": "a@x.example",
				"window_opened_at": "2026-01-05T00:00:00Z", "window_closes_at": "2026-01-06T00:00:00Z",
				"locked_until": "2026-02-05T00:00:00Z"})

			// Reassign to b@x at 01-05T23:59Z: allowed, window unchanged.
			r = tl.must(200, "POST", e2eP1+"/reassign", move("reassign", "b@x.example", date(time.January, 5, 23, 59)))
			e2eFields(t, "step 2", r.Body, map[string]any{"assignee": "b@x.example",
				"window_opened_at": "2026-01-05T00:00:00Z", "window_closes_at": "2026-01-06T00:00:00Z",
				"locked_until": "2026-02-05T00:00:00Z"})

			// Reassign at 01-06T00:00Z: license_locked (locked_until 02-05T00:00Z).
			r = e2eReject(tl, 409, "license_locked", "POST", e2eP1+"/reassign", move("reassign", "c@x.example", date(time.January, 6, 0, 0)))
			e2eDetail(t, r, "locked_until", "2026-02-05T00:00:00Z")
			e2eFields(t, "step 3", tl.must(200, "GET", e2eP1, nil).Body, map[string]any{"assignee": "b@x.example"})

			// Reassign to c@x at 02-05T00:00Z: allowed; new window until
			// 02-06T00:00Z, lock until 03-08T00:00Z.
			r = tl.must(200, "POST", e2eP1+"/reassign", move("reassign", "c@x.example", date(time.February, 5, 0, 0)))
			e2eFields(t, "step 4", r.Body, map[string]any{"assignee": "c@x.example",
				"window_opened_at": "2026-02-05T00:00:00Z", "window_closes_at": "2026-02-06T00:00:00Z",
				"locked_until": "2026-03-08T00:00:00Z"})
			g := tl.must(200, "GET", e2eP1, nil)
			e2eFields(t, "GET after step 4", g.Body, map[string]any{"assignee": "c@x.example",
				"window_closes_at": "2026-02-06T00:00:00Z", "locked_until": "2026-03-08T00:00:00Z"})

			hist := e2eHistory(tl, e2eP1+"/history")
			if got, want := e2eTypes(hist), []string{"license.created", "license.assigned", "license.reassigned", "license.reassigned"}; !reflect.DeepEqual(got, want) {
				t.Fatalf("history got %v, want %v", got, want)
			}
			e2eFields(t, "step 2 event", e2eData(t, hist[2]), map[string]any{"email": "b@x.example", "previous_email": "a@x.example", "new_window": false})
			e2eFields(t, "step 4 event", e2eData(t, hist[3]), map[string]any{"email": "c@x.example", "previous_email": "b@x.example",
				"new_window": true, "window_closes_at": "2026-02-06T00:00:00Z", "locked_until": "2026-03-08T00:00:00Z"})
			for i, at := range []string{"2026-01-05T00:00:00Z", "2026-01-05T23:59:00Z", "2026-02-05T00:00:00Z"} {
				if got := hist[i+1]["time"]; got != at {
					t.Errorf("event %d time got %v, want %s", i+1, got, at)
				}
			}
			for email, lic := range map[string]any{"a@x.example": nil, "b@x.example": nil, "c@x.example": "P1"} {
				u := tl.must(200, "GET", e2eAcme+"/users/"+email, nil)
				e2eFields(t, email, u.Body, map[string]any{"license_id": lic})
			}
			tl.checkStream()
		})
	}
}

// rule C5
func TestRuleC5ReassignErrors(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	e2eReject(tl, 409, "not_assigned", "POST", e2eP1+"/reassign", e2eAssign("a@x.example"))
	e2eReject(tl, 409, "not_assigned", "POST", e2eP1+"/unassign", nil)
	tl.must(200, "POST", e2eP1+"/assign", e2eAssign("a@x.example"))
	for _, email := range []string{"a@x.example", "A@X.EXAMPLE"} {
		r := e2eReject(tl, 409, "already_assigned", "POST", e2eP1+"/reassign", e2eAssign(email))
		e2eDetail(t, r, "assignee", "a@x.example")
	}
	e2eReject(tl, 404, "user_not_found", "POST", e2eP1+"/reassign", e2eAssign("ghost@x.example"))
	// Also while locked: the licence's own state answers first.
	tl.clock.Set(T0.Add(e2eWindow))
	e2eReject(tl, 409, "already_assigned", "POST", e2eP1+"/reassign", e2eAssign("a@x.example"))
	tl.checkStream()
}

// rule C7
func TestRuleC7Reminders(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup() // P1 created at T0, valid from 2025
	until := T0.AddDate(1, 0, 0)
	future := T0.Add(10 * 24 * time.Hour)
	tl.must(201, "POST", e2eAcme+"/licenses", e2eLicense("PF", "practitioner", 0, future, until, "microstation"))
	tl.must(201, "POST", e2eAcme+"/licenses", e2eLicense("PE", "practitioner", 0, T0.Add(-time.Hour), T0.Add(time.Hour), "microstation"))
	tl.must(201, "POST", e2eAcme+"/licenses", e2eLicense("C1", "commercial", 3, T0, until, "microstation"))
	tl.must(201, "POST", e2eAcme+"/licenses", e2eLicense("T1", "trial", 0, T0, until, "microstation"))

	rem := e2eReminders(tl, "acme")
	if len(rem) != 2 || rem["P1"] == nil || rem["PE"] == nil {
		t.Fatalf("reminders at T0 got %v, want P1 and PE (not the future PF, nor commercial or trial)", rem)
	}
	e2eFields(t, "P1 at T0", rem["P1"], map[string]any{"since": e2eTS(T0), "assignable_from": e2eTS(T0)})
	e2eFields(t, "PE at T0", rem["PE"], map[string]any{"since": e2eTS(T0), "assignable_from": e2eTS(T0)})

	tl.clock.Set(T0.Add(time.Hour))
	tl.must(200, "POST", e2eP1+"/assign", e2eAssign("a@x.example"))
	if rem := e2eReminders(tl, "acme"); len(rem) != 0 {
		t.Errorf("after assign and PE's expiry: reminders got %v, want none", rem)
	}
	unassignedAt := T0.Add(2 * time.Hour)
	tl.clock.Set(unassignedAt)
	tl.must(200, "POST", e2eP1+"/unassign", nil)
	rem = e2eReminders(tl, "acme")
	e2eFields(t, "P1 after unassign in window", rem["P1"], map[string]any{
		"license_id": "P1", "since": e2eTS(unassignedAt), "assignable_from": e2eTS(unassignedAt)})

	lockedUntil := T0.Add(time.Hour).Add(e2eLock)
	tl.clock.Set(T0.Add(time.Hour).Add(e2eWindow))
	e2eFields(t, "P1 while locked", e2eReminders(tl, "acme")["P1"], map[string]any{
		"since": e2eTS(unassignedAt), "assignable_from": e2eTS(lockedUntil)})

	tl.clock.Set(future)
	rem = e2eReminders(tl, "acme")
	e2eFields(t, "PF once active", rem["PF"], map[string]any{"since": e2eTS(T0), "assignable_from": e2eTS(future)})
	if len(rem) != 2 {
		t.Errorf("reminders at %s got %v, want P1 and PF", future, rem)
	}
	tl.clock.Set(lockedUntil.Add(time.Hour))
	e2eFields(t, "P1 after its lock", e2eReminders(tl, "acme")["P1"], map[string]any{
		"since": e2eTS(unassignedAt), "assignable_from": e2eTS(lockedUntil)})
	tl.must(200, "POST", e2eAcme+"/licenses/PF/assign", e2eAssign("b@x.example"))
	if rem := e2eReminders(tl, "acme"); len(rem) != 1 || rem["P1"] == nil {
		t.Errorf("reminders got %v, want P1 only", rem)
	}
	e2eReject(tl, 404, "account_not_found", "GET", "/v1/accounts/nope/reminders", nil)
	tl.must(201, "POST", "/v1/accounts", map[string]any{"id": "empty", "name": "Empty", "fulfillment_contact": "x@e.example"})
	if r := tl.must(200, "GET", "/v1/accounts/empty/reminders", nil); string(r.Raw) != "{\"unassigned\":[]}\n" {
		t.Errorf("reminders of an account without licences got %s, want an empty list", r.Raw)
	}
}

// rule C8
func TestRuleC8LicenceState(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	g := tl.must(200, "GET", e2eP1, nil)
	for _, k := range []string{"id", "kind", "products", "seats", "valid_from", "valid_until", "assignee",
		"window_opened_at", "window_closes_at", "locked_until", "reassignable_now", "checkout"} {
		if _, ok := g.Body[k]; !ok {
			t.Errorf("licence has no %q (docs/api.md): %s", k, g.Raw)
		}
	}
	e2eFields(t, "unassigned", g.Body, map[string]any{"assignee": nil, "window_closes_at": nil, "locked_until": nil,
		"reassignable_now": false, "assignable_now": true, "lock_state": "none"})

	tl.clock.Set(T0.Add(30 * time.Minute))
	start := tl.clock.Now()
	tl.must(200, "POST", e2eP1+"/assign", e2eAssign("a@x.example"))
	closes, lockedUntil := start.Add(e2eWindow), start.Add(e2eLock)
	steps := []struct {
		at    time.Time
		state string
		now   bool
	}{
		{start, "window_open", true},
		{closes.Add(-time.Second), "window_open", true},
		{closes, "locked", false},
		{lockedUntil.Add(-time.Second), "locked", false},
		{lockedUntil, "none", true},
		{lockedUntil.AddDate(1, 0, 0), "none", true},
	}
	for _, s := range steps {
		tl.clock.Set(s.at)
		g := tl.must(200, "GET", e2eP1, nil)
		what := "at " + e2eTS(s.at)
		e2eFields(t, what, g.Body, map[string]any{"assignee": "a@x.example", "lock_state": s.state,
			"reassignable_now": s.now, "assignable_now": false})
		e2eTimers(t, what, g.Body, start)
	}
	// The assignment event names the assignee (C8).
	hist := e2eHistory(tl, e2eP1+"/history")
	e2eFields(t, "license.assigned", e2eData(t, hist[1]), map[string]any{"email": "a@x.example", "new_window": true,
		"window_opened_at": e2eTS(start), "window_closes_at": e2eTS(closes), "locked_until": e2eTS(lockedUntil)})
	// After the licence's term it is not active, so it cannot move.
	tl.clock.Set(time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC))
	e2eFields(t, "expired", tl.must(200, "GET", e2eP1, nil).Body, map[string]any{"active_now": false, "reassignable_now": false})
	e2eReject(tl, 400, "invalid_argument", "GET", e2eAcme+"/licenses/bad%20id", nil)
}

// rule H4
func TestRuleH4History(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	tl.must(200, "POST", e2eP1+"/assign", e2eAssign("a@x.example"), "Ledger-Actor", "admin@acme.example")
	tl.clock.Advance(time.Hour)
	tl.must(200, "POST", e2eP1+"/reassign", e2eAssign("b@x.example"))
	tl.clock.Advance(time.Hour)
	tl.must(200, "POST", e2eP1+"/unassign", nil)
	tl.must(200, "POST", e2eP1+"/renew", map[string]any{"valid_until": "2030-01-01T00:00:00Z"})
	tl.must(200, "PATCH", e2eAcme+"/users/a@x.example", map[string]any{"entitlement_country": "AT"})
	tl.must(204, "DELETE", e2eAcme+"/users/a@x.example", nil)

	stream := tl.checkStream()
	bySubject := map[string][]string{} // subject → event ids in stream order
	for _, e := range stream {
		bySubject[e.Subject()] = append(bySubject[e.Subject()], e.ID)
	}
	cases := []struct {
		path, subject string
		types         []string
	}{
		{e2eP1 + "/history", events.Subject("acme", events.AggregateLicense, "P1"),
			[]string{"license.created", "license.assigned", "license.reassigned", "license.unassigned", "license.renewed"}},
		{e2eAcme + "/users/a@x.example/history", "",
			[]string{"user.registered", "user.license_attached", "user.license_detached", "user.country_changed", "user.removed"}},
		{e2eAcme + "/users/b@x.example/history", "",
			[]string{"user.registered", "user.license_attached", "user.license_detached"}},
		{e2eAcme + "/history", events.Subject("acme", events.AggregateAccount, "acme"), []string{"account.created"}},
	}
	for _, c := range cases {
		hist := e2eHistory(tl, c.path)
		if got := e2eTypes(hist); !reflect.DeepEqual(got, c.types) {
			t.Errorf("GET %s: types got %v, want %v", c.path, got, c.types)
		}
		var ids []string
		prev := ""
		for i, e := range hist {
			id, _ := e["id"].(string)
			ids = append(ids, id)
			tm, _ := e["time"].(string)
			if tm < prev {
				t.Errorf("GET %s: event %d at %s before its predecessor at %s", c.path, i, tm, prev)
			}
			prev = tm
			for _, k := range []string{"specversion", "source", "subject", "actor", "commandid", "correlationid", "recordedat", "data"} {
				if _, ok := e[k]; !ok {
					t.Errorf("GET %s: event %d has no %s", c.path, i, k)
				}
			}
		}
		if c.subject != "" && !reflect.DeepEqual(ids, bySubject[c.subject]) {
			t.Errorf("GET %s: ids got %v, want the stream's %v", c.path, ids, bySubject[c.subject])
		}
	}
	first := e2eHistory(tl, e2eP1+"/history")[1]
	// rule S3: the actor is the token that sent the command, never the
	// Ledger-Actor header the client sent with it.
	if first["actor"] != tl.actor() {
		t.Errorf("actor got %v, want the admin token's %s", first["actor"], tl.actor())
	}
	e2eReject(tl, 404, "user_not_found", "GET", e2eAcme+"/users/ghost@x.example/history", nil)
	e2eReject(tl, 404, "license_not_found", "GET", e2eAcme+"/licenses/NOPE/history", nil)
	e2eReject(tl, 404, "account_not_found", "GET", "/v1/accounts/nope/history", nil)
}

// Emails are stored lower-cased and compared case-insensitively (docs/rules.md),
// whatever characters they hold: a NATS wildcard, dots, '%', '/', non-ASCII.
// Each one registers, takes a licence, reads back and has a history.
func TestRuleEmailsWithSpecialCharacters(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	emails := []string{"O'Brien+Tag@X.example", "a*b@x.example", "a%2Eb@x.example",
		"a/b@x.example", "Ünïcødé@x.example", "first.last@sub.x.example", "a_b-c@x-y.example"}
	for i, email := range emails {
		lower := strings.ToLower(email)
		lic := fmt.Sprintf("S%d", i)
		tl.must(201, "POST", e2eAcme+"/licenses", e2eLicense(lic, "practitioner", 0, T0, T0.AddDate(1, 0, 0), "microstation"))
		r := tl.must(201, "POST", e2eAcme+"/users", map[string]any{"email": email, "entitlement_country": "IE"})
		e2eFields(t, email, r.Body, map[string]any{"email": lower})
		r = tl.must(200, "POST", e2eAcme+"/licenses/"+lic+"/assign", e2eAssign(strings.ToUpper(email)))
		e2eFields(t, email, r.Body, map[string]any{"assignee": lower})
		path := e2eAcme + "/users/" + url.PathEscape(email)
		e2eFields(t, email, tl.must(200, "GET", path, nil).Body, map[string]any{"email": lower, "license_id": lic})
		types := e2eTypes(e2eHistory(tl, path+"/history"))
		if want := []string{"user.registered", "user.license_attached"}; !reflect.DeepEqual(types, want) {
			t.Errorf("%s: history got %v, want %v", email, types, want)
		}
		e2eReject(tl, 409, "user_exists", "POST", e2eAcme+"/users", map[string]any{"email": lower})
	}
	tl.checkStream()
}
