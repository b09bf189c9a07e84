package commands_test

import (
	"slices"
	"testing"
	"time"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
)

// Tests of offline checkout (F6) and the rules it touches: C6 (no move while
// checked out), D1 (a checkout is the user's one machine) and A4 (removing
// the user ends it), on the pure decisions of package commands.

// coTTL is the default session TTL of rule D3, written out: the test states
// the rule.
const coTTL = 7 * 24 * time.Hour

// Machines of the tests.
const (
	coMA = "WS-A.acme"
	coMB = "WS-B.acme"
)

// coWorld is the standard world with P1 assigned to a@x.com at t0 (window
// until windowCloses, lock until lockedUntil).
func coWorld(tb testing.TB) *world {
	tb.Helper()
	w := stdWorld(tb)
	w.must(tb)(w.assign("P1", "a@x.com", t0))
	return w
}

// coCheckout normalizes and decides a checkout with the ledger's clock at now
// and the default session TTL, the way the write side does.
func (w *world) coCheckout(id, email, machine string, until, now time.Time) ([]events.Event, error) {
	c, err := commands.Checkout{Account: acct, LicenseID: id, Email: email, MachineID: machine, Until: until}.Normalize()
	if err != nil {
		return nil, err
	}
	return c.Decide(w.license(acct, c.LicenseID), w.session(acct, c.Email), now, coTTL)
}

// coCheckin normalizes and decides a check-in at now.
func (w *world) coCheckin(id string, now time.Time) ([]events.Event, error) {
	c, err := commands.Checkin{Account: acct, LicenseID: id}.Normalize()
	if err != nil {
		return nil, err
	}
	lic := w.license(acct, c.LicenseID)
	return c.Decide(lic, w.session(acct, lic.CheckoutEmail), now)
}

// coSignIn is a sign-in as the write side decides it: with the licence the
// user holds, whose live checkout is the user's machine (D1, F6).
func (w *world) coSignIn(email, machine string, now time.Time) ([]events.Event, error) {
	c, err := commands.SignIn{Account: acct, Email: email, MachineID: machine, ClientVersion: "10.00.18", ClientTime: now}.Normalize()
	if err != nil {
		return nil, err
	}
	return c.Decide(w.user(acct, c.Email), w.session(acct, c.Email), now, coTTL)
}

// coTypes checks the types of evs.
func coTypes(tb testing.TB, what string, evs []events.Event, want ...string) {
	tb.Helper()
	if got := types(evs); !slices.Equal(got, want) {
		tb.Errorf("%s: events got %v, want %v", what, got, want)
	}
}

// coNoCheckout checks that a licence state holds no live checkout at t and
// that its checkout fields are cleared.
func coNoCheckout(tb testing.TB, what string, lic commands.License, t time.Time) {
	tb.Helper()
	if lic.CheckedOutAt(t) {
		tb.Errorf("%s: CheckedOutAt(%s) got true, want false", what, rfc3339(t))
	}
}

// rule F6: the assignee checks the licence out to one machine; the event
// names the licence, the user, the machine, the products and the end, and
// is dated at the ledger's clock. The state is live in [issued, until).
func TestCoF6CheckoutByAssignee(t *testing.T) {
	w := coWorld(t)
	now := t0.Add(time.Hour)
	until := now.Add(48 * time.Hour)
	evs := w.must(t)(w.coCheckout("P1", "A@X.com", coMA, until, now))
	coTypes(t, "checkout", evs, events.TypeLicenseCheckedOut, events.TypeSessionCheckedOut)
	e, d := only[events.LicenseCheckedOut](t, evs)
	if e.Account != acct || e.AggregateID != "P1" || e.Aggregate() != events.AggregateLicense {
		t.Errorf("event subject: got %s/%s/%s, want %s/license/P1", e.Account, e.Aggregate(), e.AggregateID, acct)
	}
	if !e.OccurredAt.Equal(now) {
		t.Errorf("occurred_at: got %s, want the ledger's clock %s", rfc3339(e.OccurredAt), rfc3339(now))
	}
	if d.ID != "P1" || d.Email != "a@x.com" || d.MachineID != coMA || !d.Until.Equal(until) ||
		!slices.Equal(d.Products, []string{"revit"}) {
		t.Errorf("license.checked_out: got %+v, want P1, a@x.com, %s, [revit], until %s", d, coMA, rfc3339(until))
	}
	lic := w.license(acct, "P1")
	if lic.CheckoutEmail != "a@x.com" || lic.CheckoutMachine != coMA || !lic.CheckoutUntil.Equal(until) ||
		!lic.CheckoutIssuedAt.Equal(now) {
		t.Errorf("state: got email %q machine %q until %s issued %s", lic.CheckoutEmail, lic.CheckoutMachine,
			rfc3339(lic.CheckoutUntil), rfc3339(lic.CheckoutIssuedAt))
	}
	if lic.Assignee != "a@x.com" {
		t.Errorf("assignee: got %q, want a checkout to leave it a@x.com", lic.Assignee)
	}
	for _, c := range []struct {
		at   time.Time
		live bool
	}{
		{now, true},
		{until.Add(-time.Nanosecond), true},
		{until, false}, // half-open: exactly at until it is over
		{until.Add(time.Hour), false},
	} {
		if got := lic.CheckedOutAt(c.at); got != c.live {
			t.Errorf("CheckedOutAt(%s): got %v, want %v", rfc3339(c.at), got, c.live)
		}
	}
}

