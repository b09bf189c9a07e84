package commands_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
)

// The account most tests act in, and a second one for A2.
const (
	acct  = "acme"
	other = "globex"
)

var (
	// setupAt is when the standard world's accounts, users and licences are
	// created: before every business time the tests use.
	setupAt = time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC)
	// The practitioner licences' term [termFrom, termUntil).
	termFrom  = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	termUntil = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)

	// t0 is the first assignment of the worked example; windowCloses and
	// lockedUntil are the timers it opens (C2).
	t0           = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	windowCloses = time.Date(2026, 1, 6, 0, 0, 0, 0, time.UTC)
	lockedUntil  = time.Date(2026, 2, 5, 0, 0, 0, 0, time.UTC)
)

// world holds the aggregate states of a test, folded from the events the
// commands emit, keyed the way the write side keys their subjects.
type world struct {
	accounts map[string]*commands.Account    // account id
	users    map[string]*commands.User       // account/email
	owners   map[string]*commands.EmailOwner // email (the _global account)
	licenses map[string]*commands.License    // account/licence id
	sessions map[string]*commands.Session    // account/email
	log      []events.Event                  // every event applied, in order
}

func key(account, id string) string { return account + "/" + id }

func newWorld() *world {
	return &world{
		sessions: map[string]*commands.Session{},
		accounts: map[string]*commands.Account{},
		users:    map[string]*commands.User{},
		owners:   map[string]*commands.EmailOwner{},
		licenses: map[string]*commands.License{},
	}
}

// stdWorld is a world with accounts acme and globex and these users, all
// registered at setupAt:
//
//	acme:   a@x.com DE, b@x.com DE, c@x.com FR, d@x.com AT, n@x.com (no country)
//	globex: g@x.com DE
//
// and these acme licences: P1 and P2 practitioner [termFrom, termUntil) for
// revit; C1 commercial with 5 seats; T1 trial.
func stdWorld(tb testing.TB) *world {
	tb.Helper()
	w := newWorld()
	for _, id := range []string{acct, other} {
		w.createAccount(tb, id)
	}
	for _, u := range []struct{ account, email, country string }{
		{acct, "a@x.com", "DE"},
		{acct, "b@x.com", "DE"},
		{acct, "c@x.com", "FR"},
		{acct, "d@x.com", "AT"},
		{acct, "n@x.com", ""},
		{other, "g@x.com", "DE"},
	} {
		w.register(tb, u.account, u.email, u.country, setupAt)
	}
	w.createLicense(tb, "P1", events.KindPractitioner, 0, termFrom, termUntil)
	w.createLicense(tb, "P2", events.KindPractitioner, 0, termFrom, termUntil)
	w.createLicense(tb, "C1", events.KindCommercial, 5, termFrom, termUntil)
	w.createLicense(tb, "T1", events.KindTrial, 0, termFrom, termUntil)
	return w
}

func (w *world) createAccount(tb testing.TB, id string) {
	tb.Helper()
	c, err := commands.CreateAccount{ID: id, Name: id + " GmbH", FulfillmentContact: "admin@" + id + ".com", At: setupAt}.Normalize()
	if err != nil {
		tb.Fatalf("CreateAccount.Normalize: %v", err)
	}
	w.must(tb)(c.Decide(w.account(id), setupAt))
}

func (w *world) register(tb testing.TB, account, email, country string, at time.Time) {
	tb.Helper()
	c, err := commands.RegisterUser{Account: account, Email: email, EntitlementCountry: country, At: at}.Normalize()
	if err != nil {
		tb.Fatalf("RegisterUser.Normalize: %v", err)
	}
	w.must(tb)(c.Decide(w.account(account), w.user(account, c.Email), w.owner(c.Email), commands.DomainOwner{}, at))
}

func (w *world) createLicense(tb testing.TB, id, kind string, seats int, from, until time.Time) {
	tb.Helper()
	c, err := commands.CreateLicense{Account: acct, ID: id, Kind: kind, Products: []string{"revit"}, Seats: seats,
		ValidFrom: from, ValidUntil: until, At: setupAt}.Normalize()
	if err != nil {
		tb.Fatalf("CreateLicense.Normalize: %v", err)
	}
	w.must(tb)(c.Decide(w.account(acct), w.license(acct, id), setupAt))
}

