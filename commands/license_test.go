package commands_test

import (
	"slices"
	"testing"
	"time"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
)

const (
	day    = 24 * time.Hour
	window = 24 * time.Hour  // C2: 24h exactly
	lock   = 720 * time.Hour // C2: 30d exactly
)

// rule B1: kinds, seats, products and the term [valid_from, valid_until).
func TestCreateLicenseNormalize(t *testing.T) {
	cet := time.FixedZone("CET", 3600)
	valid := commands.CreateLicense{Account: acct, ID: "P1", Kind: events.KindPractitioner, Products: []string{"revit"},
		ValidFrom: termFrom, ValidUntil: termUntil, At: t0}
	tests := []struct {
		name      string
		edit      func(*commands.CreateLicense)
		wantField string // "" means accepted
		check     func(*testing.T, commands.CreateLicense)
	}{
		{"practitioner", func(*commands.CreateLicense) {}, "", nil},
		{"products sorted and deduped", func(c *commands.CreateLicense) {
			c.Products = []string{"revit", "autocad", "revit"}
		}, "", func(t *testing.T, c commands.CreateLicense) {
			if want := []string{"autocad", "revit"}; !slices.Equal(c.Products, want) {
				t.Errorf("products: got %q, want %q", c.Products, want)
			}
		}},
		{"term converted to UTC", func(c *commands.CreateLicense) {
			c.ValidFrom = time.Date(2026, 1, 1, 1, 0, 0, 0, cet)
		}, "", func(t *testing.T, c commands.CreateLicense) {
			if !c.ValidFrom.Equal(termFrom) || c.ValidFrom.Location() != time.UTC {
				t.Errorf("valid_from: got %v, want %v UTC", c.ValidFrom, termFrom)
			}
		}},
		{"commercial with seats", func(c *commands.CreateLicense) { c.Kind, c.Seats = events.KindCommercial, 5 }, "", nil},
		{"commercial with max seats", func(c *commands.CreateLicense) {
			c.Kind, c.Seats = events.KindCommercial, commands.MaxSeats
		}, "", nil},
		{"trial", func(c *commands.CreateLicense) { c.Kind = events.KindTrial }, "", nil},
		{"term of one nanosecond", func(c *commands.CreateLicense) { c.ValidUntil = c.ValidFrom.Add(1) }, "", nil},

		{"invalid account", func(c *commands.CreateLicense) { c.Account = "Acme" }, "account", nil},
		{"invalid id", func(c *commands.CreateLicense) { c.ID = "P 1" }, "id", nil},
		{"unknown kind", func(c *commands.CreateLicense) { c.Kind = "floating" }, "kind", nil},
		{"kind is case-sensitive", func(c *commands.CreateLicense) { c.Kind = "Practitioner" }, "kind", nil},
		{"commercial without seats", func(c *commands.CreateLicense) { c.Kind = events.KindCommercial }, "seats", nil},
		{"commercial with negative seats", func(c *commands.CreateLicense) { c.Kind, c.Seats = events.KindCommercial, -1 }, "seats", nil},
		{"commercial with too many seats", func(c *commands.CreateLicense) {
			c.Kind, c.Seats = events.KindCommercial, commands.MaxSeats+1
		}, "seats", nil},
		{"practitioner with seats", func(c *commands.CreateLicense) { c.Seats = 1 }, "seats", nil},
		{"trial with seats", func(c *commands.CreateLicense) { c.Kind, c.Seats = events.KindTrial, 3 }, "seats", nil},
		{"no products", func(c *commands.CreateLicense) { c.Products = nil }, "products", nil},
		{"invalid product", func(c *commands.CreateLicense) { c.Products = []string{"Revit"} }, "products", nil},
		{"no valid_from", func(c *commands.CreateLicense) { c.ValidFrom = time.Time{} }, "valid_from", nil},
		{"no valid_until", func(c *commands.CreateLicense) { c.ValidUntil = time.Time{} }, "valid_until", nil},
		{"empty term", func(c *commands.CreateLicense) { c.ValidUntil = c.ValidFrom }, "valid_until", nil},
		{"term ends before it starts", func(c *commands.CreateLicense) { c.ValidUntil = c.ValidFrom.Add(-day) }, "valid_until", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid
			c.Products = slices.Clone(valid.Products)
			tt.edit(&c)
			got, err := c.Normalize()
			if tt.wantField != "" {
				wantInvalid(t, err, tt.wantField)
				return
			}
			if err != nil {
				t.Fatalf("Normalize: got %v, want nil", err)
			}
			if tt.check != nil {
				tt.check(t, got)
			}
		})
	}
}

