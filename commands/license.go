package commands

import (
	"time"

	"github.com/entledger/ledger/events"
)

// The practitioner licence's timers (C2): an assignment that opens a window
// lets the licence move freely for WindowDuration, then locks it until WindowDuration + LockDuration
// after the window opened. Exact durations, no calendar arithmetic.
const (
	WindowDuration = 24 * time.Hour
	LockDuration   = 30 * 24 * time.Hour
)

// MaxSeats bounds a commercial licence's seats.
const MaxSeats = 1_000_000

// CreateLicense records a licence sold to an account (B1).
type CreateLicense struct {
	Account    string
	ID         string
	Kind       string
	Products   []string
	Seats      int
	ValidFrom  time.Time
	ValidUntil time.Time
	// Country is the pool a commercial licence's seats serve (G9): an ISO
	// 3166-1 alpha-2 code, or "" for global seats. Other kinds have none.
	Country string
	At      time.Time
}

// Normalize validates the command and returns it in canonical form.
func (c CreateLicense) Normalize() (CreateLicense, error) {
	if err := AccountID("account", c.Account); err != nil {
		return c, err
	}
	if err := LicenseID("id", c.ID); err != nil {
		return c, err
	}
	switch c.Kind {
	case events.KindCommercial:
		if c.Seats < 1 || c.Seats > MaxSeats {
			return c, Invalid("seats", "a commercial licence needs 1 to %d seats", MaxSeats)
		}
	case events.KindPractitioner, events.KindTrial:
		if c.Seats != 0 {
			return c, Invalid("seats", "only commercial licences have seats; a %s licence has none", c.Kind)
		}
		if c.Country != "" {
			return c, Invalid("country", "only a commercial licence's seats belong to a country; a %s licence has none", c.Kind)
		}
	default:
		return c, Invalid("kind", "%q is not a licence kind: want practitioner, commercial or trial", c.Kind)
	}
	var err error
	if c.Country, err = Country("country", c.Country, true); err != nil {
		return c, err
	}
	if c.Products, err = Products("products", c.Products); err != nil {
		return c, err
	}
	if c.ValidFrom, err = Instant("valid_from", c.ValidFrom); err != nil {
		return c, err
	}
	if c.ValidUntil, err = Instant("valid_until", c.ValidUntil); err != nil {
		return c, err
	}
	if !c.ValidFrom.Before(c.ValidUntil) {
		return c, Invalid("valid_until", "must be after valid_from")
	}
	return c, nil
}

// Decide creates the licence unless one with its id exists in the account.
func (c CreateLicense) Decide(acct Account, lic License, now time.Time) ([]events.Event, error) {
	if !acct.Exists() {
		return nil, accountNotFound(c.Account)
	}
	if lic.Exists() {
		return nil, Reject(CodeLicenseExists, "licence %q already exists in account %q", c.ID, c.Account).
			With("license_id", c.ID)
	}
	at, err := businessTime(c.At, now)
	if err != nil {
		return nil, err
	}
	return []events.Event{event(c.Account, c.ID, at, events.LicenseCreated{
		ID: c.ID, Kind: c.Kind, Products: c.Products, Seats: c.Seats, ValidFrom: c.ValidFrom, ValidUntil: c.ValidUntil,
		Country: events.Country(c.Country),
	})}, nil
}

// RenewLicense extends a licence's term, keeping its assignment and timers (B2).
type RenewLicense struct {
	Account    string
	ID         string
	ValidUntil time.Time
	At         time.Time
}

// Normalize validates the command and returns it in canonical form.
func (c RenewLicense) Normalize() (RenewLicense, error) {
	if err := AccountID("account", c.Account); err != nil {
		return c, err
	}
	if err := LicenseID("id", c.ID); err != nil {
		return c, err
	}
	var err error
	c.ValidUntil, err = Instant("valid_until", c.ValidUntil)
	return c, err
}

