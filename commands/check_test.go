package commands_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
)

// Rules B3 and E1–E3 at the level of the commands: Check.Decide and
// SetAccess, decided against states folded from real events.

// chkLic describes one licence of a check test's world.
type chkLic struct {
	id, kind    string
	seats       int
	from, until time.Time
	products    []string
}

// The licences most check tests use, each for revit over the standard term.
var (
	chkP1 = chkLic{"P1", events.KindPractitioner, 0, termFrom, termUntil, []string{"revit"}}
	chkP2 = chkLic{"P2", events.KindPractitioner, 0, termFrom, termUntil, []string{"revit"}}
	chkC1 = chkLic{"C1", events.KindCommercial, 5, termFrom, termUntil, []string{"revit"}}
	chkT1 = chkLic{"T1", events.KindTrial, 0, termFrom, termUntil, []string{"revit"}}
)

// chkNow is when most check tests ask: inside every standard term and
// inside P1's window when it was assigned at t0.
var chkNow = t0.Add(time.Hour)

// chkCreate records l in acme.
func chkCreate(tb testing.TB, w *world, l chkLic) {
	tb.Helper()
	c, err := commands.CreateLicense{Account: acct, ID: l.id, Kind: l.kind, Products: l.products, Seats: l.seats,
		ValidFrom: l.from, ValidUntil: l.until, At: setupAt}.Normalize()
	if err != nil {
		tb.Fatalf("CreateLicense.Normalize(%s): %v", l.id, err)
	}
	w.must(tb)(c.Decide(w.account(acct), w.license(acct, l.id), setupAt))
}

// chkWorld is a world with accounts acme and globex, the acme users a@x.com,
// b@x.com, c@x.com and alt.a@x.com (a second email of a's person), the globex
// user g@x.com, all with a country, and lics in acme.
func chkWorld(tb testing.TB, lics ...chkLic) *world {
	tb.Helper()
	w := newWorld()
	w.createAccount(tb, acct)
	w.createAccount(tb, other)
	for _, e := range []string{"a@x.com", "b@x.com", "c@x.com", "alt.a@x.com"} {
		w.register(tb, acct, e, "DE", setupAt)
	}
	w.register(tb, other, "g@x.com", "DE", setupAt)
	for _, l := range lics {
		chkCreate(tb, w, l)
	}
	return w
}