// rule B1: a licence is created once per id and account; its state shows
// its kind, products, seats and term.
func TestCreateLicenseDecide(t *testing.T) {
	tests := []struct {
		name  string
		kind  string
		seats int
	}{
		{"practitioner", events.KindPractitioner, 0},
		{"commercial", events.KindCommercial, 7},
		{"trial", events.KindTrial, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := stdWorld(t)
			c := commands.CreateLicense{Account: acct, ID: "NEW", Kind: tt.kind, Products: []string{"autocad", "revit"},
				Seats: tt.seats, ValidFrom: termFrom, ValidUntil: termUntil, At: t0}
			evs := w.must(t)(c.Decide(w.account(acct), w.license(acct, "NEW"), t0))
			e, d := only[events.LicenseCreated](t, evs)
			if e.Account != acct || e.AggregateID != "NEW" || !e.OccurredAt.Equal(t0) {
				t.Errorf("event: got account %q, aggregate %q, at %v; want %q, NEW, %v", e.Account, e.AggregateID, e.OccurredAt, acct, t0)
			}
			if d.Kind != tt.kind || d.Seats != tt.seats || !slices.Equal(d.Products, c.Products) ||
				!d.ValidFrom.Equal(termFrom) || !d.ValidUntil.Equal(termUntil) {
				t.Errorf("data: got %+v, want kind %s, seats %d, products %q, term [%v, %v)", d, tt.kind, tt.seats,
					c.Products, termFrom, termUntil)
			}
			lic := w.license(acct, "NEW")
			if !lic.Exists() || lic.Kind != tt.kind || lic.Seats != tt.seats || !lic.ValidUntil.Equal(termUntil) ||
				lic.Assignee != "" || !lic.LockedUntil.IsZero() {
				t.Errorf("state: got %+v, want an unassigned %s licence without timers", lic, tt.kind)
			}

			e2 := rejected(t, commands.CodeLicenseExists)(c.Decide(w.account(acct), w.license(acct, "NEW"), t0))
			wantDetail(t, e2, "license_id", "NEW")
			rejected(t, commands.CodeAccountNotFound)(commands.CreateLicense{Account: "nope", ID: "X", Kind: tt.kind,
				Products: []string{"revit"}, Seats: tt.seats, ValidFrom: termFrom, ValidUntil: termUntil}.
				Decide(w.account("nope"), w.license("nope", "X"), t0))
		})
	}
}

// rule B2: a renewal extends valid_until and never shortens it.
func TestRenewLicense(t *testing.T) {
	tests := []struct {
		name     string
		id       string
		until    time.Time
		wantCode string
	}{
		{"later", "P1", termUntil.Add(365 * day), ""},
		{"one nanosecond later", "P1", termUntil.Add(1), ""},
		{"commercial", "C1", termUntil.Add(day), ""},
		{"equal is rejected", "P1", termUntil, commands.CodeRenewalNotLater},
		{"earlier is rejected", "P1", termUntil.Add(-day), commands.CodeRenewalNotLater},
		{"much earlier is rejected", "P1", termFrom.Add(day), commands.CodeRenewalNotLater},
		{"unknown licence", "NOPE", termUntil.Add(day), commands.CodeLicenseNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := stdWorld(t)
			if tt.wantCode != "" {
				e := rejected(t, tt.wantCode)(w.renew(tt.id, tt.until, t0))
				if tt.wantCode == commands.CodeRenewalNotLater {
					wantDetail(t, e, "valid_until", rfc3339(termUntil))
					if got := w.license(acct, tt.id).ValidUntil; !got.Equal(termUntil) {
						t.Errorf("valid_until after rejection: got %v, want %v", got, termUntil)
					}
				}
				return
			}
			evs := w.must(t)(w.renew(tt.id, tt.until, t0))
			_, d := only[events.LicenseRenewed](t, evs)
			if !d.ValidUntil.Equal(tt.until) || !d.PreviousValidUntil.Equal(termUntil) {
				t.Errorf("license.renewed: got %+v, want valid_until %v, previous %v", d, tt.until, termUntil)
			}
			if got := w.license(acct, tt.id).ValidUntil; !got.Equal(tt.until) {
				t.Errorf("valid_until: got %v, want %v", got, tt.until)
			}
		})
	}
}