// The commands of rules C, decided with the world's states and the ledger's
// clock at the business time.

func (w *world) assign(id, email string, at time.Time) ([]events.Event, error) {
	return commands.Assign{Account: acct, LicenseID: id, Email: email, At: at}.
		Decide(w.license(acct, id), w.user(acct, email), at)
}

func (w *world) reassign(id, email string, at time.Time) ([]events.Event, error) {
	lic := w.license(acct, id)
	return commands.Reassign{Account: acct, LicenseID: id, Email: email, At: at}.
		Decide(lic, w.user(acct, lic.Assignee), w.user(acct, email), at)
}

func (w *world) unassign(id string, at time.Time) ([]events.Event, error) {
	lic := w.license(acct, id)
	return commands.Unassign{Account: acct, LicenseID: id, At: at}.Decide(lic, w.user(acct, lic.Assignee), at)
}

func (w *world) removeUser(account, email string, at time.Time) ([]events.Event, error) {
	u := w.user(account, email)
	var lic commands.License
	if u.LicenseID != "" {
		lic = w.license(account, u.LicenseID)
	}
	return commands.RemoveUser{Account: account, Email: email, At: at}.Decide(u, w.owner(email), lic, at)
}

func (w *world) renew(id string, until, at time.Time) ([]events.Event, error) {
	return commands.RenewLicense{Account: acct, ID: id, ValidUntil: until, At: at}.Decide(w.license(acct, id), at)
}

// The states, by value: a zero state for an aggregate without events.

func (w *world) account(id string) commands.Account {
	if a := w.accounts[id]; a != nil {
		return *a
	}
	return commands.Account{}
}

func (w *world) user(account, email string) commands.User {
	if u := w.users[key(account, email)]; u != nil {
		return *u
	}
	return commands.User{}
}

func (w *world) owner(email string) commands.EmailOwner {
	if o := w.owners[email]; o != nil {
		return *o
	}
	return commands.EmailOwner{}
}

func (w *world) license(account, id string) commands.License {
	if l := w.licenses[key(account, id)]; l != nil {
		return *l
	}
	return commands.License{}
}

// apply checks that every event encodes (checkMarshal) and folds it into the
// state its aggregate names.
func (w *world) apply(tb testing.TB, evs []events.Event) {
	tb.Helper()
	for _, e := range evs {
		checkMarshal(tb, e)
		switch e.Aggregate() {
		case events.AggregateAccount:
			if w.accounts[e.AggregateID] == nil {
				w.accounts[e.AggregateID] = &commands.Account{}
			}
			w.accounts[e.AggregateID].Apply(e)
		case events.AggregateUser:
			k := key(e.Account, e.AggregateID)
			if w.users[k] == nil {
				w.users[k] = &commands.User{}
			}
			w.users[k].Apply(e)
		case events.AggregateEmail:
			if e.Account != events.GlobalAccount {
				tb.Errorf("%s on account %q: got email aggregate outside %q", e.Type(), e.Account, events.GlobalAccount)
			}
			if w.owners[e.AggregateID] == nil {
				w.owners[e.AggregateID] = &commands.EmailOwner{}
			}
			w.owners[e.AggregateID].Apply(e)
		case events.AggregateLicense:
			k := key(e.Account, e.AggregateID)
			if w.licenses[k] == nil {
				w.licenses[k] = &commands.License{}
			}
			w.licenses[k].Apply(e)
		case events.AggregateAccess, events.AggregateCheck, events.AggregateUsage, events.AggregateAlert, events.AggregateReminder,
			events.AggregateToken, events.AggregateDomain:
			// Logs without state the rule tests read back.
		case events.AggregateSession:
			k := key(e.Account, e.AggregateID)
			if w.sessions[k] == nil {
				w.sessions[k] = &commands.Session{}
			}
			w.sessions[k].Apply(e)
		default:
			tb.Fatalf("%s: unknown aggregate %q", e.Type(), e.Aggregate())
		}
		w.log = append(w.log, e)
	}
}

