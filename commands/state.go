package commands

import (
	"time"

	"github.com/entledger/ledger/events"
)

// The aggregate states below are folds of their events: Apply is the only way
// they change, so the same events always give the same state. Projections
// store them; the write side decides against them.

// Account is the state of an account aggregate (A1).
type Account struct {
	ID                  string    `json:"id"`
	Name                string    `json:"name"`
	FulfillmentContacts []string  `json:"fulfillment_contacts"`
	Admins              []string  `json:"admins"`
	CreatedAt           time.Time `json:"created_at"`
	LastEventAt         time.Time `json:"last_event_at"`
}

// Exists reports whether the account was created.
func (a *Account) Exists() bool { return a.ID != "" }

// Apply folds one event of the account's subject into the state.
func (a *Account) Apply(e events.Event) {
	a.LastEventAt = e.OccurredAt
	if d, ok := e.Data.(events.AccountCreated); ok {
		a.ID, a.Name, a.CreatedAt = d.ID, d.Name, e.OccurredAt
		a.FulfillmentContacts, a.Admins = d.FulfillmentContacts, d.Admins
	}
}

// User is the state of a user aggregate: one email in one account (A2–A4).
type User struct {
	Account            string    `json:"account"`
	Email              string    `json:"email"`
	Registered         bool      `json:"registered"`
	EntitlementCountry string    `json:"entitlement_country"`
	LicenseID          string    `json:"license_id"`
	RegisteredAt       time.Time `json:"registered_at"`
	LastEventAt        time.Time `json:"last_event_at"`
	// Holdings are the practitioner licences the email held, and when: usage
	// is classified as of its started_at (F4). They outlive a removal, so
	// late usage from before it is still classified right.
	Holdings []Holding `json:"holdings,omitempty"`
	// Countries are the entitlement countries the email was given in the
	// account, from when, in stream order: usage is recorded with the
	// country of its started_at (G9). They outlive a removal, like
	// Holdings.
	Countries []CountrySince `json:"countries,omitempty"`
}

// CountrySince is an entitlement country given to a user at From ("": the
// user was registered without one).
type CountrySince struct {
	Country string    `json:"country"`
	From    time.Time `json:"from"`
}

// CountryAt is the user's entitlement country at t, as the events applied
// so far tell it (G9): the last one given at or before t. Before the first
// one given it is that first one, the only country the ledger knows for
// the user then (a user registered today may send last month's usage).
func (u *User) CountryAt(t time.Time) string {
	for i := len(u.Countries) - 1; i >= 0; i-- {
		if !t.Before(u.Countries[i].From) {
			return u.Countries[i].Country
		}
	}
	if len(u.Countries) > 0 {
		return u.Countries[0].Country
	}
	return u.EntitlementCountry
}

// closeHolding ends the open holding of licence id (any licence if "") at t.
func (u *User) closeHolding(id string, t time.Time) {
	for i := range u.Holdings {
		if h := &u.Holdings[i]; h.To.IsZero() && (id == "" || h.LicenseID == id) {
			h.To = t
		}
	}
}

// Apply folds one event of the user's subject into the state.
func (u *User) Apply(e events.Event) {
	u.LastEventAt = e.OccurredAt
	switch d := e.Data.(type) {
	case events.UserRegistered:
		*u = User{Account: e.Account, Email: d.Email, Registered: true, EntitlementCountry: d.EntitlementCountry,
			RegisteredAt: e.OccurredAt, LastEventAt: e.OccurredAt, Holdings: u.Holdings,
			Countries: append(u.Countries, CountrySince{Country: d.EntitlementCountry, From: e.OccurredAt})}
	case events.UserCountryChanged:
		u.EntitlementCountry = d.EntitlementCountry
		u.Countries = append(u.Countries, CountrySince{Country: d.EntitlementCountry, From: e.OccurredAt})
	case events.UserRemoved:
		u.Registered, u.LicenseID, u.EntitlementCountry = false, "", ""
		u.closeHolding("", e.OccurredAt)
	case events.UserLicenseAttached:
		u.LicenseID = d.LicenseID
		u.Holdings = append(u.Holdings, Holding{LicenseID: d.LicenseID, From: e.OccurredAt})
	case events.UserLicenseDetached:
		if u.LicenseID == d.LicenseID {
			u.LicenseID = ""
		}
		u.closeHolding(d.LicenseID, e.OccurredAt)
	}
}