// rule B2: a renewal keeps the assignment and its timers, even while locked.
func TestRenewKeepsAssignmentAndTimers(t *testing.T) {
	w := stdWorld(t)
	w.must(t)(w.assign("P1", "a@x.com", t0))
	before := w.license(acct, "P1")

	at := windowCloses.Add(day) // inside the lock
	newUntil := termUntil.Add(365 * day)
	w.must(t)(w.renew("P1", newUntil, at))

	after := w.license(acct, "P1")
	if !after.ValidUntil.Equal(newUntil) {
		t.Errorf("valid_until: got %v, want %v", after.ValidUntil, newUntil)
	}
	if after.Assignee != "a@x.com" || !after.AssignedAt.Equal(before.AssignedAt) {
		t.Errorf("assignment: got %q at %v, want a@x.com at %v", after.Assignee, after.AssignedAt, before.AssignedAt)
	}
	wantTimers(t, after, t0, windowCloses, lockedUntil)
	if got := after.LockAt(at); got != commands.LockLocked {
		t.Errorf("LockAt(%v) after renewal: got %v, want locked", at, got)
	}
	if got := w.user(acct, "a@x.com").LicenseID; got != "P1" {
		t.Errorf("user's licence: got %q, want P1", got)
	}
	// Still locked after the renewal (C3).
	rejected(t, commands.CodeLicenseLocked)(w.reassign("P1", "b@x.com", at))
}

// rule B2: an expired licence becomes assignable again by renewal.
func TestRenewReactivates(t *testing.T) {
	w := stdWorld(t)
	at := termUntil.Add(day)
	rejected(t, commands.CodeLicenseInactive)(w.assign("P1", "a@x.com", at))
	w.must(t)(w.renew("P1", termUntil.Add(365*day), at))
	w.must(t)(w.assign("P1", "a@x.com", at))
}

func TestRenewLicenseNormalize(t *testing.T) {
	got, err := commands.RenewLicense{Account: acct, ID: "P1", ValidUntil: termUntil.In(time.FixedZone("CET", 3600))}.Normalize()
	if err != nil || got.ValidUntil.Location() != time.UTC || !got.ValidUntil.Equal(termUntil) {
		t.Errorf("Normalize: got %+v, %v; want valid_until %v UTC", got, err, termUntil)
	}
	_, err = commands.RenewLicense{Account: acct, ID: "P1"}.Normalize()
	wantInvalid(t, err, "valid_until")
	_, err = commands.RenewLicense{Account: acct, ID: "", ValidUntil: termUntil}.Normalize()
	wantInvalid(t, err, "id")
	_, err = commands.RenewLicense{Account: "", ID: "P1", ValidUntil: termUntil}.Normalize()
	wantInvalid(t, err, "account")
}

// rule C1, C8: Assign normalises its input like every command.
func TestAssignNormalize(t *testing.T) {
	got, err := commands.Assign{Account: acct, LicenseID: "P1", Email: " A@X.COM "}.Normalize()
	if err != nil || got.Email != "a@x.com" {
		t.Errorf("Assign.Normalize: got %+v, %v; want email a@x.com, nil", got, err)
	}
	r, err := commands.Reassign{Account: acct, LicenseID: "P1", Email: "B@X.com"}.Normalize()
	if err != nil || r.Email != "b@x.com" {
		t.Errorf("Reassign.Normalize: got %+v, %v; want email b@x.com, nil", r, err)
	}
	tests := []struct {
		name  string
		c     commands.Assign
		field string
	}{
		{"account", commands.Assign{Account: "", LicenseID: "P1", Email: "a@x.com"}, "account"},
		{"licence", commands.Assign{Account: acct, LicenseID: "P/1", Email: "a@x.com"}, "license_id"},
		{"email", commands.Assign{Account: acct, LicenseID: "P1", Email: "a"}, "email"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.c.Normalize()
			wantInvalid(t, err, tt.field)
			_, err = commands.Reassign(tt.c).Normalize()
			wantInvalid(t, err, tt.field)
		})
	}
	_, err = commands.Unassign{Account: acct, LicenseID: ""}.Normalize()
	wantInvalid(t, err, "license_id")
	_, err = commands.Unassign{Account: "A", LicenseID: "P1"}.Normalize()
	wantInvalid(t, err, "account")
	if _, err = (commands.Unassign{Account: acct, LicenseID: "P1"}).Normalize(); err != nil {
		t.Errorf("Unassign.Normalize: got %v, want nil", err)
	}
}