// must returns a function that takes a Decide's answer, fails the test on a
// rejection and otherwise applies the events and returns them:
//
//	evs := w.must(t)(w.assign("P1", "a@x.com", t0))
func (w *world) must(tb testing.TB) func([]events.Event, error) []events.Event {
	tb.Helper()
	return func(evs []events.Event, err error) []events.Event {
		tb.Helper()
		if err != nil {
			tb.Fatalf("got rejection %v, want events", err)
		}
		w.apply(tb, evs)
		return evs
	}
}

// rejected returns a function that takes a Decide's answer and checks that it
// is a rejection with code want, with a message and no events. It returns the
// *commands.Error for further checks on details.
//
//	e := rejected(t, commands.CodeLicenseLocked)(w.reassign("P1", "b@x.com", windowCloses))
func rejected(tb testing.TB, want string) func([]events.Event, error) *commands.Error {
	tb.Helper()
	return func(evs []events.Event, err error) *commands.Error {
		tb.Helper()
		if got := commands.CodeOf(err); got != want {
			tb.Fatalf("code: got %q (err %v), want %q", got, err, want)
		}
		if len(evs) != 0 {
			tb.Errorf("events: got %d, want none: a rejection appends nothing", len(evs))
		}
		var e *commands.Error
		if !errors.As(err, &e) {
			tb.Fatalf("error: got %T, want *commands.Error", err)
		}
		if e.Message == "" {
			tb.Errorf("message: got empty, want one a person can act on")
		}
		return e
	}
}

// checkMarshal fills the metadata the write side would add and checks that
// the event encodes, matches its JSON Schema and decodes back to the same
// bytes.
func checkMarshal(tb testing.TB, e events.Event) {
	tb.Helper()
	e.ID = events.NewID()
	e.Actor = "test"
	e.CommandID = "c1"
	e.CorrelationID = "c1"
	e.RecordedAt = e.OccurredAt
	raw, err := events.Marshal(e)
	if err != nil {
		tb.Errorf("Marshal(%s): got %v, want nil", e.Type(), err)
		return
	}
	if err := events.CheckSchema(raw); err != nil {
		tb.Errorf("CheckSchema(%s): got %v, want nil; event %s", e.Type(), err, raw)
	}
	back, err := events.Unmarshal(raw)
	if err != nil {
		tb.Errorf("Unmarshal(%s): got %v, want nil; event %s", e.Type(), err, raw)
		return
	}
	again, err := events.Marshal(back)
	if err != nil || !bytes.Equal(again, raw) {
		tb.Errorf("Marshal(Unmarshal(%s)): got %s, %v; want %s, nil", e.Type(), again, err, raw)
	}
}

// only returns the single event of type T in evs, failing the test if there
// is not exactly one.
func only[T events.Data](tb testing.TB, evs []events.Event) (events.Event, T) {
	tb.Helper()
	var (
		found events.Event
		data  T
		n     int
	)
	for _, e := range evs {
		if d, ok := e.Data.(T); ok {
			found, data, n = e, d, n+1
		}
	}
	if n != 1 {
		tb.Fatalf("events of type %T: got %d in %v, want 1", data, n, types(evs))
	}
	return found, data
}

func types(evs []events.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Type()
	}
	return out
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// wantTimers checks a licence state's timers.
func wantTimers(tb testing.TB, lic commands.License, opened, closes, locked time.Time) {
	tb.Helper()
	if !lic.WindowOpenedAt.Equal(opened) {
		tb.Errorf("window_opened_at: got %v, want %v", lic.WindowOpenedAt, opened)
	}
	if !lic.WindowClosesAt.Equal(closes) {
		tb.Errorf("window_closes_at: got %v, want %v", lic.WindowClosesAt, closes)
	}
	if !lic.LockedUntil.Equal(locked) {
		tb.Errorf("locked_until: got %v, want %v", lic.LockedUntil, locked)
	}
}

// wantDetail checks one detail of a rejection.
func wantDetail(tb testing.TB, e *commands.Error, k string, want any) {
	tb.Helper()
	if got, ok := e.Details[k]; !ok || got != want {
		tb.Errorf("details[%q]: got %v (present %v), want %v", k, got, ok, want)
	}
}

// session returns the session state of email in account (zero if none).
func (w *world) session(account, email string) commands.Session {
	if s := w.sessions[key(account, email)]; s != nil {
		return *s
	}
	return commands.Session{}
}
