package commands_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
)

// rules A2, A3: a registration names the account, the email and an optional
// country.
func TestRegisterUserNormalize(t *testing.T) {
	tests := []struct {
		name      string
		in        commands.RegisterUser
		want      commands.RegisterUser
		wantField string
	}{
		{"valid", commands.RegisterUser{Account: acct, Email: "a@x.com", EntitlementCountry: "DE"},
			commands.RegisterUser{Account: acct, Email: "a@x.com", EntitlementCountry: "DE"}, ""},
		{"email and country normalised", commands.RegisterUser{Account: acct, Email: "A@X.COM", EntitlementCountry: "de"},
			commands.RegisterUser{Account: acct, Email: "a@x.com", EntitlementCountry: "DE"}, ""},
		// rule A3: the country may be empty at registration.
		{"no country", commands.RegisterUser{Account: acct, Email: "a@x.com"},
			commands.RegisterUser{Account: acct, Email: "a@x.com"}, ""},
		{"invalid account", commands.RegisterUser{Account: "ACME", Email: "a@x.com"}, commands.RegisterUser{}, "account"},
		{"invalid email", commands.RegisterUser{Account: acct, Email: "a@x"}, commands.RegisterUser{}, "email"},
		{"invalid country", commands.RegisterUser{Account: acct, Email: "a@x.com", EntitlementCountry: "XX"},
			commands.RegisterUser{}, "entitlement_country"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.in.Normalize()
			if tt.wantField != "" {
				wantInvalid(t, err, tt.wantField)
				return
			}
			if err != nil {
				t.Fatalf("Normalize: got %v, want nil", err)
			}
			if got != tt.want {
				t.Errorf("Normalize: got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// rule A2: registering an email claims it on the _global account.
func TestRegisterUserDecide(t *testing.T) {
	w := stdWorld(t)
	at := t0
	evs := w.must(t)(commands.RegisterUser{Account: acct, Email: "new@x.com", EntitlementCountry: "DE", At: at}.
		Decide(w.account(acct), w.user(acct, "new@x.com"), w.owner("new@x.com"), commands.DomainOwner{}, at))
	if got, want := types(evs), []string{events.TypeUserRegistered, events.TypeEmailClaimed}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("events: got %v, want %v", got, want)
	}
	ue, ud := only[events.UserRegistered](t, evs)
	if ue.Account != acct || ue.AggregateID != "new@x.com" || ud.Email != "new@x.com" || ud.EntitlementCountry != "DE" {
		t.Errorf("user.registered: got %+v %+v, want account %q, email new@x.com, country DE", ue, ud, acct)
	}
	ce, cd := only[events.EmailClaimed](t, evs)
	if ce.Account != events.GlobalAccount || ce.AggregateID != "new@x.com" || cd.Account != acct {
		t.Errorf("email.claimed: got %+v %+v, want on %q naming account %q", ce, cd, events.GlobalAccount, acct)
	}
	if u := w.user(acct, "new@x.com"); !u.Registered || u.EntitlementCountry != "DE" {
		t.Errorf("user state: got %+v, want registered with country DE", u)
	}
	if o := w.owner("new@x.com"); o.Account != acct {
		t.Errorf("owner state: got %+v, want account %q", o, acct)
	}
}

// rule A2: a user is an email registered in exactly one account at a time.
func TestRegisterUserRejections(t *testing.T) {
	tests := []struct {
		name    string
		account string
		email   string
		want    string
	}{
		{"unknown account", "nope", "new@x.com", commands.CodeAccountNotFound},
		{"already a user of this account", acct, "a@x.com", commands.CodeUserExists},
		// rule A2: an email registered in another account.
		{"registered in another account", acct, "g@x.com", commands.CodeUserInOtherAccount},
		{"registered in another account, seen from it", other, "a@x.com", commands.CodeUserInOtherAccount},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := stdWorld(t)
			rejected(t, tt.want)(commands.RegisterUser{Account: tt.account, Email: tt.email, EntitlementCountry: "DE", At: t0}.
				Decide(w.account(tt.account), w.user(tt.account, tt.email), w.owner(tt.email), commands.DomainOwner{}, t0))
		})
	}
}

// rule A2: the user_in_other_account rejection tells the caller that the other
// account's admin must remove the user first, and does not reveal which
// account that is: neither in the message nor in the details.
func TestRegisterUserInOtherAccountHidesAccount(t *testing.T) {
	w := stdWorld(t)
	// A distinctive id, so that any leak is found by a substring search.
	const secret = "secret-holder-7"
	w.createAccount(t, secret)
	w.register(t, secret, "s@x.com", "DE", setupAt)

	c, err := commands.RegisterUser{Account: acct, Email: "S@X.com", EntitlementCountry: "DE", At: t0}.Normalize()
	if err != nil {
		t.Fatalf("Normalize: %v", err)
	}
	e := rejected(t, commands.CodeUserInOtherAccount)(c.Decide(w.account(acct), w.user(acct, c.Email), w.owner(c.Email), commands.DomainOwner{}, t0))
	if !strings.Contains(e.Message, "admin must remove the user first") {
		t.Errorf("message: got %q, want it to say that the other account's admin must remove the user first", e.Message)
	}
	for _, leak := range []string{secret, "secret"} {
		if strings.Contains(e.Message, leak) || strings.Contains(e.Error(), leak) {
			t.Errorf("message: got %q, want no mention of the other account %q", e.Message, leak)
		}
		for k, v := range e.Details {
			if strings.Contains(k, leak) || strings.Contains(fmt.Sprint(v), leak) {
				t.Errorf("details[%q]: got %v, want no mention of the other account %q", k, v, leak)
			}
		}
	}
	if _, ok := e.Details["account"]; ok {
		t.Errorf("details: got %v, want no account key", e.Details)
	}
	wantDetail(t, e, "email", "s@x.com")
}

// rule A2: once the other account's admin removed the user, the email can be
// registered in this account.
func TestRegisterUserAfterRemovalFromOtherAccount(t *testing.T) {
	w := stdWorld(t)
	rejected(t, commands.CodeUserInOtherAccount)(commands.RegisterUser{Account: acct, Email: "g@x.com", At: t0}.
		Decide(w.account(acct), w.user(acct, "g@x.com"), w.owner("g@x.com"), commands.DomainOwner{}, t0))
	w.must(t)(w.removeUser(other, "g@x.com", t0.Add(time.Hour)))
	if o := w.owner("g@x.com"); o.Account != "" {
		t.Fatalf("owner after removal: got account %q, want none", o.Account)
	}
	at := t0.Add(2 * time.Hour)
	w.must(t)(commands.RegisterUser{Account: acct, Email: "g@x.com", EntitlementCountry: "FR", At: at}.
		Decide(w.account(acct), w.user(acct, "g@x.com"), w.owner("g@x.com"), commands.DomainOwner{}, at))
	if o := w.owner("g@x.com"); o.Account != acct {
		t.Errorf("owner after registration: got account %q, want %q", o.Account, acct)
	}
	if u := w.user(other, "g@x.com"); u.Registered {
		t.Errorf("user in %q: got registered, want removed", other)
	}
	// And now globex cannot take it back.
	rejected(t, commands.CodeUserInOtherAccount)(commands.RegisterUser{Account: other, Email: "g@x.com", At: at}.
		Decide(w.account(other), w.user(other, "g@x.com"), w.owner("g@x.com"), commands.DomainOwner{}, at))
}

// rule A3: a user registered without a country cannot be assigned a licence
// until a country is set.
func TestEntitlementCountryRequiredForAssignment(t *testing.T) {
	w := stdWorld(t)
	e := rejected(t, commands.CodeEntitlementCountryMissing)(w.assign("P1", "n@x.com", t0))
	wantDetail(t, e, "email", "n@x.com")
	if lic := w.license(acct, "P1"); lic.Assignee != "" || !lic.LockedUntil.IsZero() {
		t.Errorf("licence after rejection: got assignee %q, locked_until %v; want unchanged", lic.Assignee, lic.LockedUntil)
	}

	c, err := commands.ChangeUserCountry{Account: acct, Email: "N@x.com", EntitlementCountry: "de", At: t0}.Normalize()
	if err != nil {
		t.Fatalf("ChangeUserCountry.Normalize: %v", err)
	}
	evs := w.must(t)(c.Decide(w.user(acct, c.Email), t0))
	_, d := only[events.UserCountryChanged](t, evs)
	if d.EntitlementCountry != "DE" || d.Previous != "" || d.Email != "n@x.com" {
		t.Errorf("user.country_changed: got %+v, want email n@x.com, country DE, previous empty", d)
	}
	w.must(t)(w.assign("P1", "n@x.com", t0))
	if got := w.license(acct, "P1").Assignee; got != "n@x.com" {
		t.Errorf("assignee: got %q, want n@x.com", got)
	}
}

// rule A3: a country is changed to another valid one; an empty one is refused.
func TestChangeUserCountry(t *testing.T) {
	tests := []struct {
		name      string
		email     string
		country   string
		wantCode  string // "" means accepted
		wantEvent bool
	}{
		{"change", "a@x.com", "FR", "", true},
		{"same country appends nothing", "a@x.com", "DE", "", false},
		{"same country in lower case appends nothing", "a@x.com", "de", "", false},
		{"unknown user", "zz@x.com", "FR", commands.CodeUserNotFound, false},
		{"empty country", "a@x.com", "", commands.CodeInvalidArgument, false},
		{"invalid country", "a@x.com", "XX", commands.CodeInvalidArgument, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := stdWorld(t)
			c, err := commands.ChangeUserCountry{Account: acct, Email: tt.email, EntitlementCountry: tt.country, At: t0}.Normalize()
			if err == nil {
				var evs []events.Event
				evs, err = c.Decide(w.user(acct, c.Email), t0)
				if err == nil {
					if got := len(evs) == 1; got != tt.wantEvent {
						t.Fatalf("events: got %v, want an event %v", types(evs), tt.wantEvent)
					}
					w.must(t)(evs, nil)
				}
			}
			if got := commands.CodeOf(err); got != tt.wantCode {
				t.Fatalf("code: got %q (err %v), want %q", got, err, tt.wantCode)
			}
			if tt.wantCode == "" {
				want := strings.ToUpper(tt.country)
				if got := w.user(acct, tt.email).EntitlementCountry; got != want {
					t.Errorf("country: got %q, want %q", got, want)
				}
			}
		})
	}
}

// rule A4: removing a user unassigns the licence they hold even while it is
// locked (reason user_removed); the timers keep running and nobody else can
// be assigned before locked_until.
func TestRemoveUserWhileLocked(t *testing.T) {
	w := stdWorld(t)
	w.must(t)(w.assign("P1", "a@x.com", t0))

	at := windowCloses.Add(3 * 24 * time.Hour) // inside the lock
	if lic := w.license(acct, "P1"); lic.LockAt(at) != commands.LockLocked {
		t.Fatalf("LockAt(%v): got %v, want locked", at, lic.LockAt(at))
	}
	// An admin cannot unassign now (C3) ...
	rejected(t, commands.CodeLicenseLocked)(w.unassign("P1", at))
	// ... but removing the user does.
	evs := w.must(t)(w.removeUser(acct, "a@x.com", at))
	if got, want := strings.Join(types(evs), ","), strings.Join([]string{events.TypeUserRemoved, events.TypeEmailReleased,
		events.TypeLicenseUnassigned}, ","); got != want {
		t.Fatalf("events: got %v, want %v", got, want)
	}
	le, ld := only[events.LicenseUnassigned](t, evs)
	if le.AggregateID != "P1" || ld.ID != "P1" || ld.PreviousEmail != "a@x.com" || ld.Reason != events.ReasonUserRemoved {
		t.Errorf("license.unassigned: got %+v, want P1 from a@x.com with reason %q", ld, events.ReasonUserRemoved)
	}
	if !ld.WindowClosesAt.Equal(windowCloses) || !ld.LockedUntil.Equal(lockedUntil) {
		t.Errorf("license.unassigned timers: got closes %v, locked %v; want %v, %v (unchanged)",
			ld.WindowClosesAt, ld.LockedUntil, windowCloses, lockedUntil)
	}

	lic := w.license(acct, "P1")
	if lic.Assignee != "" {
		t.Errorf("assignee: got %q, want none", lic.Assignee)
	}
	if !lic.UnassignedSince.Equal(at) {
		t.Errorf("unassigned_since: got %v, want %v", lic.UnassignedSince, at)
	}
	wantTimers(t, lic, t0, windowCloses, lockedUntil)
	if u := w.user(acct, "a@x.com"); u.Registered || u.LicenseID != "" {
		t.Errorf("removed user: got %+v, want unregistered without licence", u)
	}
	if o := w.owner("a@x.com"); o.Account != "" {
		t.Errorf("email owner: got %q, want none (released)", o.Account)
	}

	// rule A4 with C3: the lock keeps running.
	e := rejected(t, commands.CodeLicenseLocked)(w.assign("P1", "b@x.com", at.Add(time.Hour)))
	wantDetail(t, e, "locked_until", rfc3339(lockedUntil))
	e = rejected(t, commands.CodeLicenseLocked)(w.assign("P1", "b@x.com", lockedUntil.Add(-time.Nanosecond)))
	wantDetail(t, e, "locked_until", rfc3339(lockedUntil))

	// rule C4: at locked_until it can be assigned again, opening a new window.
	evs = w.must(t)(w.assign("P1", "b@x.com", lockedUntil))
	_, ad := only[events.LicenseAssigned](t, evs)
	if !ad.NewWindow {
		t.Errorf("new_window: got false, want true")
	}
	wantTimers(t, w.license(acct, "P1"), lockedUntil, lockedUntil.Add(24*time.Hour), lockedUntil.Add(24*time.Hour+720*time.Hour))
}

// rule A4: removal inside the window unassigns too; the window keeps running
// and the licence may be assigned again inside it without moving it (C3).
func TestRemoveUserInsideWindow(t *testing.T) {
	w := stdWorld(t)
	w.must(t)(w.assign("P1", "a@x.com", t0))
	at := t0.Add(time.Hour)
	evs := w.must(t)(w.removeUser(acct, "a@x.com", at))
	_, ld := only[events.LicenseUnassigned](t, evs)
	if ld.Reason != events.ReasonUserRemoved {
		t.Errorf("reason: got %q, want %q", ld.Reason, events.ReasonUserRemoved)
	}
	// "nobody else can be assigned before locked_until", even inside the
	// window the removed user's assignment opened.
	rejected(t, commands.CodeLicenseLocked)(w.assign("P1", "b@x.com", at.Add(time.Hour)))
	rejected(t, commands.CodeLicenseLocked)(w.assign("P1", "b@x.com", lockedUntil.Add(-time.Nanosecond)))
	evs = w.must(t)(w.assign("P1", "b@x.com", lockedUntil))
	_, ad := only[events.LicenseAssigned](t, evs)
	if !ad.NewWindow {
		t.Errorf("new_window: got false, want a new window at locked_until")
	}
}

// rule A4: a user without a licence is removed without touching licences.
func TestRemoveUserWithoutLicense(t *testing.T) {
	w := stdWorld(t)
	w.must(t)(w.assign("P1", "a@x.com", t0))
	evs := w.must(t)(w.removeUser(acct, "b@x.com", t0.Add(time.Hour)))
	if got, want := strings.Join(types(evs), ","), events.TypeUserRemoved+","+events.TypeEmailReleased; got != want {
		t.Errorf("events: got %v, want %v", got, want)
	}
	if got := w.license(acct, "P1").Assignee; got != "a@x.com" {
		t.Errorf("P1 assignee: got %q, want a@x.com", got)
	}

	rejected(t, commands.CodeUserNotFound)(w.removeUser(acct, "b@x.com", t0.Add(2*time.Hour)))
	rejected(t, commands.CodeUserNotFound)(w.removeUser(acct, "zz@x.com", t0.Add(2*time.Hour)))
}

func TestRemoveUserNormalize(t *testing.T) {
	got, err := commands.RemoveUser{Account: acct, Email: " A@X.com "}.Normalize()
	if err != nil || got.Email != "a@x.com" {
		t.Errorf("Normalize: got %+v, %v; want email a@x.com, nil", got, err)
	}
	_, err = commands.RemoveUser{Account: "-", Email: "a@x.com"}.Normalize()
	wantInvalid(t, err, "account")
	_, err = commands.RemoveUser{Account: acct, Email: "a"}.Normalize()
	wantInvalid(t, err, "email")
}