// rule C1: every rejection of Assign, each with nothing appended.
func TestAssignRejections(t *testing.T) {
	// S1 is a practitioner licence with a short term [sFrom, sUntil).
	sFrom := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	sUntil := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		setup   func(*testing.T, *world)
		license string
		email   string
		at      time.Time
		want    string // "" means accepted
		details map[string]any
	}{
		{"accepted", nil, "P1", "a@x.com", t0, "", nil},
		{"license_not_found", nil, "NOPE", "a@x.com", t0, commands.CodeLicenseNotFound,
			map[string]any{"license_id": "NOPE"}},
		{"not_practitioner_license: commercial", nil, "C1", "a@x.com", t0, commands.CodeNotPractitioner,
			map[string]any{"kind": events.KindCommercial}},
		{"not_practitioner_license: trial", nil, "T1", "a@x.com", t0, commands.CodeNotPractitioner,
			map[string]any{"kind": events.KindTrial}},
		{"license_inactive before valid_from", nil, "S1", "a@x.com", sFrom.Add(-time.Nanosecond), commands.CodeLicenseInactive,
			map[string]any{"valid_from": rfc3339(sFrom), "valid_until": rfc3339(sUntil)}},
		{"exactly at valid_from is allowed", nil, "S1", "a@x.com", sFrom, "", nil},
		{"just before valid_until is allowed", nil, "S1", "a@x.com", sUntil.Add(-time.Nanosecond), "", nil},
		{"license_inactive exactly at valid_until", nil, "S1", "a@x.com", sUntil, commands.CodeLicenseInactive,
			map[string]any{"valid_from": rfc3339(sFrom), "valid_until": rfc3339(sUntil)}},
		{"license_inactive after valid_until", nil, "S1", "a@x.com", sUntil.Add(day), commands.CodeLicenseInactive, nil},
		{"license_assigned", func(t *testing.T, w *world) { w.must(t)(w.assign("P1", "a@x.com", t0)) },
			"P1", "b@x.com", t0.Add(time.Hour), commands.CodeLicenseAssigned, map[string]any{"assignee": "a@x.com"}},
		{"license_assigned to the same user", func(t *testing.T, w *world) { w.must(t)(w.assign("P1", "a@x.com", t0)) },
			"P1", "a@x.com", t0.Add(time.Hour), commands.CodeLicenseAssigned, map[string]any{"assignee": "a@x.com"}},
		{"user_not_found: never registered", nil, "P1", "zz@x.com", t0, commands.CodeUserNotFound,
			map[string]any{"email": "zz@x.com"}},
		{"user_not_found: user of another account", nil, "P1", "g@x.com", t0, commands.CodeUserNotFound,
			map[string]any{"email": "g@x.com"}},
		{"user_not_found: removed", func(t *testing.T, w *world) { w.must(t)(w.removeUser(acct, "a@x.com", t0)) },
			"P1", "a@x.com", t0, commands.CodeUserNotFound, nil},
		{"entitlement_country_missing", nil, "P1", "n@x.com", t0, commands.CodeEntitlementCountryMissing,
			map[string]any{"email": "n@x.com"}},
		{"user_already_licensed", func(t *testing.T, w *world) { w.must(t)(w.assign("P2", "a@x.com", t0)) },
			"P1", "a@x.com", t0.Add(time.Hour), commands.CodeUserAlreadyLicensed,
			map[string]any{"email": "a@x.com", "license_id": "P2"}},
		{"licence of a user who held another one before is allowed", func(t *testing.T, w *world) {
			w.must(t)(w.assign("P2", "a@x.com", t0))
			w.must(t)(w.unassign("P2", t0.Add(time.Hour)))
		}, "P1", "a@x.com", t0.Add(2 * time.Hour), "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := stdWorld(t)
			w.createLicense(t, "S1", events.KindPractitioner, 0, sFrom, sUntil)
			if tt.setup != nil {
				tt.setup(t, w)
			}
			before := w.license(acct, tt.license)
			if tt.want == "" {
				evs := w.must(t)(w.assign(tt.license, tt.email, tt.at))
				if got := w.license(acct, tt.license).Assignee; got != tt.email {
					t.Errorf("assignee: got %q, want %q (events %v)", got, tt.email, types(evs))
				}
				return
			}
			e := rejected(t, tt.want)(w.assign(tt.license, tt.email, tt.at))
			for k, v := range tt.details {
				wantDetail(t, e, k, v)
			}
			if after := w.license(acct, tt.license); after.Assignee != before.Assignee || !after.LastEventAt.Equal(before.LastEventAt) {
				t.Errorf("licence after rejection: got %+v, want unchanged %+v", after, before)
			}
		})
	}
}