// Decide extends valid_until; a renewal never shortens the term (B2).
func (c RenewLicense) Decide(lic License, now time.Time) ([]events.Event, error) {
	if !lic.Exists() {
		return nil, licenseNotFound(c.Account, c.ID)
	}
	if !c.ValidUntil.After(lic.ValidUntil) {
		return nil, Reject(CodeRenewalNotLater, "a renewal must extend the term: valid_until %s is not after the current %s",
			c.ValidUntil.Format(time.RFC3339), lic.ValidUntil.Format(time.RFC3339)).With("valid_until", lic.ValidUntil)
	}
	at, err := businessTime(c.At, now, lic.LastEventAt)
	if err != nil {
		return nil, err
	}
	return []events.Event{event(c.Account, c.ID, at, events.LicenseRenewed{
		ID: c.ID, ValidUntil: c.ValidUntil, PreviousValidUntil: lic.ValidUntil,
	})}, nil
}

// CancelLicense cancels a licence sold by mistake from EffectiveAt (H1): its
// term, and with it its seats and entitlements, end there. Reports as of a
// stream sequence before the cancellation still show the licence as it was.
type CancelLicense struct {
	Account     string
	ID          string
	EffectiveAt time.Time
	Reason      string
	At          time.Time
}

// Normalize validates the command.
func (c CancelLicense) Normalize() (CancelLicense, error) {
	if err := AccountID("account", c.Account); err != nil {
		return c, err
	}
	if err := LicenseID("id", c.ID); err != nil {
		return c, err
	}
	var err error
	if c.EffectiveAt, err = Instant("effective_at", c.EffectiveAt); err != nil {
		return c, err
	}
	if c.EffectiveAt.IsZero() {
		return c, Invalid("effective_at", "required: when the licence's term ends")
	}
	c.Reason, err = Name("reason", c.Reason)
	return c, err
}

// Decide ends the licence's term at EffectiveAt, which must lie inside it.
func (c CancelLicense) Decide(lic License, now time.Time) ([]events.Event, error) {
	if !lic.Exists() {
		return nil, licenseNotFound(c.Account, c.ID)
	}
	if c.EffectiveAt.Before(lic.ValidFrom) || !c.EffectiveAt.Before(lic.ValidUntil) {
		return nil, Invalid("effective_at", "%s is outside the licence's term [%s, %s): a cancellation ends the term earlier",
			c.EffectiveAt.Format(time.RFC3339), lic.ValidFrom.Format(time.RFC3339), lic.ValidUntil.Format(time.RFC3339)).
			With("valid_from", lic.ValidFrom).With("valid_until", lic.ValidUntil)
	}
	at, err := businessTime(c.At, now, lic.LastEventAt)
	if err != nil {
		return nil, err
	}
	return []events.Event{event(c.Account, c.ID, at, events.LicenseCancelled{
		ID: c.ID, EffectiveAt: c.EffectiveAt, PreviousValidUntil: lic.ValidUntil, Reason: c.Reason})}, nil
}

// Assign gives an unassigned practitioner licence to a user (C1, C2).
type Assign struct {
	Account   string
	LicenseID string
	Email     string
	At        time.Time
}

// Normalize validates the command and returns it in canonical form.
func (c Assign) Normalize() (Assign, error) {
	if err := AccountID("account", c.Account); err != nil {
		return c, err
	}
	if err := LicenseID("license_id", c.LicenseID); err != nil {
		return c, err
	}
	var err error
	c.Email, err = NormalizeEmail("email", c.Email)
	return c, err
}

