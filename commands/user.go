package commands

import (
	"time"

	"github.com/entledger/ledger/events"
)

// RegisterUser adds an email to an account (A2, A3).
type RegisterUser struct {
	Account            string
	Email              string
	EntitlementCountry string // optional at registration (A3)
	At                 time.Time
}

// Normalize validates the command and returns it in canonical form.
func (c RegisterUser) Normalize() (RegisterUser, error) {
	if err := AccountID("account", c.Account); err != nil {
		return c, err
	}
	var err error
	if c.Email, err = NormalizeEmail("email", c.Email); err != nil {
		return c, err
	}
	if c.EntitlementCountry, err = Country("entitlement_country", c.EntitlementCountry, true); err != nil {
		return c, err
	}
	return c, nil
}

// Decide registers the user, claiming the email for the account on the
// _global subject so that no other account can register it (A2).
//
// An email of a domain another account claimed is refused first,
// email_not_registrable, whether or not it is a user elsewhere, so that
// the refusal tells nothing about the address.
func (c RegisterUser) Decide(acct Account, user User, owner EmailOwner, domain DomainOwner, now time.Time) ([]events.Event, error) {
	if !acct.Exists() {
		return nil, accountNotFound(c.Account)
	}
	if err := mayRegister(c.Account, c.Email, domain); err != nil {
		return nil, err
	}
	switch owner.Account {
	case "":
	case c.Account:
		return nil, Reject(CodeUserExists, "%s is already a user of account %q", c.Email, c.Account).
			With("email", c.Email)
	default:
		// A2: never reveal which account holds the email.
		return nil, Reject(CodeUserInOtherAccount,
			"%s is registered in another account; that account's admin must remove the user first", c.Email).
			With("email", c.Email)
	}
	at, err := businessTime(c.At, now, user.LastEventAt, owner.LastEventAt)
	if err != nil {
		return nil, err
	}
	return []events.Event{
		event(c.Account, c.Email, at, events.UserRegistered{Email: c.Email, EntitlementCountry: c.EntitlementCountry}),
		event(events.GlobalAccount, c.Email, at, events.EmailClaimed{Email: c.Email, Account: c.Account}),
	}, nil
}

// ChangeUserCountry sets a user's entitlement country (A3).
type ChangeUserCountry struct {
	Account            string
	Email              string
	EntitlementCountry string
	At                 time.Time
}

// Normalize validates the command and returns it in canonical form.
func (c ChangeUserCountry) Normalize() (ChangeUserCountry, error) {
	if err := AccountID("account", c.Account); err != nil {
		return c, err
	}
	var err error
	if c.Email, err = NormalizeEmail("email", c.Email); err != nil {
		return c, err
	}
	if c.EntitlementCountry, err = Country("entitlement_country", c.EntitlementCountry, false); err != nil {
		return c, err
	}
	return c, nil
}

// Decide changes the country; setting the country the user already has
// appends nothing.
func (c ChangeUserCountry) Decide(user User, now time.Time) ([]events.Event, error) {
	if !user.Registered {
		return nil, userNotFound(c.Account, c.Email)
	}
	if user.EntitlementCountry == c.EntitlementCountry {
		return nil, nil
	}
	at, err := businessTime(c.At, now, user.LastEventAt)
	if err != nil {
		return nil, err
	}
	return []events.Event{event(c.Account, c.Email, at, events.UserCountryChanged{
		Email: c.Email, EntitlementCountry: c.EntitlementCountry, Previous: user.EntitlementCountry,
	})}, nil
}

// RemoveUser takes a user out of the account (A4).
type RemoveUser struct {
	Account string
	Email   string
	At      time.Time
}

// Normalize validates the command and returns it in canonical form.
func (c RemoveUser) Normalize() (RemoveUser, error) {
	if err := AccountID("account", c.Account); err != nil {
		return c, err
	}
	var err error
	c.Email, err = NormalizeEmail("email", c.Email)
	return c, err
}

// Decide removes the user, frees the email and unassigns the practitioner
// licence the user holds, even while it is locked; the lock keeps running
// (A4). lic is the licence named by user.LicenseID (zero if none).
func (c RemoveUser) Decide(user User, owner EmailOwner, lic License, now time.Time) ([]events.Event, error) {
	if !user.Registered {
		return nil, userNotFound(c.Account, c.Email)
	}
	last := []time.Time{user.LastEventAt, owner.LastEventAt}
	if user.LicenseID != "" {
		last = append(last, lic.LastEventAt)
	}
	at, err := businessTime(c.At, now, last...)
	if err != nil {
		return nil, err
	}
	out := []events.Event{
		event(c.Account, c.Email, at, events.UserRemoved{Email: c.Email}),
		event(events.GlobalAccount, c.Email, at, events.EmailReleased{Email: c.Email, Account: c.Account}),
	}
	if user.LicenseID != "" && lic.Assignee == c.Email {
		out = append(out, event(c.Account, lic.ID, at, events.LicenseUnassigned{
			ID: lic.ID, PreviousEmail: c.Email, Reason: events.ReasonUserRemoved,
			WindowClosesAt: lic.WindowClosesAt, LockedUntil: lic.LockedUntil,
		}))
	}
	return out, nil
}

func accountNotFound(account string) *Error {
	return Reject(CodeAccountNotFound, "account %q does not exist", account).With("account", account)
}

func userNotFound(account, email string) *Error {
	return Reject(CodeUserNotFound, "%s is not a user of account %q", email, account).With("email", email)
}