// EmailOwner is the _global record of which account an email is registered
// in (A2). Account is empty while the email is free.
type EmailOwner struct {
	Email       string    `json:"email"`
	Account     string    `json:"account"`
	LastEventAt time.Time `json:"last_event_at"`
}

// Apply folds one event of the email's subject into the state.
func (o *EmailOwner) Apply(e events.Event) {
	o.LastEventAt = e.OccurredAt
	switch d := e.Data.(type) {
	case events.EmailClaimed:
		o.Email, o.Account = d.Email, d.Account
	case events.EmailReleased:
		o.Email, o.Account = d.Email, ""
	}
}

// License is the state of a licence aggregate (B, C).
type License struct {
	Account    string    `json:"account"`
	ID         string    `json:"id"`
	Kind       string    `json:"kind"`
	Products   []string  `json:"products"`
	Seats      int       `json:"seats"`
	ValidFrom  time.Time `json:"valid_from"`
	ValidUntil time.Time `json:"valid_until"`
	// Country is the pool a commercial licence's seats serve; "" for
	// global seats (G9).
	Country string `json:"country,omitempty"`

	Assignee       string    `json:"assignee"`
	AssignedAt     time.Time `json:"assigned_at"`
	WindowOpenedAt time.Time `json:"window_opened_at"`
	WindowClosesAt time.Time `json:"window_closes_at"`
	LockedUntil    time.Time `json:"locked_until"`
	// UnassignedSince is when the licence last became unassigned: its
	// creation, or its last unassignment (C7). Zero while assigned.
	UnassignedSince time.Time `json:"unassigned_since"`
	// UnassignedReason is why it last became unassigned ("" while assigned
	// or never assigned).
	UnassignedReason string `json:"unassigned_reason,omitempty"`

	// The offline checkout (F6), live while now < CheckoutUntil.
	CheckoutEmail    string    `json:"checkout_email,omitempty"`
	CheckoutMachine  string    `json:"checkout_machine,omitempty"`
	CheckoutUntil    time.Time `json:"checkout_until"`
	CheckoutIssuedAt time.Time `json:"checkout_issued_at"`
	CheckoutID       string    `json:"checkout_id,omitempty"` // the license.checked_out event's id

	CreatedAt   time.Time `json:"created_at"`
	LastEventAt time.Time `json:"last_event_at"`
}

// Exists reports whether the licence was created.
func (l *License) Exists() bool { return l.ID != "" }

// ActiveAt reports whether the licence's term covers t (B2).
func (l *License) ActiveAt(t time.Time) bool {
	return !t.Before(l.ValidFrom) && t.Before(l.ValidUntil)
}

// Lock describes where a time falls among a practitioner licence's timers.
type Lock int

const (
	// LockNone: no window is open and no lock runs; an assignment opens a new
	// window (C2, C4).
	LockNone Lock = iota
	// LockWindowOpen: inside [window_opened_at, window_closes_at): free moves (C3).
	LockWindowOpen
	// LockLocked: inside [window_closes_at, locked_until): no moves (C3).
	LockLocked
)

// String is the name used in the API's lock_state.
func (k Lock) String() string {
	switch k {
	case LockWindowOpen:
		return "window_open"
	case LockLocked:
		return "locked"
	}
	return "none"
}

// LockAt classifies t against the licence's timers. Intervals are half-open:
// exactly at window_closes_at the lock has begun, exactly at locked_until it
// has ended.
func (l *License) LockAt(t time.Time) Lock {
	switch {
	case l.LockedUntil.IsZero() || !t.Before(l.LockedUntil):
		return LockNone
	case t.Before(l.WindowClosesAt):
		return LockWindowOpen
	default:
		return LockLocked
	}
}