// chkPooled is what the write side passes as pooled: the account's
// commercial and trial licences that cover product, in id order.
func chkPooled(w *world, account, product string) []commands.License {
	var out []commands.License
	for _, l := range w.licenses {
		if l.Account == account && l.Kind != events.KindPractitioner && slices.Contains(l.Products, product) {
			out = append(out, *l)
		}
	}
	slices.SortFunc(out, func(a, b commands.License) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// chkAccess folds the access subject of (account, product) from the log.
func chkAccess(w *world, account, product string) commands.Access {
	var a commands.Access
	for _, e := range w.log {
		if e.Account == account && e.Aggregate() == events.AggregateAccess && e.AggregateID == product {
			a.Apply(e)
		}
	}
	return a
}

// chkLog folds the check subject of (account, product) from the log.
func chkLog(w *world, account, product string) commands.CheckLog {
	var l commands.CheckLog
	for _, e := range w.log {
		if e.Account == account && e.Aggregate() == events.AggregateCheck && e.AggregateID == product {
			l.Apply(e)
		}
	}
	return l
}

// chkDecide normalises c and decides it at now the way the write side does:
// the user's practitioner licence is the one the user state names.
func chkDecide(w *world, c commands.Check, now time.Time) ([]events.Event, error) {
	c, err := c.Normalize()
	if err != nil {
		return nil, err
	}
	user := w.user(c.Account, c.Email)
	var held commands.License
	if user.LicenseID != "" {
		held = w.license(c.Account, user.LicenseID)
	}
	return c.Decide(w.account(c.Account), user, held, chkPooled(w, c.Account, c.Product),
		chkAccess(w, c.Account, c.Product), chkLog(w, c.Account, c.Product), now)
}

// chkAns is the answer a check should give.
type chkAns struct {
	granted              bool
	typ, license, reason string
}

func chkGrant(typ, id string) chkAns { return chkAns{true, typ, id, typ} }
func chkDeny(reason string) chkAns   { return chkAns{false, "", "", reason} }

var (
	chkNone   = chkDeny(events.ReasonNoEntitlement)
	chkDenied = chkDeny(events.ReasonAccessDenied)
	chkNoUser = chkDeny(events.ReasonUnknownUser)
	chkTooOld = chkDeny(events.ReasonClientTooOld)
)

func chkPrac(id string) chkAns    { return chkGrant(events.LicenseTypePractitioner, id) }
func chkPooledA(id string) chkAns { return chkGrant(events.LicenseTypePooled, id) }
func chkTrial(id string) chkAns   { return chkGrant(events.LicenseTypeTrial, id) }

// chkCheck decides a check of email on product with client version at now in
// acme, applies its event and checks rule E3: exactly one check.recorded
// event on the product's check subject, at now, echoing the request with the
// email normalised. It returns the recorded answer.
func chkCheck(tb testing.TB, w *world, email, product, version string, now time.Time) events.CheckRecorded {
	tb.Helper()
	at := now
	if last := chkLog(w, acct, product).LastEventAt; last.After(at) {
		at = last // the product's log stays in order
	}
	evs := w.must(tb)(chkDecide(w, commands.Check{Account: acct, Email: email, Product: product,
		MachineID: "m-1", ClientVersion: version}, now))
	if len(evs) != 1 {
		tb.Fatalf("check %s %s: got %d events %v, want exactly one check.recorded (E3)", email, product, len(evs), types(evs))
	}
	e, d := only[events.CheckRecorded](tb, evs)
	if got, want := e.Subject(), events.Subject(acct, events.AggregateCheck, product); got != want {
		tb.Errorf("check %s %s: subject got %s, want %s", email, product, got, want)
	}
	if e.Type() != events.TypeCheckRecorded {
		tb.Errorf("check %s %s: type got %s, want %s", email, product, e.Type(), events.TypeCheckRecorded)
	}
	if !e.OccurredAt.Equal(at) {
		tb.Errorf("check %s %s: occurred_at got %s, want %s", email, product, rfc3339(e.OccurredAt), rfc3339(at))
	}
	want := events.CheckRecorded{Email: strings.ToLower(email), Product: product, MachineID: "m-1", ClientVersion: version,
		Granted: d.Granted, LicenseType: d.LicenseType, LicenseID: d.LicenseID, Reason: d.Reason}
	if d != want {
		tb.Errorf("check %s %s: recorded %+v, want the request echoed: %+v", email, product, d, want)
	}
	return d
}

// chkWant checks a recorded answer.
func chkWant(tb testing.TB, what string, got events.CheckRecorded, want chkAns) {
	tb.Helper()
	g := chkAns{got.Granted, got.LicenseType, got.LicenseID, got.Reason}
	if g != want {
		tb.Errorf("%s: got %+v, want %+v", what, g, want)
	}
}

// chkExpect decides a check and checks its answer.
func chkExpect(tb testing.TB, w *world, email, product, version string, now time.Time, want chkAns) {
	tb.Helper()
	chkWant(tb, email+" "+product+" "+version+" at "+rfc3339(now), chkCheck(tb, w, email, product, version, now), want)
}

// chkSetAccess sets the access control of product in acme at setupAt.
func chkSetAccess(tb testing.TB, w *world, product, def string, allow, deny []string) events.AccessSet {
	tb.Helper()
	c, err := commands.SetAccess{Account: acct, Product: product, Default: def, Allow: allow, Deny: deny}.Normalize()
	if err != nil {
		tb.Fatalf("SetAccess.Normalize: %v", err)
	}
	evs := w.must(tb)(c.Decide(w.account(acct), chkAccess(w, acct, product), setupAt))
	_, d := only[events.AccessSet](tb, evs)
	return d
}

// rule E1: practitioner beats commercial beats trial; nothing else denies
// with no_entitlement.
func TestChkE1Order(t *testing.T) {
	tests := []struct {
		name string
		lics []chkLic
		a, b chkAns // a holds P1 when it exists; b holds nothing
	}{
		{"practitioner, commercial, trial", []chkLic{chkP1, chkC1, chkT1}, chkPrac("P1"), chkPooledA("C1")},
		{"practitioner, trial", []chkLic{chkP1, chkT1}, chkPrac("P1"), chkTrial("T1")},
		{"practitioner only", []chkLic{chkP1}, chkPrac("P1"), chkNone},
		{"commercial, trial", []chkLic{chkC1, chkT1}, chkPooledA("C1"), chkPooledA("C1")},
		{"trial only", []chkLic{chkT1}, chkTrial("T1"), chkTrial("T1")},
		{"nothing", nil, chkNone, chkNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := chkWorld(t, tt.lics...)
			if p1 := w.license(acct, "P1"); p1.Exists() {
				w.must(t)(w.assign("P1", "a@x.com", t0))
			}
			chkExpect(t, w, "a@x.com", "revit", "10.00.18.25", chkNow, tt.a)
			chkExpect(t, w, "b@x.com", "revit", "10.00.18.25", chkNow, tt.b)
		})
	}
}

// rule E1 (and F4's 10.00.18): the practitioner answer needs a client of at
// least 10.00.18, compared number by number; an older client falls through
// to pooled or trial, and is denied client_too_old_for_practitioner when
// nothing else grants it.
func TestChkE1ClientVersion(t *testing.T) {
	if v, err := commands.ParseVersion("v", "10.00.18"); err != nil || commands.MinPractitionerVersion.Compare(v) != 0 {
		t.Fatalf("MinPractitionerVersion %v: got %v, %v; want it equal to 10.00.18", commands.MinPractitionerVersion, v, err)
	}
	worlds := []struct {
		name        string
		lics        []chkLic
		fallThrough chkAns
	}{
		{"with commercial", []chkLic{chkP1, chkC1, chkT1}, chkPooledA("C1")},
		{"with trial", []chkLic{chkP1, chkT1}, chkTrial("T1")},
		{"practitioner only", []chkLic{chkP1}, chkTooOld},
	}
	versions := []struct {
		version      string
		practitioner bool
	}{
		{"10.00.17.99", false},
		{"10.00.17", false},
		{"10.0.17.999999999", false},
		{"10", false},
		{"9.99.99.99", false},
		{"10.00.18", true},
		{"10.0.18.0", true},
		{"10.00.18.1", true},
		{"10.00.18.25", true},
		{"10.00.18.0.0.0.0.0", true},
		{"10.1", true},
		{"11", true},
	}
	for _, wt := range worlds {
		t.Run(wt.name, func(t *testing.T) {
			w := chkWorld(t, wt.lics...)
			w.must(t)(w.assign("P1", "a@x.com", t0))
			for _, v := range versions {
				want := wt.fallThrough
				if v.practitioner {
					want = chkPrac("P1")
				}
				chkExpect(t, w, "a@x.com", "revit", v.version, chkNow, want)
			}
		})
	}
}

// rule E1: a practitioner whose client is older than 10.00.18 is told so:
// denied client_too_old_for_practitioner, not no_entitlement, when the
// licence would grant the check with a newer client and nothing else grants
// it. The boundary is 10.00.17.99 (too old) against 10.00.18 (practitioner).
// A licence that would not grant the check anyway (another product, out of
// its term, held by someone else) still answers no_entitlement, and a
// granted fall-through keeps its licence type as its reason.
func TestChkE1ClientTooOldForPractitioner(t *testing.T) {
	w := chkWorld(t, chkP1, chkLic{"TM", events.KindTrial, 0, termFrom, termUntil, []string{"microstation"}})
	w.must(t)(w.assign("P1", "a@x.com", t0))
	chkExpect(t, w, "a@x.com", "revit", "10.00.17.99", chkNow, chkTooOld)
	chkExpect(t, w, "A@X.com", "revit", "10.00.17.99", chkNow, chkTooOld)
	chkExpect(t, w, "a@x.com", "revit", "10.00.18", chkNow, chkPrac("P1"))
	chkExpect(t, w, "b@x.com", "revit", "10.00.17.99", chkNow, chkNone)               // holds nothing
	chkExpect(t, w, "a@x.com", "civil3d", "10.00.17.99", chkNow, chkNone)             // P1 does not cover civil3d
	chkExpect(t, w, "a@x.com", "microstation", "10.00.17.99", chkNow, chkTrial("TM")) // granted by the trial
	// Out of P1's term the licence would not grant it with any client.
	chkExpect(t, w, "a@x.com", "revit", "10.00.17.99", termUntil, chkNone)
	chkExpect(t, w, "a@x.com", "revit", "10.00.18", termUntil, chkNone)
}

// rule E1: a practitioner licence that does not cover the product does not
// count; the check falls through as for anyone else.
func TestChkE1PractitionerNotCoveringProduct(t *testing.T) {
	cm := chkLic{"CM", events.KindCommercial, 2, termFrom, termUntil, []string{"microstation"}}
	tm := chkLic{"TM", events.KindTrial, 0, termFrom, termUntil, []string{"microstation"}}
	tests := []struct {
		name string
		lics []chkLic
		want chkAns
	}{
		{"commercial for the product", []chkLic{chkP1, cm, tm}, chkPooledA("CM")},
		{"trial for the product", []chkLic{chkP1, tm}, chkTrial("TM")},
		{"nothing for the product", []chkLic{chkP1, chkC1, chkT1}, chkNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := chkWorld(t, tt.lics...)
			w.must(t)(w.assign("P1", "a@x.com", t0))
			chkExpect(t, w, "a@x.com", "microstation", "10.00.18.25", chkNow, tt.want)
			chkExpect(t, w, "a@x.com", "revit", "10.00.18.25", chkNow, chkPrac("P1"))
		})
	}
	t.Run("licence covering several products", func(t *testing.T) {
		multi := chkLic{"P1", events.KindPractitioner, 0, termFrom, termUntil, []string{"revit", "microstation"}}
		w := chkWorld(t, multi, cm)
		w.must(t)(w.assign("P1", "a@x.com", t0))
		chkExpect(t, w, "a@x.com", "microstation", "10.00.18.25", chkNow, chkPrac("P1"))
		chkExpect(t, w, "a@x.com", "revit", "10.00.18.25", chkNow, chkPrac("P1"))
		chkExpect(t, w, "a@x.com", "navisworks", "10.00.18.25", chkNow, chkNone)
	})
}

