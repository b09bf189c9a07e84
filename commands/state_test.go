package commands_test

import (
	"testing"
	"time"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
)

// rule B2: a licence is active at t when valid_from <= t < valid_until.
func TestLicenseActiveAt(t *testing.T) {
	lic := commands.License{ID: "P1", ValidFrom: termFrom, ValidUntil: termUntil}
	tests := []struct {
		name string
		at   time.Time
		want bool
	}{
		{"before valid_from", termFrom.Add(-time.Nanosecond), false},
		{"exactly at valid_from", termFrom, true},
		{"inside", t0, true},
		{"just before valid_until", termUntil.Add(-time.Nanosecond), true},
		{"exactly at valid_until", termUntil, false},
		{"after valid_until", termUntil.Add(time.Hour), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := lic.ActiveAt(tt.at); got != tt.want {
				t.Errorf("ActiveAt(%v): got %v, want %v", tt.at, got, tt.want)
			}
		})
	}
}

// rules C2, C3, C4: intervals are half-open; exactly at window_closes_at the
// lock has begun, exactly at locked_until it has ended.
func TestLicenseLockAt(t *testing.T) {
	lic := commands.License{ID: "P1", WindowOpenedAt: t0, WindowClosesAt: windowCloses, LockedUntil: lockedUntil}
	tests := []struct {
		name string
		lic  commands.License
		at   time.Time
		want commands.Lock
		str  string
	}{
		{"never assigned", commands.License{ID: "P1"}, t0, commands.LockNone, "none"},
		{"window opened", lic, t0, commands.LockWindowOpen, "window_open"},
		{"just before window_closes_at", lic, windowCloses.Add(-time.Nanosecond), commands.LockWindowOpen, "window_open"},
		{"exactly at window_closes_at", lic, windowCloses, commands.LockLocked, "locked"},
		{"just before locked_until", lic, lockedUntil.Add(-time.Nanosecond), commands.LockLocked, "locked"},
		{"exactly at locked_until", lic, lockedUntil, commands.LockNone, "none"},
		{"after locked_until", lic, lockedUntil.Add(365 * 24 * time.Hour), commands.LockNone, "none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.lic.LockAt(tt.at)
			if got != tt.want {
				t.Errorf("LockAt(%v): got %v, want %v", tt.at, got, tt.want)
			}
			if got.String() != tt.str {
				t.Errorf("LockAt(%v).String(): got %q, want %q", tt.at, got.String(), tt.str)
			}
		})
	}
}

// rule C7: every active, unassigned practitioner licence is listed with the
// time it became unassigned and the earliest time it can be assigned.
func TestLicenseAssignableFrom(t *testing.T) {
	created := setupAt
	timers := func(l commands.License) commands.License {
		l.WindowOpenedAt, l.WindowClosesAt, l.LockedUntil = t0, windowCloses, lockedUntil
		return l
	}
	base := commands.License{ID: "P1", Kind: events.KindPractitioner, ValidFrom: termFrom, ValidUntil: termUntil,
		CreatedAt: created}
	withSince := func(l commands.License, since time.Time) commands.License {
		l.UnassignedSince = since
		return l
	}
	inWindow := t0.Add(3 * time.Hour)
	inLock := windowCloses.Add(5 * 24 * time.Hour)
	afterLock := lockedUntil.Add(10 * 24 * time.Hour)
	tests := []struct {
		name string
		lic  commands.License
		now  time.Time
		want time.Time
	}{
		{"never assigned, created before valid_from: valid_from",
			withSince(base, created), t0, termFrom},
		{"never assigned, created after valid_from: creation",
			withSince(base, t0.Add(time.Hour)), t0.Add(2 * time.Hour), t0.Add(time.Hour)},
		{"unassigned inside the window, window still open: unassigned_since",
			withSince(timers(base), inWindow), inWindow.Add(time.Hour), inWindow},
		{"unassigned inside the window, now exactly at window_closes_at: locked_until",
			withSince(timers(base), inWindow), windowCloses, lockedUntil},
		{"unassigned inside the window, lock running: locked_until",
			withSince(timers(base), inWindow), inLock, lockedUntil},
		{"unassigned by user removal inside the lock (A4), lock running: locked_until",
			withSince(timers(base), inLock), inLock.Add(time.Hour), lockedUntil},
		{"unassigned inside the window, now exactly at locked_until: locked_until",
			withSince(timers(base), inWindow), lockedUntil, lockedUntil},
		{"unassigned before the lock ended, lock over: locked_until",
			withSince(timers(base), inWindow), afterLock, lockedUntil},
		{"unassigned inside the lock, lock over: locked_until",
			withSince(timers(base), inLock), afterLock, lockedUntil},
		{"unassigned exactly at locked_until: locked_until",
			withSince(timers(base), lockedUntil), afterLock, lockedUntil},
		{"unassigned after the lock ended: unassigned_since",
			withSince(timers(base), afterLock), afterLock.Add(time.Hour), afterLock},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.lic.AssignableFrom(tt.now); !got.Equal(tt.want) {
				t.Errorf("AssignableFrom(%v): got %v, want %v", tt.now, got, tt.want)
			}
		})
	}
}