// rule C2: an assignment with no window open and no lock running opens a
// window of 24h and a lock until 24h + 30d.
func TestAssignOpensWindow(t *testing.T) {
	cet := time.FixedZone("CET", 3600)
	tests := []struct {
		name string
		at   time.Time
	}{
		{"worked example", t0},
		{"odd instant", time.Date(2026, 3, 29, 1, 30, 15, 123456789, time.UTC)}, // a DST change in Europe: no effect
		{"given in another zone", time.Date(2026, 10, 25, 2, 59, 0, 0, cet)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := stdWorld(t)
			evs := w.must(t)(w.assign("P1", "a@x.com", tt.at))
			at := tt.at.UTC()
			e, d := only[events.LicenseAssigned](t, evs)
			if !e.OccurredAt.Equal(at) || e.OccurredAt.Location() != time.UTC {
				t.Errorf("occurred_at: got %v, want %v UTC", e.OccurredAt, at)
			}
			if !d.NewWindow {
				t.Errorf("new_window: got false, want true")
			}
			if !d.WindowOpenedAt.Equal(at) || !d.WindowClosesAt.Equal(at.Add(window)) || !d.LockedUntil.Equal(at.Add(window+lock)) {
				t.Errorf("timers: got %v, %v, %v; want %v, %v, %v", d.WindowOpenedAt, d.WindowClosesAt, d.LockedUntil,
					at, at.Add(window), at.Add(window+lock))
			}
			if got, want := d.LockedUntil.Sub(d.WindowClosesAt), 30*24*time.Hour; got != want {
				t.Errorf("lock length: got %v, want %v", got, want)
			}
			lic := w.license(acct, "P1")
			wantTimers(t, lic, at, at.Add(window), at.Add(window+lock))
			if !lic.AssignedAt.Equal(at) {
				t.Errorf("assigned_at: got %v, want %v", lic.AssignedAt, at)
			}
		})
	}
}

// rule C3: inside the window, reassign and unassign any number of times
// without moving the window.
func TestMovesInsideWindowKeepWindow(t *testing.T) {
	w := stdWorld(t)
	w.must(t)(w.assign("P1", "a@x.com", t0))
	steps := []struct {
		name string
		do   func(at time.Time) ([]events.Event, error)
		want string // assignee after
	}{
		{"reassign to b", func(at time.Time) ([]events.Event, error) { return w.reassign("P1", "b@x.com", at) }, "b@x.com"},
		{"reassign to c", func(at time.Time) ([]events.Event, error) { return w.reassign("P1", "c@x.com", at) }, "c@x.com"},
		{"reassign back to a", func(at time.Time) ([]events.Event, error) { return w.reassign("P1", "a@x.com", at) }, "a@x.com"},
		{"unassign", func(at time.Time) ([]events.Event, error) { return w.unassign("P1", at) }, ""},
		{"assign to d", func(at time.Time) ([]events.Event, error) { return w.assign("P1", "d@x.com", at) }, "d@x.com"},
		{"unassign again", func(at time.Time) ([]events.Event, error) { return w.unassign("P1", at) }, ""},
		{"assign to b at the last nanosecond", func(time.Time) ([]events.Event, error) {
			return w.assign("P1", "b@x.com", windowCloses.Add(-time.Nanosecond))
		}, "b@x.com"},
	}
	at := t0
	for _, s := range steps {
		at = at.Add(time.Hour)
		evs := w.must(t)(s.do(at))
		for _, e := range evs {
			switch d := e.Data.(type) {
			case events.LicenseAssigned:
				if d.NewWindow || !d.WindowOpenedAt.Equal(t0) || !d.WindowClosesAt.Equal(windowCloses) || !d.LockedUntil.Equal(lockedUntil) {
					t.Errorf("%s: license.assigned got %+v, want the open window kept", s.name, d)
				}
			case events.LicenseReassigned:
				if d.NewWindow || !d.WindowOpenedAt.Equal(t0) || !d.WindowClosesAt.Equal(windowCloses) || !d.LockedUntil.Equal(lockedUntil) {
					t.Errorf("%s: license.reassigned got %+v, want the open window kept", s.name, d)
				}
			case events.LicenseUnassigned:
				if !d.WindowClosesAt.Equal(windowCloses) || !d.LockedUntil.Equal(lockedUntil) {
					t.Errorf("%s: license.unassigned got %+v, want the timers repeated", s.name, d)
				}
			}
		}
		lic := w.license(acct, "P1")
		if lic.Assignee != s.want {
			t.Errorf("%s: assignee got %q, want %q", s.name, lic.Assignee, s.want)
		}
		wantTimers(t, lic, t0, windowCloses, lockedUntil)
	}
	// Every user but the last assignee has let go of the licence.
	for _, email := range []string{"a@x.com", "c@x.com", "d@x.com"} {
		if got := w.user(acct, email).LicenseID; got != "" {
			t.Errorf("%s holds %q, want nothing", email, got)
		}
	}
	if got := w.user(acct, "b@x.com").LicenseID; got != "P1" {
		t.Errorf("b@x.com holds %q, want P1", got)
	}
}