// rules E1, B2: only a licence active at the check counts, whatever its
// kind: [valid_from, valid_until) is half-open.
func TestChkE1InactiveLicences(t *testing.T) {
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	until := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		lic  chkLic
		want chkAns // while active
	}{
		{chkLic{"P9", events.KindPractitioner, 0, from, until, []string{"revit"}}, chkPrac("P9")},
		{chkLic{"C9", events.KindCommercial, 3, from, until, []string{"revit"}}, chkPooledA("C9")},
		{chkLic{"T9", events.KindTrial, 0, from, until, []string{"revit"}}, chkTrial("T9")},
	}
	for _, tt := range tests {
		t.Run(tt.lic.kind, func(t *testing.T) {
			w := chkWorld(t, tt.lic)
			if tt.lic.kind == events.KindPractitioner {
				// rule C1: the licence is assigned exactly at valid_from.
				w.must(t)(w.assign(tt.lic.id, "a@x.com", from))
			}
			for _, p := range []struct {
				name string
				at   time.Time
				want chkAns
			}{
				{"before valid_from", from.Add(-time.Nanosecond), chkNone},
				{"exactly at valid_from", from, tt.want},
				{"just before valid_until", until.Add(-time.Nanosecond), tt.want},
				{"exactly at valid_until", until, chkNone},
				{"after valid_until", until.Add(time.Hour), chkNone},
			} {
				chkWant(t, p.name, chkCheck(t, w, "a@x.com", "revit", "10.00.18.25", p.at), p.want)
			}
		})
	}
	t.Run("inactive practitioner falls through", func(t *testing.T) {
		p := chkLic{"P9", events.KindPractitioner, 0, from, until, []string{"revit"}}
		c := chkLic{"C9", events.KindCommercial, 3, termFrom, termUntil, []string{"revit"}}
		w := chkWorld(t, p, c)
		w.must(t)(w.assign("P9", "a@x.com", from))
		chkExpect(t, w, "a@x.com", "revit", "10.00.18.25", from.Add(-time.Nanosecond), chkPooledA("C9"))
		chkExpect(t, w, "a@x.com", "revit", "10.00.18.25", from, chkPrac("P9"))
		chkExpect(t, w, "a@x.com", "revit", "10.00.18.25", until, chkPooledA("C9"))
	})
	t.Run("expired commercial falls through to trial", func(t *testing.T) {
		c := chkLic{"C9", events.KindCommercial, 3, from, until, []string{"revit"}}
		w := chkWorld(t, c, chkT1)
		chkExpect(t, w, "b@x.com", "revit", "10.00.18.25", until.Add(-time.Nanosecond), chkPooledA("C9"))
		chkExpect(t, w, "b@x.com", "revit", "10.00.18.25", until, chkTrial("T1"))
	})
	t.Run("the active one of two commercial licences", func(t *testing.T) {
		ca := chkLic{"CA", events.KindCommercial, 3, from, until, []string{"revit"}}
		cb := chkLic{"CB", events.KindCommercial, 3, until, until.Add(30 * 24 * time.Hour), []string{"revit"}}
		w := chkWorld(t, ca, cb)
		chkExpect(t, w, "b@x.com", "revit", "10.00.18.25", until.Add(-time.Nanosecond), chkPooledA("CA"))
		chkExpect(t, w, "b@x.com", "revit", "10.00.18.25", until, chkPooledA("CB"))
	})
}