// rule C7, from events: unassigned_since is the creation of a practitioner
// licence and its last unassignment; it is zero while assigned and for other
// kinds.
func TestLicenseUnassignedSince(t *testing.T) {
	w := stdWorld(t)
	if got := w.license(acct, "P1").UnassignedSince; !got.Equal(setupAt) {
		t.Errorf("P1 after creation: unassigned_since got %v, want %v", got, setupAt)
	}
	if got := w.license(acct, "C1").UnassignedSince; !got.IsZero() {
		t.Errorf("commercial C1: unassigned_since got %v, want zero", got)
	}
	p1 := w.license(acct, "P1")
	if got := p1.AssignableFrom(t0); !got.Equal(termFrom) {
		t.Errorf("P1 AssignableFrom(t0): got %v, want valid_from %v", got, termFrom)
	}

	w.must(t)(w.assign("P1", "a@x.com", t0))
	if got := w.license(acct, "P1").UnassignedSince; !got.IsZero() {
		t.Errorf("P1 assigned: unassigned_since got %v, want zero", got)
	}
	w.must(t)(w.reassign("P1", "b@x.com", t0.Add(time.Hour)))
	if got := w.license(acct, "P1").UnassignedSince; !got.IsZero() {
		t.Errorf("P1 reassigned: unassigned_since got %v, want zero", got)
	}
	at := t0.Add(2 * time.Hour)
	w.must(t)(w.unassign("P1", at))
	lic := w.license(acct, "P1")
	if !lic.UnassignedSince.Equal(at) {
		t.Errorf("P1 unassigned: unassigned_since got %v, want %v", lic.UnassignedSince, at)
	}
	if got := lic.AssignableFrom(at.Add(time.Hour)); !got.Equal(at) {
		t.Errorf("P1 AssignableFrom inside the window: got %v, want %v", got, at)
	}
	if got := lic.AssignableFrom(windowCloses.Add(time.Hour)); !got.Equal(lockedUntil) {
		t.Errorf("P1 AssignableFrom inside the lock: got %v, want %v", got, lockedUntil)
	}
}

func TestAccountApply(t *testing.T) {
	var a commands.Account
	if a.Exists() {
		t.Fatalf("zero account: Exists got true, want false")
	}
	a.Apply(events.Event{Account: acct, AggregateID: acct, OccurredAt: t0, Data: events.AccountCreated{
		ID: acct, Name: "Acme", FulfillmentContacts: []string{"f@x.com"}, Admins: []string{"f@x.com"},
	}})
	if !a.Exists() || a.ID != acct || a.Name != "Acme" || !a.CreatedAt.Equal(t0) || !a.LastEventAt.Equal(t0) {
		t.Errorf("after account.created: got %+v, want id %q, name Acme, created and last event at %v", a, acct, t0)
	}
	if len(a.FulfillmentContacts) != 1 || a.FulfillmentContacts[0] != "f@x.com" || len(a.Admins) != 1 || a.Admins[0] != "f@x.com" {
		t.Errorf("contacts and admins: got %q and %q, want [f@x.com] both", a.FulfillmentContacts, a.Admins)
	}
}