// Apply folds one event of the licence's subject into the state.
func (l *License) Apply(e events.Event) {
	l.LastEventAt = e.OccurredAt
	switch d := e.Data.(type) {
	case events.LicenseCreated:
		*l = License{Account: e.Account, ID: d.ID, Kind: d.Kind, Products: d.Products, Seats: d.Seats,
			ValidFrom: d.ValidFrom, ValidUntil: d.ValidUntil, Country: string(d.Country), CreatedAt: e.OccurredAt,
			LastEventAt: e.OccurredAt}
		if d.Kind == events.KindPractitioner {
			l.UnassignedSince = e.OccurredAt
		}
	case events.LicenseRenewed:
		l.ValidUntil = d.ValidUntil
	case events.LicenseCancelled:
		l.ValidUntil = d.EffectiveAt
	case events.LicenseAssigned:
		l.Assignee, l.AssignedAt, l.UnassignedSince, l.UnassignedReason = d.Email, e.OccurredAt, time.Time{}, ""
		l.WindowOpenedAt, l.WindowClosesAt, l.LockedUntil = d.WindowOpenedAt, d.WindowClosesAt, d.LockedUntil
	case events.LicenseReassigned:
		l.Assignee, l.AssignedAt = d.Email, e.OccurredAt
		l.WindowOpenedAt, l.WindowClosesAt, l.LockedUntil = d.WindowOpenedAt, d.WindowClosesAt, d.LockedUntil
	case events.LicenseUnassigned:
		l.Assignee, l.AssignedAt, l.UnassignedSince, l.UnassignedReason = "", time.Time{}, e.OccurredAt, d.Reason
		l.clearCheckout() // only a removed user's licence is unassigned while checked out
	case events.LicenseCheckedOut:
		l.CheckoutEmail, l.CheckoutMachine, l.CheckoutUntil, l.CheckoutID = d.Email, d.MachineID, d.Until, e.ID
		// A token is valid from when it was recorded, or from its business
		// time if that is earlier: never from a time still to come.
		l.CheckoutIssuedAt = e.OccurredAt
		if !e.RecordedAt.IsZero() && e.RecordedAt.Before(e.OccurredAt) {
			l.CheckoutIssuedAt = e.RecordedAt
		}
	case events.LicenseCheckedIn:
		l.clearCheckout()
	}
}

func (l *License) clearCheckout() {
	l.CheckoutEmail, l.CheckoutMachine, l.CheckoutUntil, l.CheckoutIssuedAt, l.CheckoutID = "", "", time.Time{}, time.Time{}, ""
}

// CheckedOutAt reports whether an offline checkout is live at t (F6): until
// its until, exclusive, unless checked in.
func (l *License) CheckedOutAt(t time.Time) bool {
	return !l.CheckoutUntil.IsZero() && t.Before(l.CheckoutUntil)
}

// AssignLockAt is LockAt for assigning the unassigned licence at t: a licence
// taken from a removed user stays locked for everyone else until
// locked_until, even inside its window (A4: "nobody else can be assigned
// before locked_until").
func (l *License) AssignLockAt(t time.Time) Lock {
	if l.UnassignedReason == events.ReasonUserRemoved && !l.LockedUntil.IsZero() && t.Before(l.LockedUntil) {
		return LockLocked
	}
	return l.LockAt(t)
}

// AssignableFrom is, for an unassigned licence, the earliest time from which
// it can be assigned without interruption up to now (C7): locked_until while
// the lock runs; otherwise the start of the current assignable stretch, which
// is the later of unassigned_since, a lock that has ended since, and
// valid_from.
func (l *License) AssignableFrom(now time.Time) time.Time {
	if l.AssignLockAt(now) == LockLocked {
		return l.LockedUntil
	}
	t := l.UnassignedSince
	if !l.LockedUntil.IsZero() && l.LockedUntil.After(t) && !l.LockedUntil.After(now) {
		t = l.LockedUntil
	}
	if t.Before(l.ValidFrom) {
		t = l.ValidFrom
	}
	return t
}