// rules E1, F4 (note): the email is the identity. The same person checking
// with another registered email than the assignee's gets pooled or nothing;
// the assignment follows reassign and unassign.
func TestChkE1TheEmailIsTheIdentity(t *testing.T) {
	t.Run("with pooled licences", func(t *testing.T) {
		w := chkWorld(t, chkP1, chkC1, chkT1)
		w.must(t)(w.assign("P1", "a@x.com", t0))
		chkExpect(t, w, "alt.a@x.com", "revit", "10.00.18.25", chkNow, chkPooledA("C1"))
		chkExpect(t, w, "A@X.COM", "revit", "10.00.18.25", chkNow, chkPrac("P1")) // the same email in another case
		w.must(t)(w.reassign("P1", "b@x.com", chkNow))                            // inside the window (C3)
		chkExpect(t, w, "a@x.com", "revit", "10.00.18.25", chkNow, chkPooledA("C1"))
		chkExpect(t, w, "b@x.com", "revit", "10.00.18.25", chkNow, chkPrac("P1"))
		w.must(t)(w.unassign("P1", chkNow.Add(time.Hour)))
		chkExpect(t, w, "b@x.com", "revit", "10.00.18.25", chkNow.Add(time.Hour), chkPooledA("C1"))
	})
	t.Run("practitioner only", func(t *testing.T) {
		w := chkWorld(t, chkP1)
		w.must(t)(w.assign("P1", "a@x.com", t0))
		chkExpect(t, w, "alt.a@x.com", "revit", "10.00.18.25", chkNow, chkNone)
		chkExpect(t, w, "a@x.com", "revit", "10.00.18.25", chkNow, chkPrac("P1"))
	})
}