func TestUserApply(t *testing.T) {
	ev := func(at time.Time, d events.Data) events.Event {
		return events.Event{Account: acct, AggregateID: "a@x.com", OccurredAt: at, Data: d}
	}
	var u commands.User
	steps := []struct {
		name        string
		e           events.Event
		registered  bool
		country     string
		licenseID   string
		lastEventAt time.Time
	}{
		{"registered without country", ev(t0, events.UserRegistered{Email: "a@x.com"}), true, "", "", t0},
		{"country set", ev(t0.Add(1), events.UserCountryChanged{Email: "a@x.com", EntitlementCountry: "DE"}), true, "DE", "", t0.Add(1)},
		{"licence attached", ev(t0.Add(2), events.UserLicenseAttached{Email: "a@x.com", LicenseID: "P1"}), true, "DE", "P1", t0.Add(2)},
		{"other licence detached: kept", ev(t0.Add(3), events.UserLicenseDetached{Email: "a@x.com", LicenseID: "P2", Reason: events.ReasonAdmin}), true, "DE", "P1", t0.Add(3)},
		{"licence detached", ev(t0.Add(4), events.UserLicenseDetached{Email: "a@x.com", LicenseID: "P1", Reason: events.ReasonAdmin}), true, "DE", "", t0.Add(4)},
		{"licence attached again", ev(t0.Add(5), events.UserLicenseAttached{Email: "a@x.com", LicenseID: "P1"}), true, "DE", "P1", t0.Add(5)},
		{"removed", ev(t0.Add(6), events.UserRemoved{Email: "a@x.com"}), false, "", "", t0.Add(6)},
		{"registered again", ev(t0.Add(7), events.UserRegistered{Email: "a@x.com", EntitlementCountry: "FR"}), true, "FR", "", t0.Add(7)},
	}
	for _, s := range steps {
		u.Apply(s.e)
		if u.Registered != s.registered || u.EntitlementCountry != s.country || u.LicenseID != s.licenseID || !u.LastEventAt.Equal(s.lastEventAt) {
			t.Errorf("after %s: got registered %v, country %q, licence %q, last event %v; want %v, %q, %q, %v",
				s.name, u.Registered, u.EntitlementCountry, u.LicenseID, u.LastEventAt,
				s.registered, s.country, s.licenseID, s.lastEventAt)
		}
	}
	if u.Account != acct || u.Email != "a@x.com" || !u.RegisteredAt.Equal(t0.Add(7)) {
		t.Errorf("identity: got account %q, email %q, registered at %v; want %q, a@x.com, %v",
			u.Account, u.Email, u.RegisteredAt, acct, t0.Add(7))
	}
}

// rule A2: the _global email record says which account holds an email.
func TestEmailOwnerApply(t *testing.T) {
	ev := func(at time.Time, d events.Data) events.Event {
		return events.Event{Account: events.GlobalAccount, AggregateID: "a@x.com", OccurredAt: at, Data: d}
	}
	var o commands.EmailOwner
	steps := []struct {
		e    events.Event
		want string
	}{
		{ev(t0, events.EmailClaimed{Email: "a@x.com", Account: acct}), acct},
		{ev(t0.Add(1), events.EmailReleased{Email: "a@x.com", Account: acct}), ""},
		{ev(t0.Add(2), events.EmailClaimed{Email: "a@x.com", Account: other}), other},
	}
	for _, s := range steps {
		o.Apply(s.e)
		if o.Account != s.want || o.Email != "a@x.com" || !o.LastEventAt.Equal(s.e.OccurredAt) {
			t.Errorf("after %s: got %+v, want account %q, email a@x.com, last event %v", s.e.Type(), o, s.want, s.e.OccurredAt)
		}
	}
}
