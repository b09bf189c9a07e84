package commands

import (
	"time"

	"github.com/entledger/ledger/events"
)

// Checkout takes an assigned practitioner licence offline to one machine
// until a time no later than the licence's valid_until (F6).
type Checkout struct {
	Account   string
	LicenseID string
	Email     string
	MachineID string
	Until     time.Time
}

// Normalize validates the command and returns it in canonical form.
func (c Checkout) Normalize() (Checkout, error) {
	if err := AccountID("account", c.Account); err != nil {
		return c, err
	}
	if err := LicenseID("license_id", c.LicenseID); err != nil {
		return c, err
	}
	var err error
	if c.Email, err = NormalizeEmail("email", c.Email); err != nil {
		return c, err
	}
	if err := MachineID("machine_id", c.MachineID); err != nil {
		return c, err
	}
	c.Until, err = Instant("until", c.Until)
	return c, err
}

// Decide checks the licence out: only its assignee may, while it is active,
// not already checked out, and not while the user is signed in on another
// machine, since a checkout is the user's one machine (D1).
func (c Checkout) Decide(lic License, sess Session, now time.Time, ttl time.Duration) ([]events.Event, error) {
	if err := practitionerLicense(c.Account, c.LicenseID, lic); err != nil {
		return nil, err
	}
	if lic.Assignee != c.Email {
		return nil, Reject(CodeNotAssignee, "only the licence's assignee can check it out, and %s is not", c.Email).
			With("email", c.Email)
	}
	at, err := businessTime(time.Time{}, now, lic.LastEventAt, sess.LastEventAt)
	if err != nil {
		return nil, err
	}
	if err := activeAt(lic, at); err != nil {
		return nil, err
	}
	if err := notCheckedOut(lic, at); err != nil {
		return nil, err
	}
	if !c.Until.After(at) || c.Until.After(lic.ValidUntil) {
		return nil, Invalid("until", "a checkout ends after now (%s) and no later than the licence's valid_until (%s)",
			at.Format(time.RFC3339Nano), lic.ValidUntil.Format(time.RFC3339Nano)).With("valid_until", lic.ValidUntil)
	}
	if sess.Live(at, ttl) && sess.MachineID != c.MachineID {
		return nil, elsewhere(c.Email, sess.MachineID, sess.ExpiresAt(ttl))
	}
	// The session subject records the claim on the user's machine, so a
	// racing sign-in elsewhere and this checkout contend for one subject.
	return []events.Event{
		event(c.Account, lic.ID, at, events.LicenseCheckedOut{
			ID: lic.ID, Email: c.Email, MachineID: c.MachineID, Products: lic.Products, Until: c.Until}),
		event(c.Account, c.Email, at, events.SessionCheckedOut{
			Email: c.Email, MachineID: c.MachineID, LicenseID: lic.ID, Until: c.Until}),
	}, nil
}

// Checkin ends a licence's offline checkout early (F6).
type Checkin struct {
	Account   string
	LicenseID string
}

// Normalize validates the command and returns it in canonical form.
func (c Checkin) Normalize() (Checkin, error) {
	if err := AccountID("account", c.Account); err != nil {
		return c, err
	}
	return c, LicenseID("license_id", c.LicenseID)
}

// Decide checks the licence in, or answers not_checked_out. sess is the
// session of the checkout's user (lic.CheckoutEmail), whose machine it frees.
func (c Checkin) Decide(lic License, sess Session, now time.Time) ([]events.Event, error) {
	if err := practitionerLicense(c.Account, c.LicenseID, lic); err != nil {
		return nil, err
	}
	at, err := businessTime(time.Time{}, now, lic.LastEventAt, sess.LastEventAt)
	if err != nil {
		return nil, err
	}
	if !lic.CheckedOutAt(at) {
		return nil, Reject(CodeNotCheckedOut, "licence %q is not checked out", lic.ID)
	}
	return []events.Event{
		event(c.Account, lic.ID, at, events.LicenseCheckedIn{ID: lic.ID, MachineID: lic.CheckoutMachine}),
		event(c.Account, lic.CheckoutEmail, at, events.SessionCheckedIn{
			Email: lic.CheckoutEmail, MachineID: lic.CheckoutMachine, LicenseID: lic.ID}),
	}, nil
}

func elsewhere(email, machine string, until time.Time) *Error {
	return Reject(CodeSignedInElsewhere, "%s is signed in on machine %q until %s; sign out there first", email, machine,
		until.Format(time.RFC3339)).With("machine_id", machine).With("expires_at", until)
}