// rule F6: only the licence's assignee can check it out.
func TestCoF6OnlyTheAssignee(t *testing.T) {
	w := coWorld(t)
	now := t0.Add(time.Hour)
	e := rejected(t, commands.CodeNotAssignee)(w.coCheckout("P1", "b@x.com", coMA, now.Add(time.Hour), now))
	wantDetail(t, e, "email", "b@x.com")
	// An unassigned licence has no assignee: nobody can check it out.
	rejected(t, commands.CodeNotAssignee)(w.coCheckout("P2", "a@x.com", coMA, now.Add(time.Hour), now))
	// A user who is not registered at all is not the assignee either.
	rejected(t, commands.CodeNotAssignee)(w.coCheckout("P1", "nobody@x.com", coMA, now.Add(time.Hour), now))
	// Reassigned: the new assignee may, the previous one no longer.
	w.must(t)(w.reassign("P1", "b@x.com", now))
	rejected(t, commands.CodeNotAssignee)(w.coCheckout("P1", "a@x.com", coMA, now.Add(time.Hour), now))
	w.must(t)(w.coCheckout("P1", "b@x.com", coMB, now.Add(time.Hour), now))
}

// rule F6: only a practitioner licence can be checked out; an unknown
// licence is license_not_found.
func TestCoF6PractitionerOnly(t *testing.T) {
	w := coWorld(t)
	now := t0.Add(time.Hour)
	for _, id := range []string{"C1", "T1"} {
		e := rejected(t, commands.CodeNotPractitioner)(w.coCheckout(id, "a@x.com", coMA, now.Add(time.Hour), now))
		if e.Details["kind"] == nil {
			t.Errorf("%s: details got %v, want the licence's kind", id, e.Details)
		}
		rejected(t, commands.CodeNotPractitioner)(w.coCheckin(id, now))
	}
	rejected(t, commands.CodeLicenseNotFound)(w.coCheckout("NOPE", "a@x.com", coMA, now.Add(time.Hour), now))
	rejected(t, commands.CodeLicenseNotFound)(w.coCheckin("NOPE", now))
}

// rule F6 (with B2): only an active licence can be checked out; exactly at
// valid_until it is no longer active.
func TestCoF6ActiveOnly(t *testing.T) {
	w := coWorld(t)
	rejected(t, commands.CodeLicenseInactive)(w.coCheckout("P1", "a@x.com", coMA, termUntil.Add(time.Hour), termUntil))
	rejected(t, commands.CodeLicenseInactive)(w.coCheckout("P1", "a@x.com", coMA, termUntil.Add(48*time.Hour), termUntil.Add(24*time.Hour)))
	// The last instant of the term is still active: a checkout until
	// valid_until is allowed.
	last := termUntil.Add(-time.Nanosecond)
	w.must(t)(w.coCheckout("P1", "a@x.com", coMA, termUntil, last))
}