// rules C3 and C4 at their boundaries, for reassign and unassign after an
// assignment to a@x.com at t0.
func TestTimerBoundaries(t *testing.T) {
	newCloses, newLocked := lockedUntil.Add(window), lockedUntil.Add(window+lock)
	tests := []struct {
		name     string
		rule     string
		unassign bool
		at       time.Time
		wantCode string
		// For accepted moves: the timers after, and whether a window opened.
		opened, closes, locked time.Time
		newWindow              bool
	}{
		// rule C3: inside the window.
		{"reassign at window_closes_at - 1ns", "C3", false, windowCloses.Add(-time.Nanosecond), "",
			t0, windowCloses, lockedUntil, false},
		{"unassign at window_closes_at - 1ns", "C3", true, windowCloses.Add(-time.Nanosecond), "",
			t0, windowCloses, lockedUntil, false},
		// rule C3: from window_closes_at until locked_until.
		{"reassign exactly at window_closes_at", "C3", false, windowCloses, commands.CodeLicenseLocked,
			time.Time{}, time.Time{}, time.Time{}, false},
		{"unassign exactly at window_closes_at", "C3", true, windowCloses, commands.CodeLicenseLocked,
			time.Time{}, time.Time{}, time.Time{}, false},
		{"reassign in the middle of the lock", "C3", false, windowCloses.Add(15 * day), commands.CodeLicenseLocked,
			time.Time{}, time.Time{}, time.Time{}, false},
		{"reassign at locked_until - 1ns", "C3", false, lockedUntil.Add(-time.Nanosecond), commands.CodeLicenseLocked,
			time.Time{}, time.Time{}, time.Time{}, false},
		{"unassign at locked_until - 1ns", "C3", true, lockedUntil.Add(-time.Nanosecond), commands.CodeLicenseLocked,
			time.Time{}, time.Time{}, time.Time{}, false},
		// rule C4: at or after locked_until.
		{"reassign exactly at locked_until opens a new window", "C4", false, lockedUntil, "",
			lockedUntil, newCloses, newLocked, true},
		{"reassign after locked_until opens a new window", "C4", false, lockedUntil.Add(40 * day), "",
			lockedUntil.Add(40 * day), lockedUntil.Add(40*day + window), lockedUntil.Add(40*day + window + lock), true},
		{"unassign exactly at locked_until opens nothing", "C4", true, lockedUntil, "",
			t0, windowCloses, lockedUntil, false},
		{"unassign after locked_until opens nothing", "C4", true, lockedUntil.Add(40 * day), "",
			t0, windowCloses, lockedUntil, false},
	}
	for _, tt := range tests {
		t.Run(tt.rule+" "+tt.name, func(t *testing.T) {
			w := stdWorld(t)
			w.must(t)(w.assign("P1", "a@x.com", t0))
			do := func() ([]events.Event, error) {
				if tt.unassign {
					return w.unassign("P1", tt.at)
				}
				return w.reassign("P1", "b@x.com", tt.at)
			}
			if tt.wantCode != "" {
				e := rejected(t, tt.wantCode)(do())
				wantDetail(t, e, "locked_until", "2026-02-05T00:00:00Z")
				wantDetail(t, e, "window_closes_at", "2026-01-06T00:00:00Z")
				lic := w.license(acct, "P1")
				if lic.Assignee != "a@x.com" {
					t.Errorf("assignee after rejection: got %q, want a@x.com", lic.Assignee)
				}
				wantTimers(t, lic, t0, windowCloses, lockedUntil)
				return
			}
			evs := w.must(t)(do())
			lic := w.license(acct, "P1")
			wantTimers(t, lic, tt.opened, tt.closes, tt.locked)
			if tt.unassign {
				_, d := only[events.LicenseUnassigned](t, evs)
				if d.Reason != events.ReasonAdmin || d.PreviousEmail != "a@x.com" ||
					!d.WindowClosesAt.Equal(windowCloses) || !d.LockedUntil.Equal(lockedUntil) {
					t.Errorf("license.unassigned: got %+v, want from a@x.com, reason admin, the old timers", d)
				}
				_, dd := only[events.UserLicenseDetached](t, evs)
				if dd.Email != "a@x.com" || dd.LicenseID != "P1" || dd.Reason != events.ReasonAdmin {
					t.Errorf("user.license_detached: got %+v, want a@x.com, P1, admin", dd)
				}
				if lic.Assignee != "" || !lic.UnassignedSince.Equal(tt.at) {
					t.Errorf("state: got assignee %q, unassigned_since %v; want none, %v", lic.Assignee, lic.UnassignedSince, tt.at)
				}
				if got := lic.LockAt(tt.at); tt.at.Before(windowCloses) && got != commands.LockWindowOpen ||
					!tt.at.Before(windowCloses) && got != commands.LockNone {
					t.Errorf("LockAt(%v) after unassign: got %v", tt.at, got)
				}
				return
			}
			_, d := only[events.LicenseReassigned](t, evs)
			if d.NewWindow != tt.newWindow || !d.WindowOpenedAt.Equal(tt.opened) || !d.WindowClosesAt.Equal(tt.closes) ||
				!d.LockedUntil.Equal(tt.locked) {
				t.Errorf("license.reassigned: got %+v, want new_window %v, timers %v, %v, %v", d, tt.newWindow,
					tt.opened, tt.closes, tt.locked)
			}
			if lic.Assignee != "b@x.com" {
				t.Errorf("assignee: got %q, want b@x.com", lic.Assignee)
			}
		})
	}
}