// rules E1, E3: a check by an email that is no user of the account is
// denied user_not_found, and recorded like any other check; a check in an
// unknown account is rejected.
func TestChkE1UnknownUser(t *testing.T) {
	w := chkWorld(t, chkP1, chkC1, chkT1)
	w.register(t, acct, "r@x.com", "DE", setupAt)
	w.must(t)(w.removeUser(acct, "r@x.com", t0))
	for _, email := range []string{
		"zz@x.com", // never registered
		"g@x.com",  // a user of globex
		"r@x.com",  // removed (A4)
	} {
		chkExpect(t, w, email, "revit", "10.00.18.25", chkNow, chkNoUser)
	}
	rejected(t, commands.CodeAccountNotFound)(chkDecide(w, commands.Check{Account: "initech", Email: "a@x.com",
		Product: "revit", MachineID: "m-1", ClientVersion: "10.00.18.25"}, chkNow))
}

// rule B3: with practitioner licences and no active commercial or trial
// licence for the product, only the assignee is granted: "the application
// will not activate until the Practitioner License is assigned".
func TestChkB3PractitionerOnly(t *testing.T) {
	expiredTrial := chkLic{"T0", events.KindTrial, 0, setupAt, termFrom, []string{"revit"}}
	otherProduct := chkLic{"CM", events.KindCommercial, 5, termFrom, termUntil, []string{"microstation"}}
	w := chkWorld(t, chkP1, chkP2, expiredTrial, otherProduct)
	chkExpect(t, w, "a@x.com", "revit", "10.00.18.25", t0.Add(-time.Hour), chkNone) // nobody assigned yet
	w.must(t)(w.assign("P1", "a@x.com", t0))
	chkExpect(t, w, "a@x.com", "revit", "10.00.18.25", chkNow, chkPrac("P1"))
	chkExpect(t, w, "b@x.com", "revit", "10.00.18.25", chkNow, chkNone)
	chkExpect(t, w, "c@x.com", "revit", "10.00.18.25", chkNow, chkNone)
	chkExpect(t, w, "a@x.com", "revit", "10.00.17.99", chkNow, chkTooOld) // not practitioner use (E1)
	w.must(t)(w.assign("P2", "b@x.com", chkNow))
	chkExpect(t, w, "b@x.com", "revit", "10.00.18.25", chkNow, chkPrac("P2"))
}