// rule F6: until is after now and no later than valid_until; exactly
// valid_until is allowed. A bad until is invalid_argument naming the field.
func TestCoF6UntilBounds(t *testing.T) {
	now := t0.Add(time.Hour)
	for _, c := range []struct {
		name  string
		until time.Time
	}{
		{"now", now},
		{"before now", now.Add(-time.Nanosecond)},
		{"long before now", t0},
		{"valid_until + 1ns", termUntil.Add(time.Nanosecond)},
		{"after valid_until", termUntil.Add(24 * time.Hour)},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := coWorld(t)
			e := rejected(t, commands.CodeInvalidArgument)(w.coCheckout("P1", "a@x.com", coMA, c.until, now))
			wantDetail(t, e, "field", "until")
			wantDetail(t, e, "valid_until", rfc3339(termUntil))
		})
	}
	for _, c := range []struct {
		name  string
		until time.Time
	}{
		{"now + 1ns", now.Add(time.Nanosecond)},
		{"exactly valid_until", termUntil},
		{"valid_until - 1ns", termUntil.Add(-time.Nanosecond)},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := coWorld(t)
			evs := w.must(t)(w.coCheckout("P1", "a@x.com", coMA, c.until, now))
			if _, d := only[events.LicenseCheckedOut](t, evs); !d.Until.Equal(c.until) {
				t.Errorf("until: got %s, want %s", rfc3339(d.Until), rfc3339(c.until))
			}
		})
	}
}

// rule F6: Normalize lower-cases the email and validates every field.
func TestCoF6CheckoutNormalize(t *testing.T) {
	until := t0.Add(time.Hour)
	c, err := commands.Checkout{Account: acct, LicenseID: "P1", Email: " A@X.COM ", MachineID: coMA, Until: until}.Normalize()
	if err != nil {
		t.Fatalf("Normalize: got %v, want nil", err)
	}
	if c.Email != "a@x.com" {
		t.Errorf("email: got %q, want a@x.com", c.Email)
	}
	for _, bad := range []struct {
		field string
		c     commands.Checkout
	}{
		{"account", commands.Checkout{Account: "Acme!", LicenseID: "P1", Email: "a@x.com", MachineID: coMA, Until: until}},
		{"license_id", commands.Checkout{Account: acct, LicenseID: "", Email: "a@x.com", MachineID: coMA, Until: until}},
		{"email", commands.Checkout{Account: acct, LicenseID: "P1", Email: "not an email", MachineID: coMA, Until: until}},
		{"machine_id", commands.Checkout{Account: acct, LicenseID: "P1", Email: "a@x.com", MachineID: "", Until: until}},
		{"machine_id", commands.Checkout{Account: acct, LicenseID: "P1", Email: "a@x.com", MachineID: "-bad machine", Until: until}},
		{"until", commands.Checkout{Account: acct, LicenseID: "P1", Email: "a@x.com", MachineID: coMA}},
	} {
		_, err := bad.c.Normalize()
		e := rejected(t, commands.CodeInvalidArgument)(nil, err)
		wantDetail(t, e, "field", bad.field)
	}
	if _, err := (commands.Checkin{Account: acct, LicenseID: ""}).Normalize(); commands.CodeOf(err) != commands.CodeInvalidArgument {
		t.Errorf("Checkin.Normalize without a licence id: got %v, want invalid_argument", err)
	}
}

// rule F6: a second checkout while one is live is license_checked_out, from
// the same machine or another; exactly at until a new checkout is allowed.
func TestCoF6SecondCheckoutWhileLive(t *testing.T) {
	w := coWorld(t)
	now := t0.Add(time.Hour)
	until := now.Add(2 * time.Hour)
	w.must(t)(w.coCheckout("P1", "a@x.com", coMA, until, now))
	for _, m := range []string{coMA, coMB} {
		e := rejected(t, commands.CodeLicenseCheckedOut)(w.coCheckout("P1", "a@x.com", m, until.Add(time.Hour), until.Add(-time.Nanosecond)))
		wantDetail(t, e, "until", rfc3339(until))
		wantDetail(t, e, "machine_id", coMA)
	}
	evs := w.must(t)(w.coCheckout("P1", "a@x.com", coMB, until.Add(time.Hour), until))
	if _, d := only[events.LicenseCheckedOut](t, evs); d.MachineID != coMB {
		t.Errorf("checkout at until: machine got %q, want %q", d.MachineID, coMB)
	}
	if lic := w.license(acct, "P1"); lic.CheckoutMachine != coMB || !lic.CheckoutIssuedAt.Equal(until) {
		t.Errorf("state: got machine %q issued %s, want %q issued %s", lic.CheckoutMachine,
			rfc3339(lic.CheckoutIssuedAt), coMB, rfc3339(until))
	}
}