// rule C3: the lock runs whether or not the licence is assigned: unassigned
// inside the window, it cannot be assigned from window_closes_at until
// locked_until. rule C4: unassigned at locked_until, the next assignment opens
// a new window.
func TestLockRunsWhileUnassigned(t *testing.T) {
	w := stdWorld(t)
	w.must(t)(w.assign("P1", "a@x.com", t0))
	w.must(t)(w.unassign("P1", t0.Add(time.Hour)))

	for _, at := range []time.Time{windowCloses, windowCloses.Add(10 * day), lockedUntil.Add(-time.Nanosecond)} {
		e := rejected(t, commands.CodeLicenseLocked)(w.assign("P1", "b@x.com", at))
		wantDetail(t, e, "locked_until", rfc3339(lockedUntil))
	}
	evs := w.must(t)(w.assign("P1", "b@x.com", lockedUntil))
	_, d := only[events.LicenseAssigned](t, evs)
	if !d.NewWindow {
		t.Errorf("new_window: got false, want true")
	}
	wantTimers(t, w.license(acct, "P1"), lockedUntil, lockedUntil.Add(window), lockedUntil.Add(window+lock))
}

// rule C4: unassigned at locked_until (opening nothing), the licence can be
// assigned later, and that assignment opens the new window.
func TestUnassignAtLockedUntilThenAssign(t *testing.T) {
	w := stdWorld(t)
	w.must(t)(w.assign("P1", "a@x.com", t0))
	w.must(t)(w.unassign("P1", lockedUntil))
	lic := w.license(acct, "P1")
	wantTimers(t, lic, t0, windowCloses, lockedUntil)
	if got := lic.LockAt(lockedUntil); got != commands.LockNone {
		t.Errorf("LockAt(locked_until): got %v, want none", got)
	}
	at := lockedUntil.Add(3 * day)
	if got := lic.AssignableFrom(at); !got.Equal(lockedUntil) {
		t.Errorf("AssignableFrom: got %v, want %v", got, lockedUntil)
	}
	evs := w.must(t)(w.assign("P1", "c@x.com", at))
	_, d := only[events.LicenseAssigned](t, evs)
	if !d.NewWindow || !d.WindowOpenedAt.Equal(at) {
		t.Errorf("license.assigned: got %+v, want a new window opened at %v", d, at)
	}
}