// rule E2: default deny with a per-user allow override.
func TestChkE2DefaultDenyAllowOverride(t *testing.T) {
	w := chkWorld(t, chkP1, chkC1, chkT1)
	chkSetAccess(t, w, "revit", "deny", []string{"B@X.COM"}, nil)
	chkExpect(t, w, "b@x.com", "revit", "10.00.18.25", chkNow, chkPooledA("C1"))
	chkExpect(t, w, "B@x.Com", "revit", "10.00.18.25", chkNow, chkPooledA("C1"))
	chkExpect(t, w, "c@x.com", "revit", "10.00.18.25", chkNow, chkDenied)
}

// rule E2: default allow with a per-user deny override.
func TestChkE2DefaultAllowDenyOverride(t *testing.T) {
	w := chkWorld(t, chkP1, chkC1, chkT1)
	chkSetAccess(t, w, "revit", "allow", nil, []string{"c@x.com"})
	chkExpect(t, w, "b@x.com", "revit", "10.00.18.25", chkNow, chkPooledA("C1"))
	chkExpect(t, w, "c@x.com", "revit", "10.00.18.25", chkNow, chkDenied)
	chkExpect(t, w, "C@X.COM", "revit", "10.00.18.25", chkNow, chkDenied)
	// Access control is per product.
	chkSetAccess(t, w, "microstation", "deny", nil, nil)
	chkExpect(t, w, "b@x.com", "revit", "10.00.18.25", chkNow, chkPooledA("C1"))
	// A new setting replaces the previous one whole.
	chkSetAccess(t, w, "revit", "allow", nil, nil)
	chkExpect(t, w, "c@x.com", "revit", "10.00.18.25", chkNow, chkPooledA("C1"))
}

// rule E2: access control never applies to practitioner use; it does apply
// to the assignee's pooled use (an old client, E1).
func TestChkE2NeverAppliesToPractitioner(t *testing.T) {
	w := chkWorld(t, chkP1, chkC1, chkT1)
	w.must(t)(w.assign("P1", "a@x.com", t0))
	chkSetAccess(t, w, "revit", "deny", nil, []string{"a@x.com"})
	chkExpect(t, w, "a@x.com", "revit", "10.00.18.25", chkNow, chkPrac("P1"))
	chkExpect(t, w, "a@x.com", "revit", "10.00.17.99", chkNow, chkDenied)
}

// rule E2: a pooled check denied by access control answers access_denied;
// it does not fall through to the trial. Access control applies to pooled
// use only, so without an active commercial licence a trial is granted.
func TestChkE2AccessDeniedDoesNotFallThrough(t *testing.T) {
	w := chkWorld(t, chkC1, chkT1)
	chkSetAccess(t, w, "revit", "deny", nil, nil)
	chkExpect(t, w, "b@x.com", "revit", "10.00.18.25", chkNow, chkDenied)

	w = chkWorld(t, chkT1)
	chkSetAccess(t, w, "revit", "deny", nil, []string{"b@x.com"})
	chkExpect(t, w, "b@x.com", "revit", "10.00.18.25", chkNow, chkTrial("T1"))

	w = chkWorld(t, chkC1, chkT1)
	chkSetAccess(t, w, "revit", "deny", nil, nil)
	chkExpect(t, w, "b@x.com", "revit", "10.00.18.25", termUntil.Add(-time.Nanosecond), chkDenied)

	w = chkWorld(t, chkC1)
	chkSetAccess(t, w, "revit", "deny", nil, nil)
	chkExpect(t, w, "b@x.com", "revit", "10.00.18.25", termUntil, chkNone) // no active commercial licence
}