// rule F6: check-in ends the checkout early; without a live checkout it is
// not_checked_out: never checked out, checked in already, or expired
// (exactly at until the checkout is over).
func TestCoF6Checkin(t *testing.T) {
	w := coWorld(t)
	now := t0.Add(time.Hour)
	until := now.Add(2 * time.Hour)
	rejected(t, commands.CodeNotCheckedOut)(w.coCheckin("P1", now))
	rejected(t, commands.CodeNotCheckedOut)(w.coCheckin("P2", now)) // unassigned, never checked out

	w.must(t)(w.coCheckout("P1", "a@x.com", coMA, until, now))
	in := now.Add(time.Hour)
	evs := w.must(t)(w.coCheckin("P1", in))
	coTypes(t, "checkin", evs, events.TypeLicenseCheckedIn, events.TypeSessionCheckedIn)
	e, d := only[events.LicenseCheckedIn](t, evs)
	if d.ID != "P1" || d.MachineID != coMA || !e.OccurredAt.Equal(in) {
		t.Errorf("license.checked_in: got %+v at %s, want P1 on %s at %s", d, rfc3339(e.OccurredAt), coMA, rfc3339(in))
	}
	lic := w.license(acct, "P1")
	coNoCheckout(t, "after checkin", lic, in)
	if lic.CheckoutEmail != "" || lic.CheckoutMachine != "" || !lic.CheckoutUntil.IsZero() || !lic.CheckoutIssuedAt.IsZero() {
		t.Errorf("after checkin: checkout fields got %q %q %v %v, want cleared", lic.CheckoutEmail, lic.CheckoutMachine,
			lic.CheckoutUntil, lic.CheckoutIssuedAt)
	}
	if lic.Assignee != "a@x.com" {
		t.Errorf("after checkin: assignee got %q, want a@x.com", lic.Assignee)
	}
	rejected(t, commands.CodeNotCheckedOut)(w.coCheckin("P1", in))
	// Checked in, it can be checked out again at once.
	w.must(t)(w.coCheckout("P1", "a@x.com", coMB, until, in))

	// Expired: exactly at until the checkout is over.
	rejected(t, commands.CodeNotCheckedOut)(w.coCheckin("P1", until))
	coNoCheckout(t, "at until", w.license(acct, "P1"), until)
}

// rule C6: while a checkout is live the licence cannot be reassigned or
// unassigned (license_checked_out, with until and machine_id); exactly at
// until, inside the window, both are allowed again.
func TestCoC6NoMoveWhileCheckedOut(t *testing.T) {
	w := coWorld(t)
	now := t0.Add(time.Hour)
	until := t0.Add(3 * time.Hour) // inside the window (until windowCloses)
	w.must(t)(w.coCheckout("P1", "a@x.com", coMA, until, now))
	for _, at := range []time.Time{now, t0.Add(2 * time.Hour), until.Add(-time.Nanosecond)} {
		e := rejected(t, commands.CodeLicenseCheckedOut)(w.reassign("P1", "b@x.com", at))
		wantDetail(t, e, "until", rfc3339(until))
		wantDetail(t, e, "machine_id", coMA)
		e = rejected(t, commands.CodeLicenseCheckedOut)(w.unassign("P1", at))
		wantDetail(t, e, "until", rfc3339(until))
		wantDetail(t, e, "machine_id", coMA)
	}
	if lic := w.license(acct, "P1"); lic.Assignee != "a@x.com" {
		t.Fatalf("assignee got %q, want a@x.com", lic.Assignee)
	}
	// At until: allowed, and the window is unchanged (C3).
	w.must(t)(w.reassign("P1", "b@x.com", until))
	wantTimers(t, w.license(acct, "P1"), t0, windowCloses, lockedUntil)
	w.must(t)(w.unassign("P1", until))
}

