package events

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"time"
	"unicode/utf8"
)

// The patterns of the JSON Schemas in schemas/: Marshal refuses what the
// schemas would refuse, so no event the ledger writes fails its own contract.
var countryRe = regexp.MustCompile(CountryPattern)

// matcher is a compiled pattern: a *regexp.Regexp or a *Pattern.
type matcher interface {
	MatchString(string) bool
	String() string
}

func match(field, v string, re matcher) error {
	if !re.MatchString(v) {
		return fmt.Errorf("%s %q does not match %s", field, v, re)
	}
	return nil
}

// email checks an email of an event: at most MaxEmailBytes bytes and of
// emailShape, as the JSON Schemas say. The whole rule, CheckEmail (A5), is
// for emails a client sends: an event keeps what the ledger accepted when
// it was recorded, and must read forever (H1).
func email(field, v string) error {
	if len(v) < 3 || len(v) > MaxEmailBytes || !utf8.ValidString(v) {
		return fmt.Errorf("%s %q is not an email", field, v)
	}
	if !looksLikeEmail(v) {
		return fmt.Errorf("%s %q does not match %s", field, v, emailShape)
	}
	return nil
}

func country(field, v string, allowEmpty bool) error {
	if v == "" && allowEmpty {
		return nil
	}
	return match(field, v, countryRe)
}

func each(field string, vs []string, check func(string, string) error) error {
	if len(vs) == 0 {
		return fmt.Errorf("%s is empty", field)
	}
	for _, v := range vs {
		if err := check(field, v); err != nil {
			return err
		}
	}
	return nil
}

func licenseID(field, v string) error { return match(field, v, LicenseIDPattern) }
func accountID(field, v string) error { return match(field, v, AccountIDPattern) }
func productID(field, v string) error { return match(field, v, ProductIDPattern) }

func version(field, v string) error {
	if !ValidVersion(v) {
		return fmt.Errorf("%s %q does not match %s", field, v, VersionPattern)
	}
	return nil
}

// inUTC returns d with every time.Time field converted to UTC.
func inUTC(d Data) Data {
	if u, ok := d.(UsageRecorded); ok { // the most frequent event, without reflection
		u.StartedAt, u.EndedAt = u.StartedAt.UTC(), u.EndedAt.UTC()
		return u
	}
	v := reflect.ValueOf(d)
	c := reflect.New(v.Type()).Elem()
	c.Set(v)
	for i := 0; i < c.NumField(); i++ {
		if t, ok := c.Field(i).Interface().(time.Time); ok {
			c.Field(i).Set(reflect.ValueOf(t.UTC()))
		}
	}
	return c.Interface().(Data)
}

// utcTimes reports a time.Time field of the payload d that is not in UTC:
// one instant has one encoding, so one event has one hash.
func utcTimes(d Data) error {
	if u, ok := d.(UsageRecorded); ok {
		for _, f := range []struct {
			name string
			t    time.Time
		}{{"started_at", u.StartedAt}, {"ended_at", u.EndedAt}} {
			if f.t.Location() != time.UTC && !f.t.IsZero() {
				return fmt.Errorf("%s is not in UTC", f.name)
			}
		}
		return nil
	}
	v := reflect.ValueOf(d)
	for i := 0; i < v.NumField(); i++ {
		if t, ok := v.Field(i).Interface().(time.Time); ok && t.Location() != time.UTC && !t.IsZero() {
			return fmt.Errorf("%s is not in UTC", v.Type().Field(i).Tag.Get("json"))
		}
	}
	return nil
}

// The checks here are structural: they catch a payload that no correct ledger
// writes (a missing field, a window that closes before it opens). Business
// rules live in package commands.