// rule C5: reassign to the current assignee is already_assigned; reassign or
// unassign of an unassigned licence is not_assigned.
func TestReassignUnassignRejections(t *testing.T) {
	tests := []struct {
		name     string
		assigned bool
		do       func(*testing.T, *world) ([]events.Event, error)
		want     string
		details  map[string]any
	}{
		{"C5 reassign to the current assignee", true,
			func(t *testing.T, w *world) ([]events.Event, error) {
				return w.reassign("P1", "a@x.com", t0.Add(time.Hour))
			},
			commands.CodeAlreadyAssigned, map[string]any{"assignee": "a@x.com"}},
		{"C5 reassign to the current assignee, spelt in upper case", true,
			func(t *testing.T, w *world) ([]events.Event, error) {
				c, err := commands.Reassign{Account: acct, LicenseID: "P1", Email: "A@X.COM", At: t0.Add(time.Hour)}.Normalize()
				if err != nil {
					return nil, err
				}
				lic := w.license(acct, "P1")
				return c.Decide(lic, w.user(acct, lic.Assignee), w.user(acct, c.Email), c.At)
			},
			commands.CodeAlreadyAssigned, map[string]any{"assignee": "a@x.com"}},
		{"C5 reassign to the current assignee while locked", true,
			func(t *testing.T, w *world) ([]events.Event, error) { return w.reassign("P1", "a@x.com", windowCloses) },
			commands.CodeAlreadyAssigned, nil},
		{"C5 reassign of an unassigned licence", false,
			func(t *testing.T, w *world) ([]events.Event, error) { return w.reassign("P1", "a@x.com", t0) },
			commands.CodeNotAssigned, nil},
		{"C5 unassign of an unassigned licence", false,
			func(t *testing.T, w *world) ([]events.Event, error) { return w.unassign("P1", t0) },
			commands.CodeNotAssigned, nil},
		{"reassign of an unknown licence", false,
			func(t *testing.T, w *world) ([]events.Event, error) { return w.reassign("NOPE", "a@x.com", t0) },
			commands.CodeLicenseNotFound, map[string]any{"license_id": "NOPE"}},
		{"unassign of an unknown licence", false,
			func(t *testing.T, w *world) ([]events.Event, error) { return w.unassign("NOPE", t0) },
			commands.CodeLicenseNotFound, nil},
		{"reassign of a commercial licence", false,
			func(t *testing.T, w *world) ([]events.Event, error) { return w.reassign("C1", "a@x.com", t0) },
			commands.CodeNotPractitioner, map[string]any{"kind": events.KindCommercial}},
		{"unassign of a trial licence", false,
			func(t *testing.T, w *world) ([]events.Event, error) { return w.unassign("T1", t0) },
			commands.CodeNotPractitioner, map[string]any{"kind": events.KindTrial}},
		// rule C1 applies to the new assignee of a reassignment too.
		{"reassign to an unknown user", true,
			func(t *testing.T, w *world) ([]events.Event, error) {
				return w.reassign("P1", "zz@x.com", t0.Add(time.Hour))
			},
			commands.CodeUserNotFound, nil},
		{"reassign to a user without country", true,
			func(t *testing.T, w *world) ([]events.Event, error) {
				return w.reassign("P1", "n@x.com", t0.Add(time.Hour))
			},
			commands.CodeEntitlementCountryMissing, nil},
		{"reassign to a user holding another licence", true,
			func(t *testing.T, w *world) ([]events.Event, error) {
				w.must(t)(w.assign("P2", "b@x.com", t0))
				return w.reassign("P1", "b@x.com", t0.Add(time.Hour))
			},
			commands.CodeUserAlreadyLicensed, map[string]any{"email": "b@x.com", "license_id": "P2"}},
		{"reassign after the term", true,
			func(t *testing.T, w *world) ([]events.Event, error) { return w.reassign("P1", "b@x.com", termUntil) },
			commands.CodeLicenseInactive, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := stdWorld(t)
			if tt.assigned {
				w.must(t)(w.assign("P1", "a@x.com", t0))
			}
			before := w.license(acct, "P1")
			e := rejected(t, tt.want)(tt.do(t, w))
			if after := w.license(acct, "P1"); after.Assignee != before.Assignee {
				t.Errorf("assignee after rejection: got %q, want %q", after.Assignee, before.Assignee)
			}
			for k, v := range tt.details {
				wantDetail(t, e, k, v)
			}
		})
	}
}

// rule G9: a commercial licence may name a country (normalised to upper
// case); no other kind may.
func TestCreateLicenseCountry(t *testing.T) {
	base := commands.CreateLicense{Account: acct, ID: "L1", Products: []string{"revit"}, ValidFrom: t0, ValidUntil: t0.Add(time.Hour)}
	c := base
	c.Kind, c.Seats, c.Country = events.KindCommercial, 3, " de "
	got, err := c.Normalize()
	if err != nil || got.Country != "DE" {
		t.Fatalf("commercial with country: %q, %v", got.Country, err)
	}
	c.Country = "XX"
	if _, err := c.Normalize(); commands.CodeOf(err) != commands.CodeInvalidArgument {
		t.Errorf("unknown country: %v", err)
	}
	for _, kind := range []string{events.KindPractitioner, events.KindTrial} {
		c := base
		c.Kind, c.Country = kind, "DE"
		if _, err := c.Normalize(); commands.CodeOf(err) != commands.CodeInvalidArgument {
			t.Errorf("%s with a country: %v", kind, err)
		}
	}
}