// rule C6: check-in ends the protection at once: reassign and unassign are
// allowed right after it (inside the window).
func TestCoC6MoveAfterCheckin(t *testing.T) {
	w := coWorld(t)
	now := t0.Add(time.Hour)
	w.must(t)(w.coCheckout("P1", "a@x.com", coMA, now.Add(48*time.Hour), now))
	rejected(t, commands.CodeLicenseCheckedOut)(w.unassign("P1", now.Add(time.Minute)))
	in := now.Add(2 * time.Minute)
	w.must(t)(w.coCheckin("P1", in))
	w.must(t)(w.reassign("P1", "b@x.com", in))
	w.must(t)(w.coCheckout("P1", "b@x.com", coMB, now.Add(48*time.Hour), in))
	rejected(t, commands.CodeLicenseCheckedOut)(w.unassign("P1", in.Add(time.Minute)))
	w.must(t)(w.coCheckin("P1", in.Add(2*time.Minute)))
	w.must(t)(w.unassign("P1", in.Add(2*time.Minute)))
	if lic := w.license(acct, "P1"); lic.Assignee != "" {
		t.Errorf("assignee got %q, want none", lic.Assignee)
	}
}

// rule C6 (with C3, C4): a checkout that outlasts the lock keeps the licence
// in place after locked_until until its own end; then a reassign opens a new
// window (C4).
func TestCoC6CheckoutOutlastsLock(t *testing.T) {
	w := coWorld(t)
	issued := lockedUntil.Add(-time.Hour)
	until := lockedUntil.Add(time.Hour)
	w.must(t)(w.coCheckout("P1", "a@x.com", coMA, until, issued))
	// Locked and checked out: rejected either way, nothing moves.
	if _, err := w.reassign("P1", "b@x.com", issued); err == nil {
		t.Fatalf("reassign inside the lock and the checkout: got nil, want a rejection")
	}
	// The lock is over but the checkout is live: license_checked_out.
	e := rejected(t, commands.CodeLicenseCheckedOut)(w.reassign("P1", "b@x.com", lockedUntil))
	wantDetail(t, e, "until", rfc3339(until))
	rejected(t, commands.CodeLicenseCheckedOut)(w.unassign("P1", lockedUntil.Add(30*time.Minute)))
	// At until: a reassign opens a new window and lock.
	w.must(t)(w.reassign("P1", "b@x.com", until))
	wantTimers(t, w.license(acct, "P1"), until, until.Add(24*time.Hour), until.Add(24*time.Hour+30*24*time.Hour))
}

// rules D1, F6: a live checkout on machine A is the user's one machine:
// signing in from machine B is signed_in_elsewhere naming A; from A it
// works. At until, or after a check-in, B is free again.
func TestCoF6D1CheckoutIsTheUsersMachine(t *testing.T) {
	w := coWorld(t)
	now := t0.Add(time.Hour)
	until := now.Add(24 * time.Hour)
	w.must(t)(w.coCheckout("P1", "a@x.com", coMA, until, now))

	e := rejected(t, commands.CodeSignedInElsewhere)(w.coSignIn("a@x.com", coMB, now.Add(time.Minute)))
	wantDetail(t, e, "machine_id", coMA)
	rejected(t, commands.CodeSignedInElsewhere)(w.coSignIn("A@X.COM", coMB, until.Add(-time.Nanosecond)))

	// Another user is not affected by a's checkout.
	w.must(t)(w.coSignIn("b@x.com", coMB, now.Add(time.Minute)))

	// From machine A: a session starts.
	evs := w.must(t)(w.coSignIn("a@x.com", coMA, now.Add(2*time.Minute)))
	coTypes(t, "sign-in on the checkout's machine", evs, events.TypeSessionStarted)
	w.must(t)(commands.SignOut{Account: acct, Email: "a@x.com"}.Decide(w.session(acct, "a@x.com"), now.Add(3*time.Minute), coTTL))
	// Signed out, the checkout still holds machine A.
	rejected(t, commands.CodeSignedInElsewhere)(w.coSignIn("a@x.com", coMB, now.Add(4*time.Minute)))

	// At until the checkout is over: B may sign in.
	w.must(t)(w.coSignIn("a@x.com", coMB, until))
}