func needTime(field string, t time.Time) error {
	if t.IsZero() {
		return fmt.Errorf("%s is missing", field)
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
	var nameErr error
	if n := utf8.RuneCountInString(d.Name); n < 1 || n > 200 || !utf8.ValidString(d.Name) {
		nameErr = errors.New("name must be 1 to 200 characters of UTF-8")
	}
	return errors.Join(accountID("id", d.ID), nameErr,
		each("fulfillment_contacts", d.FulfillmentContacts, email), each("admins", d.Admins, email))
}

func (d UserRegistered) validate() error {
	return errors.Join(email("email", d.Email), country("entitlement_country", d.EntitlementCountry, true))
}

func (d UserCountryChanged) validate() error {
	return errors.Join(email("email", d.Email), country("entitlement_country", d.EntitlementCountry, false),
		country("previous", d.Previous, true))
}

func (d UserRemoved) validate() error { return email("email", d.Email) }

func (d UserLicenseAttached) validate() error {
	return errors.Join(email("email", d.Email), licenseID("license_id", d.LicenseID))
}

func (d UserLicenseDetached) validate() error {
	return errors.Join(email("email", d.Email), licenseID("license_id", d.LicenseID), reason(d.Reason))
}

func (d EmailClaimed) validate() error {
	return errors.Join(email("email", d.Email), accountID("account", d.Account))
}

func (d EmailReleased) validate() error {
	return errors.Join(email("email", d.Email), accountID("account", d.Account))
}

// License kinds (B1).
const (
	KindPractitioner = "practitioner"
	KindCommercial   = "commercial"
	KindTrial        = "trial"
)

func (d LicenseCreated) validate() error {
	err := errors.Join(licenseID("id", d.ID), each("products", d.Products, productID),
		needTime("valid_from", d.ValidFrom), needTime("valid_until", d.ValidUntil))
	if err != nil {
		return err
	}
	switch d.Kind {
	case KindCommercial:
		if d.Seats < 1 {
			return errors.New("a commercial licence needs seats >= 1")
		}
		if err := country("country", string(d.Country), true); err != nil {
			return err
		}
	case KindPractitioner, KindTrial:
		if d.Seats != 0 {
			return fmt.Errorf("a %s licence has no seats", d.Kind)
		}
		if d.Country != "" {
			return fmt.Errorf("a %s licence has no country", d.Kind)
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
	if err := errors.Join(licenseID("id", d.ID), needTime("valid_until", d.ValidUntil),
		needTime("previous_valid_until", d.PreviousValidUntil)); err != nil {
		return err
	}
	if !d.PreviousValidUntil.Before(d.ValidUntil) {
		return errors.New("a renewal must extend valid_until")
	}
	return nil
}

func (d LicenseAssigned) validate() error {
	return errors.Join(licenseID("id", d.ID), email("email", d.Email),
		timers(d.WindowOpenedAt, d.WindowClosesAt, d.LockedUntil))
}

func (d LicenseReassigned) validate() error {
	err := errors.Join(licenseID("id", d.ID), email("email", d.Email), email("previous_email", d.PreviousEmail),
		timers(d.WindowOpenedAt, d.WindowClosesAt, d.LockedUntil))
	if err == nil && d.Email == d.PreviousEmail {
		err = errors.New("email equals previous_email")
	}
	return err
}

func (d LicenseUnassigned) validate() error {
	return errors.Join(licenseID("id", d.ID), email("previous_email", d.PreviousEmail), reason(d.Reason),
		needTime("window_closes_at", d.WindowClosesAt), needTime("locked_until", d.LockedUntil))
}

func reason(r string) error {
	switch r {
	case ReasonAdmin, ReasonReassigned, ReasonUserRemoved:
		return nil
	}
	return fmt.Errorf("unknown reason %q", r)
}

func (d SessionStarted) validate() error {
	return errors.Join(email("email", d.Email), match("machine_id", d.MachineID, MachineIDPattern),
		version("client_version", d.ClientVersion), needTime("client_time", d.ClientTime))
}

func (d SessionRefreshed) validate() error {
	return errors.Join(email("email", d.Email), match("machine_id", d.MachineID, MachineIDPattern),
		version("client_version", d.ClientVersion))
}

func (d SessionEnded) validate() error {
	var reasonErr error
	switch d.Reason {
	case SessionSignedOut, SessionExpired, SessionUserRemoved:
	default:
		reasonErr = fmt.Errorf("unknown reason %q", d.Reason)
	}
	var machineErr error
	if d.MachineID != "" || d.Reason != SessionUserRemoved { // a removed user may never have signed in
		machineErr = match("machine_id", d.MachineID, MachineIDPattern)
	}
	return errors.Join(email("email", d.Email), machineErr, reasonErr)
}

func (d AccessSet) validate() error {
	var defErr error
	if d.Default != "allow" && d.Default != "deny" {
		defErr = fmt.Errorf("default %q: want allow or deny", d.Default)
	}
	var listErr error
	for _, e := range append(append([]string{}, d.Allow...), d.Deny...) {
		listErr = errors.Join(listErr, email("allow/deny", e))
	}
	if d.Allow == nil || d.Deny == nil {
		listErr = errors.Join(listErr, errors.New("allow and deny must be lists (empty for none)"))
	}
	return errors.Join(productID("product", d.Product), defErr, listErr)
}

// MaxThreshold bounds a threshold's max_machines.
const MaxThreshold = 1_000_000

func (d ThresholdSet) validate() error {
	var maxErr error
	if d.MaxMachines < 0 || d.MaxMachines > MaxThreshold {
		maxErr = fmt.Errorf("max_machines %d: want 0 to %d", d.MaxMachines, MaxThreshold)
	}
	return errors.Join(productID("product", d.Product), maxErr)
}

func (d ThresholdCleared) validate() error { return productID("product", d.Product) }

func (d UsageVoided) validate() error {
	var errs []error
	if d.Reason == "" || len(d.Reason) > 1000 {
		errs = append(errs, errors.New("reason: 1 to 1000 bytes"))
	}
	return errors.Join(append(errs, match("usage_id", d.UsageID, UsageIDPattern), productID("product", d.Product))...)
}

func (d LicenseCancelled) validate() error {
	var errs []error
	if !d.EffectiveAt.Before(d.PreviousValidUntil) {
		errs = append(errs, fmt.Errorf("effective_at %s is not before previous_valid_until %s", d.EffectiveAt, d.PreviousValidUntil))
	}
	if d.Reason == "" || len(d.Reason) > 1000 {
		errs = append(errs, errors.New("reason: 1 to 1000 bytes"))
	}
	return errors.Join(append(errs, licenseID("id", d.ID))...)
}

func (d UnassignedReminder) validate() error {
	var dayErr error
	if _, err := time.Parse(time.DateOnly, d.Day); err != nil {
		dayErr = fmt.Errorf("day %q: want YYYY-MM-DD", d.Day)
	}
	return errors.Join(match("license_id", d.LicenseID, LicenseIDPattern), dayErr)
}

func (d ThresholdExceeded) validate() error {
	var errs []error
	day, err := time.Parse(time.DateOnly, d.Day)
	if err != nil {
		errs = append(errs, fmt.Errorf("day %q: want YYYY-MM-DD", d.Day))
	} else if !d.IntervalStart.UTC().Truncate(24*time.Hour).Equal(day) || d.IntervalStart.UTC().Truncate(10*time.Minute) != d.IntervalStart.UTC() {
		errs = append(errs, fmt.Errorf("interval_start %s: want a 10-minute interval of day %s", d.IntervalStart, d.Day))
	}
	if d.MaxMachines < 0 || d.MaxMachines > MaxThreshold || d.Count <= d.MaxMachines || d.Count != len(d.Machines) {
		errs = append(errs, fmt.Errorf("count %d of %d machines over max_machines %d", d.Count, len(d.Machines), d.MaxMachines))
	}
	for _, m := range d.Machines {
		errs = append(errs, match("machines", m, MachineIDPattern))
	}
	return errors.Join(append(errs, productID("product", d.Product))...)
}

func (d CheckRecorded) validate() error {
	err := errors.Join(email("email", d.Email), productID("product", d.Product),
		match("machine_id", d.MachineID, MachineIDPattern), version("client_version", d.ClientVersion))
	if d.Granted {
		switch d.LicenseType {
		case LicenseTypePractitioner, LicenseTypePooled, LicenseTypeTrial:
		default:
			err = errors.Join(err, fmt.Errorf("granted with license_type %q", d.LicenseType))
		}
		err = errors.Join(err, licenseID("license_id", d.LicenseID))
		if d.Reason != d.LicenseType {
			err = errors.Join(err, fmt.Errorf("granted with reason %q, want the license type", d.Reason))
		}
		return err
	}
	switch d.Reason {
	case ReasonNoEntitlement, ReasonAccessDenied, ReasonUnknownUser, ReasonClientTooOld:
	default:
		err = errors.Join(err, fmt.Errorf("denied with reason %q", d.Reason))
	}
	if d.LicenseType != "" || d.LicenseID != "" {
		err = errors.Join(err, errors.New("a denial names no licence"))
	}
	return err
}

func (d LicenseCheckedOut) validate() error {
	return errors.Join(licenseID("id", d.ID), email("email", d.Email), match("machine_id", d.MachineID, MachineIDPattern),
		each("products", d.Products, productID), needTime("until", d.Until))
}

func (d LicenseCheckedIn) validate() error {
	return errors.Join(licenseID("id", d.ID), match("machine_id", d.MachineID, MachineIDPattern))
}

func (d UsageRecorded) validate() error {
	err := errors.Join(match("usage_id", d.UsageID, UsageIDPattern), email("email", d.Email), productID("product", d.Product),
		match("machine_id", d.MachineID, MachineIDPattern), version("client_version", d.ClientVersion),
		needTime("started_at", d.StartedAt), needTime("ended_at", d.EndedAt), country("country", string(d.Country), true))
	if d.EndedAt.Before(d.StartedAt) {
		err = errors.Join(err, errors.New("ended_at before started_at"))
	}
	switch d.Classification {
	case ClassPractitioner:
		err = errors.Join(err, licenseID("license_id", d.LicenseID))
	case ClassPooled, ClassTrial:
		if d.LicenseID != "" {
			err = errors.Join(err, licenseID("license_id", d.LicenseID))
		}
	default:
		err = errors.Join(err, fmt.Errorf("unknown classification %q", d.Classification))
	}
	if !isHexHash(d.Digest) {
		err = errors.Join(err, errors.New("digest is not a hex SHA-256"))
	}
	return err
}

func (d SessionCheckedOut) validate() error {
	return errors.Join(email("email", d.Email), match("machine_id", d.MachineID, MachineIDPattern),
		licenseID("license_id", d.LicenseID), needTime("until", d.Until))
}

func (d SessionCheckedIn) validate() error {
	return errors.Join(email("email", d.Email), match("machine_id", d.MachineID, MachineIDPattern), licenseID("license_id", d.LicenseID))
}

// SubscriberNamePattern is the form of a subscriber's name: it is part of
// its durable consumer's name.
var SubscriberNamePattern = newPattern("a-z0-9", "a-z0-9-", 32)

// TokenIDPattern is the form of an API token's id: a lower-case ULID.
var TokenIDPattern = newPattern("0-9a-z", "0-9a-z", 26)

func (d TokenCreated) validate() error {
	var errs []error
	if err := match("id", d.ID, TokenIDPattern); err != nil {
		errs = append(errs, err)
	}
	if d.Name == "" || len(d.Name) > 100 || !utf8.ValidString(d.Name) {
		errs = append(errs, fmt.Errorf("name %q: want 1 to 100 bytes of UTF-8", d.Name))
	}
	switch d.Role {
	case RoleAdmin:
		if d.Account != "" {
			errs = append(errs, errors.New("an admin token reaches every account: account must be empty"))
		}
	case RoleAccountAdmin, RoleIngest:
		errs = append(errs, accountID("account", d.Account))
	case RoleAuditor, RoleSubscriber:
		if d.Account != "" {
			errs = append(errs, accountID("account", d.Account))
		}
	default:
		errs = append(errs, fmt.Errorf("role %q: want admin, account_admin, auditor, ingest or subscriber", d.Role))
	}
	if !isHexHash(d.SecretHash) {
		errs = append(errs, fmt.Errorf("secret_hash %q is not a hex SHA-256", d.SecretHash))
	}
	return errors.Join(errs...)
}

func (d TokenRevoked) validate() error {
	err := match("id", d.ID, TokenIDPattern)
	if len(d.Reason) > 1000 || !utf8.ValidString(d.Reason) {
		err = errors.Join(err, errors.New("reason: at most 1000 bytes of UTF-8"))
	}
	return err
}