// Decide checks C1 in order (the licence, its timers, then the user) and
// assigns, opening a new window when none is open and no lock runs (C2).
func (c Assign) Decide(lic License, user User, now time.Time) ([]events.Event, error) {
	if err := practitionerLicense(c.Account, c.LicenseID, lic); err != nil {
		return nil, err
	}
	if lic.Assignee != "" {
		return nil, Reject(CodeLicenseAssigned, "licence %q is assigned to %s; use reassign", lic.ID, lic.Assignee).
			With("assignee", lic.Assignee)
	}
	at, err := businessTime(c.At, now, lic.LastEventAt, user.LastEventAt)
	if err != nil {
		return nil, err
	}
	if err := activeAt(lic, at); err != nil {
		return nil, err
	}
	if lic.AssignLockAt(at) == LockLocked {
		return nil, locked(lic)
	}
	opened, closes, locked, isNew, err := timersFor(lic, at)
	if err != nil {
		return nil, err
	}
	if err := canHold(c.Account, c.Email, user, lic.ID); err != nil {
		return nil, err
	}
	return []events.Event{
		event(c.Account, lic.ID, at, events.LicenseAssigned{
			ID: lic.ID, Email: c.Email, NewWindow: isNew,
			WindowOpenedAt: opened, WindowClosesAt: closes, LockedUntil: locked,
		}),
		event(c.Account, c.Email, at, events.UserLicenseAttached{Email: c.Email, LicenseID: lic.ID}),
	}, nil
}

// Reassign moves an assigned practitioner licence to another user (C3–C6).
type Reassign struct {
	Account   string
	LicenseID string
	Email     string
	At        time.Time
}

// Normalize validates the command and returns it in canonical form.
func (c Reassign) Normalize() (Reassign, error) {
	a, err := Assign(c).Normalize()
	return Reassign(a), err
}

// Decide moves the licence from its assignee (prev) to user. Inside the
// window the window is kept; from window_closes_at to locked_until the move
// is rejected license_locked; at or after locked_until it opens a new window
// and lock (C2–C4).
func (c Reassign) Decide(lic License, prev, user User, now time.Time) ([]events.Event, error) {
	if err := practitionerLicense(c.Account, c.LicenseID, lic); err != nil {
		return nil, err
	}
	if lic.Assignee == "" {
		return nil, Reject(CodeNotAssigned, "licence %q is not assigned; use assign", lic.ID)
	}
	if lic.Assignee == c.Email {
		return nil, Reject(CodeAlreadyAssigned, "licence %q is already assigned to %s", lic.ID, c.Email).
			With("assignee", c.Email)
	}
	at, err := businessTime(c.At, now, lic.LastEventAt, prev.LastEventAt, user.LastEventAt)
	if err != nil {
		return nil, err
	}
	if err := notCheckedOut(lic, at); err != nil {
		return nil, err
	}
	if err := activeAt(lic, at); err != nil {
		return nil, err
	}
	opened, closes, locked, isNew, err := timersFor(lic, at)
	if err != nil {
		return nil, err
	}
	if err := canHold(c.Account, c.Email, user, lic.ID); err != nil {
		return nil, err
	}
	return []events.Event{
		event(c.Account, lic.ID, at, events.LicenseReassigned{
			ID: lic.ID, Email: c.Email, PreviousEmail: lic.Assignee, NewWindow: isNew,
			WindowOpenedAt: opened, WindowClosesAt: closes, LockedUntil: locked,
		}),
		event(c.Account, lic.Assignee, at, events.UserLicenseDetached{
			Email: lic.Assignee, LicenseID: lic.ID, Reason: events.ReasonReassigned,
		}),
		event(c.Account, c.Email, at, events.UserLicenseAttached{Email: c.Email, LicenseID: lic.ID}),
	}, nil
}

// Unassign takes a practitioner licence away from its assignee (C3, C4).
type Unassign struct {
	Account   string
	LicenseID string
	At        time.Time
}

// Normalize validates the command and returns it in canonical form.
func (c Unassign) Normalize() (Unassign, error) {
	if err := AccountID("account", c.Account); err != nil {
		return c, err
	}
	return c, LicenseID("license_id", c.LicenseID)
}

