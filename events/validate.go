package events

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// The checks here are structural: they catch a payload that no correct ledger
// writes (a missing field, a window that closes before it opens). Business
// rules live in package commands.

func need(field, v string) error {
	if v == "" {
		return fmt.Errorf("%s is empty", field)
	}
	return nil
}

func needTime(field string, t time.Time) error {
	if t.IsZero() {
		return fmt.Errorf("%s is missing", field)
	}
	return nil
}

func needList(field string, v []string) error {
	if len(v) == 0 {
		return fmt.Errorf("%s is empty", field)
	}
	if slices.Contains(v, "") {
		return fmt.Errorf("%s has an empty entry", field)
	}
	return nil
}

func timers(opened, closes, locked time.Time) error {
	if err := errors.Join(needTime("window_opened_at", opened), needTime("window_closes_at", closes),
		needTime("locked_until", locked)); err != nil {
		return err
	}
	if !opened.Before(closes) || !closes.Before(locked) {
		return errors.New("timers out of order: want window_opened_at < window_closes_at < locked_until")
	}
	return nil
}

func (d AccountCreated) validate() error {
	return errors.Join(need("id", d.ID), need("name", d.Name),
		needList("fulfillment_contacts", d.FulfillmentContacts), needList("admins", d.Admins))
}

func (d UserRegistered) validate() error { return need("email", d.Email) }

func (d UserCountryChanged) validate() error {
	return errors.Join(need("email", d.Email), need("entitlement_country", d.EntitlementCountry))
}

func (d UserRemoved) validate() error { return need("email", d.Email) }

func (d UserLicenseAttached) validate() error {
	return errors.Join(need("email", d.Email), need("license_id", d.LicenseID))
}

func (d UserLicenseDetached) validate() error {
	return errors.Join(need("email", d.Email), need("license_id", d.LicenseID), reason(d.Reason))
}

func (d EmailClaimed) validate() error {
	return errors.Join(need("email", d.Email), need("account", d.Account))
}

func (d EmailReleased) validate() error {
	return errors.Join(need("email", d.Email), need("account", d.Account))
}

// License kinds (B1).
const (
	KindPractitioner = "practitioner"
	KindCommercial   = "commercial"
	KindTrial        = "trial"
)

func (d LicenseCreated) validate() error {
	err := errors.Join(need("id", d.ID), needList("products", d.Products),
		needTime("valid_from", d.ValidFrom), needTime("valid_until", d.ValidUntil))
	if err != nil {
		return err
	}
	switch d.Kind {
	case KindCommercial:
		if d.Seats < 1 {
			return errors.New("a commercial licence needs seats >= 1")
		}
	case KindPractitioner, KindTrial:
		if d.Seats != 0 {
			return fmt.Errorf("a %s licence has no seats", d.Kind)
		}
	default:
		return fmt.Errorf("unknown kind %q", d.Kind)
	}
	if !d.ValidFrom.Before(d.ValidUntil) {
		return errors.New("valid_from must be before valid_until")
	}
	return nil
}

func (d LicenseRenewed) validate() error {
	if err := errors.Join(need("id", d.ID), needTime("valid_until", d.ValidUntil),
		needTime("previous_valid_until", d.PreviousValidUntil)); err != nil {
		return err
	}
	if !d.PreviousValidUntil.Before(d.ValidUntil) {
		return errors.New("a renewal must extend valid_until")
	}
	return nil
}

func (d LicenseAssigned) validate() error {
	return errors.Join(need("id", d.ID), need("email", d.Email),
		timers(d.WindowOpenedAt, d.WindowClosesAt, d.LockedUntil))
}

func (d LicenseReassigned) validate() error {
	err := errors.Join(need("id", d.ID), need("email", d.Email), need("previous_email", d.PreviousEmail),
		timers(d.WindowOpenedAt, d.WindowClosesAt, d.LockedUntil))
	if err == nil && d.Email == d.PreviousEmail {
		err = errors.New("email equals previous_email")
	}
	return err
}

func (d LicenseUnassigned) validate() error {
	return errors.Join(need("id", d.ID), need("previous_email", d.PreviousEmail), reason(d.Reason),
		needTime("window_closes_at", d.WindowClosesAt), needTime("locked_until", d.LockedUntil))
}

func reason(r string) error {
	switch r {
	case ReasonAdmin, ReasonReassigned, ReasonUserRemoved:
		return nil
	}
	return fmt.Errorf("unknown reason %q", r)
}