// rule E2: a product's access setting is validated and normalised: emails
// lower-cased, sorted and de-duplicated; an email in both lists is invalid.
func TestChkE2SetAccessNormalize(t *testing.T) {
	tests := []struct {
		name      string
		in        commands.SetAccess
		allow     []string
		deny      []string
		wantField string
	}{
		{"normalised", commands.SetAccess{Account: acct, Product: "revit", Default: "deny",
			Allow: []string{"C@x.com", "b@x.com", " B@X.COM ", "b@x.com"}, Deny: []string{"D@X.com", "d@x.com"}},
			[]string{"b@x.com", "c@x.com"}, []string{"d@x.com"}, ""},
		{"no lists", commands.SetAccess{Account: acct, Product: "revit", Default: "allow"}, []string{}, []string{}, ""},
		{"in both lists", commands.SetAccess{Account: acct, Product: "revit", Default: "allow",
			Allow: []string{"b@x.com"}, Deny: []string{"b@x.com"}}, nil, nil, "allow"},
		{"in both lists in another case", commands.SetAccess{Account: acct, Product: "revit", Default: "deny",
			Allow: []string{"a@x.com", "B@X.com"}, Deny: []string{"b@x.COM"}}, nil, nil, "allow"},
		{"no default", commands.SetAccess{Account: acct, Product: "revit"}, nil, nil, "default"},
		{"bad default", commands.SetAccess{Account: acct, Product: "revit", Default: "Allow"}, nil, nil, "default"},
		{"bad product", commands.SetAccess{Account: acct, Product: "Revit", Default: "allow"}, nil, nil, "product"},
		{"bad account", commands.SetAccess{Account: "ACME", Product: "revit", Default: "allow"}, nil, nil, "account"},
		{"bad allow email", commands.SetAccess{Account: acct, Product: "revit", Default: "allow",
			Allow: []string{"nope"}}, nil, nil, "allow"},
		{"bad deny email", commands.SetAccess{Account: acct, Product: "revit", Default: "allow",
			Deny: []string{"a@x"}}, nil, nil, "deny"},
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
			if got.Allow == nil || got.Deny == nil || !slices.Equal(got.Allow, tt.allow) || !slices.Equal(got.Deny, tt.deny) {
				t.Errorf("Normalize: got allow %#v deny %#v, want %#v and %#v", got.Allow, got.Deny, tt.allow, tt.deny)
			}
		})
	}
}

// rule E2: setting access control records one access.set event; an unknown
// account is rejected; without a setting every user is allowed.
func TestChkE2SetAccessDecide(t *testing.T) {
	if !(&commands.Access{}).Allows("b@x.com") {
		t.Errorf("Access{}.Allows: got false, want true (no setting: everyone is allowed)")
	}
	w := chkWorld(t)
	d := chkSetAccess(t, w, "revit", "deny", []string{"B@x.com"}, []string{"c@x.com", "C@x.com"})
	want := events.AccessSet{Product: "revit", Default: "deny", Allow: []string{"b@x.com"}, Deny: []string{"c@x.com"}}
	if d.Product != want.Product || d.Default != want.Default || !slices.Equal(d.Allow, want.Allow) || !slices.Equal(d.Deny, want.Deny) {
		t.Errorf("access.set: got %+v, want %+v", d, want)
	}
	a := chkAccess(w, acct, "revit")
	for email, allowed := range map[string]bool{"b@x.com": true, "c@x.com": false, "a@x.com": false} {
		if got := a.Allows(email); got != allowed {
			t.Errorf("Allows(%s): got %v, want %v", email, got, allowed)
		}
	}
	c, err := commands.SetAccess{Account: "initech", Product: "revit", Default: "allow"}.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	rejected(t, commands.CodeAccountNotFound)(c.Decide(w.account("initech"), commands.Access{}, setupAt))
}

// rule E3: every check, granted or denied, is exactly one check.recorded
// event carrying the answer (chkCheck checks the event); the product's check
// log folds to the last one.
func TestChkE3EveryCheckIsOneEvent(t *testing.T) {
	w := chkWorld(t, chkP1, chkC1, chkT1)
	w.must(t)(w.assign("P1", "a@x.com", t0))
	chkSetAccess(t, w, "revit", "allow", nil, []string{"c@x.com"})
	before := len(w.log)
	checks := []struct {
		email, product string
		want           chkAns
	}{
		{"a@x.com", "revit", chkPrac("P1")},
		{"b@x.com", "revit", chkPooledA("C1")},
		{"c@x.com", "revit", chkDenied},
		{"zz@x.com", "revit", chkNoUser},
		{"b@x.com", "navisworks", chkNone},
	}
	for i, c := range checks {
		now := chkNow.Add(time.Duration(i) * time.Minute)
		got := chkCheck(t, w, c.email, c.product, "10.00.18.25", now)
		chkWant(t, c.email+" "+c.product, got, c.want)
		l := chkLog(w, acct, c.product)
		if l.Last != got || !l.LastEventAt.Equal(now) {
			t.Errorf("check log of %s: got %+v at %s, want %+v at %s", c.product, l.Last, rfc3339(l.LastEventAt), got, rfc3339(now))
		}
	}
	if got := len(w.log) - before; got != len(checks) {
		t.Errorf("events: got %d for %d checks, want one each", got, len(checks))
	}
	// A ledger clock behind the last check still records the check, at the
	// last check's time so the product's history stays in order.
	last := chkLog(w, acct, "revit").LastEventAt
	evs := w.must(t)(chkDecide(w, commands.Check{Account: acct, Email: "b@x.com", Product: "revit", MachineID: "m-1",
		ClientVersion: "10.00.18.25"}, last.Add(-time.Second)))
	if e, _ := only[events.CheckRecorded](t, evs); !e.OccurredAt.Equal(last) {
		t.Errorf("check behind the last: occurred_at got %s, want %s", rfc3339(e.OccurredAt), rfc3339(last))
	}
}