// Decide unassigns inside the window or at/after locked_until; it opens
// nothing, and the timers keep running (C3, C4).
func (c Unassign) Decide(lic License, prev User, now time.Time) ([]events.Event, error) {
	if err := practitionerLicense(c.Account, c.LicenseID, lic); err != nil {
		return nil, err
	}
	if lic.Assignee == "" {
		return nil, Reject(CodeNotAssigned, "licence %q is not assigned", lic.ID)
	}
	at, err := businessTime(c.At, now, lic.LastEventAt, prev.LastEventAt)
	if err != nil {
		return nil, err
	}
	if err := notCheckedOut(lic, at); err != nil {
		return nil, err
	}
	if lic.LockAt(at) == LockLocked {
		return nil, locked(lic)
	}
	return []events.Event{
		event(c.Account, lic.ID, at, events.LicenseUnassigned{
			ID: lic.ID, PreviousEmail: lic.Assignee, Reason: events.ReasonAdmin,
			WindowClosesAt: lic.WindowClosesAt, LockedUntil: lic.LockedUntil,
		}),
		event(c.Account, lic.Assignee, at, events.UserLicenseDetached{
			Email: lic.Assignee, LicenseID: lic.ID, Reason: events.ReasonAdmin,
		}),
	}, nil
}

func practitionerLicense(account, id string, lic License) error {
	if !lic.Exists() {
		return licenseNotFound(account, id)
	}
	if lic.Kind != events.KindPractitioner {
		return Reject(CodeNotPractitioner, "licence %q is a %s licence; only practitioner licences are assigned to a user",
			id, lic.Kind).With("kind", lic.Kind)
	}
	return nil
}

func activeAt(lic License, at time.Time) error {
	if !lic.ActiveAt(at) {
		return Reject(CodeLicenseInactive, "licence %q is not active at %s: its term is [%s, %s)", lic.ID,
			at.Format(time.RFC3339), lic.ValidFrom.Format(time.RFC3339), lic.ValidUntil.Format(time.RFC3339)).
			With("valid_from", lic.ValidFrom).With("valid_until", lic.ValidUntil)
	}
	return nil
}

// timersFor applies C2–C4 at time at: keep an open window, reject inside the
// lock, or open a new window and lock.
func timersFor(lic License, at time.Time) (opened, closes, lockedUntil time.Time, isNew bool, err error) {
	switch lic.LockAt(at) {
	case LockWindowOpen:
		return lic.WindowOpenedAt, lic.WindowClosesAt, lic.LockedUntil, false, nil
	case LockLocked:
		return time.Time{}, time.Time{}, time.Time{}, false, locked(lic)
	}
	return at, at.Add(WindowDuration), at.Add(WindowDuration + LockDuration), true, nil
}

// notCheckedOut applies C6: a licence checked out for offline use cannot be
// reassigned or unassigned until it is checked in or the checkout expires.
func notCheckedOut(lic License, at time.Time) error {
	if lic.CheckedOutAt(at) {
		return Reject(CodeLicenseCheckedOut, "licence %q is checked out to machine %q until %s; check it in first",
			lic.ID, lic.CheckoutMachine, lic.CheckoutUntil.Format(time.RFC3339Nano)).
			With("machine_id", lic.CheckoutMachine).With("until", lic.CheckoutUntil)
	}
	return nil
}

func locked(lic License) *Error {
	return Reject(CodeLicenseLocked, "licence %q is locked until %s: its 24-hour assignment window closed at %s",
		lic.ID, lic.LockedUntil.Format(time.RFC3339), lic.WindowClosesAt.Format(time.RFC3339)).
		With("locked_until", lic.LockedUntil).With("window_closes_at", lic.WindowClosesAt)
}

// canHold checks that user may receive licence id (C1, A3).
func canHold(account, email string, user User, id string) error {
	if !user.Registered {
		return userNotFound(account, email)
	}
	if user.EntitlementCountry == "" {
		return Reject(CodeEntitlementCountryMissing,
			"%s has no entitlement country; set it before assigning a licence", email).With("email", email)
	}
	if user.LicenseID != "" && user.LicenseID != id {
		return Reject(CodeUserAlreadyLicensed, "%s already holds practitioner licence %q", email, user.LicenseID).
			With("email", email).With("license_id", user.LicenseID)
	}
	return nil
}

func licenseNotFound(account, id string) *Error {
	return Reject(CodeLicenseNotFound, "licence %q does not exist in account %q", id, account).With("license_id", id)
}