// rules D1, F6: after a check-in the user may sign in elsewhere at once.
func TestCoF6D1SignInElsewhereAfterCheckin(t *testing.T) {
	w := coWorld(t)
	now := t0.Add(time.Hour)
	w.must(t)(w.coCheckout("P1", "a@x.com", coMA, now.Add(24*time.Hour), now))
	rejected(t, commands.CodeSignedInElsewhere)(w.coSignIn("a@x.com", coMB, now.Add(time.Minute)))
	w.must(t)(w.coCheckin("P1", now.Add(2*time.Minute)))
	w.must(t)(w.coSignIn("a@x.com", coMB, now.Add(2*time.Minute)))
}

// rules D1, F6: a live session on machine A blocks a checkout to machine B
// (signed_in_elsewhere naming A) but allows one to A. Once the session has
// ended (sign-out, or its TTL), B may be checked out to.
func TestCoF6D1SessionBlocksCheckoutElsewhere(t *testing.T) {
	w := coWorld(t)
	now := t0.Add(time.Hour)
	w.must(t)(w.coSignIn("a@x.com", coMA, now))
	e := rejected(t, commands.CodeSignedInElsewhere)(w.coCheckout("P1", "a@x.com", coMB, now.Add(48*time.Hour), now.Add(time.Minute)))
	wantDetail(t, e, "machine_id", coMA)
	// The session expires at now + TTL: just before it still blocks.
	rejected(t, commands.CodeSignedInElsewhere)(w.coCheckout("P1", "a@x.com", coMB, now.Add(coTTL+time.Hour), now.Add(coTTL-time.Nanosecond)))
	// To A: allowed.
	evs := w.must(t)(w.coCheckout("P1", "a@x.com", coMA, now.Add(time.Hour), now.Add(time.Minute)))
	if _, d := only[events.LicenseCheckedOut](t, evs); d.MachineID != coMA {
		t.Errorf("machine got %q, want %q", d.MachineID, coMA)
	}

	// Session TTL over: B is free.
	w2 := coWorld(t)
	w2.must(t)(w2.coSignIn("a@x.com", coMA, now))
	w2.must(t)(w2.coCheckout("P1", "a@x.com", coMB, now.Add(coTTL+time.Hour), now.Add(coTTL)))

	// Signed out: B is free.
	w3 := coWorld(t)
	w3.must(t)(w3.coSignIn("a@x.com", coMA, now))
	w3.must(t)(commands.SignOut{Account: acct, Email: "a@x.com"}.Decide(w3.session(acct, "a@x.com"), now.Add(time.Minute), coTTL))
	w3.must(t)(w3.coCheckout("P1", "a@x.com", coMB, now.Add(time.Hour), now.Add(time.Minute)))
}

// rule A4 (with F6, C6): removing the checked-out user unassigns the licence
// even while it is checked out and locked, and the checkout ends with it;
// the lock keeps running.
func TestCoF6A4RemoveCheckedOutUser(t *testing.T) {
	w := coWorld(t)
	issued := windowCloses.Add(time.Hour) // locked
	until := issued.Add(48 * time.Hour)
	w.must(t)(w.coCheckout("P1", "a@x.com", coMA, until, issued))
	at := issued.Add(time.Hour)
	evs := w.must(t)(w.removeUser(acct, "a@x.com", at))
	_, d := only[events.LicenseUnassigned](t, evs)
	if d.Reason != events.ReasonUserRemoved || d.PreviousEmail != "a@x.com" {
		t.Errorf("license.unassigned: got reason %q previous %q, want user_removed a@x.com", d.Reason, d.PreviousEmail)
	}
	lic := w.license(acct, "P1")
	if lic.Assignee != "" {
		t.Errorf("assignee got %q, want none", lic.Assignee)
	}
	coNoCheckout(t, "after removal", lic, at)
	if lic.CheckoutEmail != "" || lic.CheckoutMachine != "" || !lic.CheckoutUntil.IsZero() {
		t.Errorf("after removal: checkout fields got %q %q %v, want cleared", lic.CheckoutEmail, lic.CheckoutMachine, lic.CheckoutUntil)
	}
	if !lic.LockedUntil.Equal(lockedUntil) {
		t.Errorf("locked_until got %s, want the lock to keep running until %s", rfc3339(lic.LockedUntil), rfc3339(lockedUntil))
	}
	rejected(t, commands.CodeNotCheckedOut)(w.coCheckin("P1", at))
	rejected(t, commands.CodeLicenseLocked)(w.assign("P1", "b@x.com", at))
}