// rule E3 (and D4): a malformed check is rejected before it is decided, so
// nothing is recorded.
func TestChkE3InvalidCheck(t *testing.T) {
	valid := commands.Check{Account: acct, Email: "a@x.com", Product: "revit", MachineID: "m-1", ClientVersion: "10.00.18.25"}
	tests := []struct {
		name  string
		edit  func(*commands.Check)
		code  string
		field string
	}{
		{"version with letters", func(c *commands.Check) { c.ClientVersion = "10.00.18.x" }, commands.CodeInvalidClientVersion, "client_version"},
		{"no version", func(c *commands.Check) { c.ClientVersion = "" }, commands.CodeInvalidClientVersion, "client_version"},
		{"v-prefixed version", func(c *commands.Check) { c.ClientVersion = "v10.00.18" }, commands.CodeInvalidClientVersion, "client_version"},
		{"empty version part", func(c *commands.Check) { c.ClientVersion = "10..18" }, commands.CodeInvalidClientVersion, "client_version"},
		{"trailing dot", func(c *commands.Check) { c.ClientVersion = "10.00.18." }, commands.CodeInvalidClientVersion, "client_version"},
		{"no machine", func(c *commands.Check) { c.MachineID = "" }, commands.CodeInvalidArgument, "machine_id"},
		{"machine with space", func(c *commands.Check) { c.MachineID = "m 1" }, commands.CodeInvalidArgument, "machine_id"},
		{"machine starting with '-'", func(c *commands.Check) { c.MachineID = "-m" }, commands.CodeInvalidArgument, "machine_id"},
		{"machine too long", func(c *commands.Check) { c.MachineID = strings.Repeat("m", 129) }, commands.CodeInvalidArgument, "machine_id"},
		{"bad email", func(c *commands.Check) { c.Email = "a@x" }, commands.CodeInvalidArgument, "email"},
		{"bad product", func(c *commands.Check) { c.Product = "Revit" }, commands.CodeInvalidArgument, "product"},
		{"bad account", func(c *commands.Check) { c.Account = "ACME" }, commands.CodeInvalidArgument, "account"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid
			tt.edit(&c)
			w := chkWorld(t, chkC1)
			e := rejected(t, tt.code)(chkDecide(w, c, chkNow))
			wantDetail(t, e, "field", tt.field)
		})
	}
	if _, err := valid.Normalize(); err != nil {
		t.Errorf("valid check: got %v, want nil", err)
	}
}

// rule E3: a check is recorded even when the ledger's clock is more than
// FutureSkew behind the product's last check; a check has no "at" that could
// be in the future, so at_in_future must not reject it.
func TestChkE3ClockFarBehindLastCheck(t *testing.T) {
	w := chkWorld(t, chkC1)
	chkExpect(t, w, "b@x.com", "revit", "10.00.18.25", chkNow, chkPooledA("C1"))
	evs, err := chkDecide(w, commands.Check{Account: acct, Email: "c@x.com", Product: "revit", MachineID: "m-1",
		ClientVersion: "10.00.18.25"}, chkNow.Add(-10*time.Minute))
	if err != nil {
		t.Fatalf("check 10m behind the last check: got rejection %v, want a recorded check.recorded", err)
	}
	_, d := only[events.CheckRecorded](t, evs)
	chkWant(t, "check behind", d, chkPooledA("C1"))
}
