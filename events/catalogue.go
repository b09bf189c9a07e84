package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"time"
)

// Stable event type names. They are part of the public contract (subscribers
// filter on them) and never change; a changed payload gets a new schema
// version instead.
const (
	TypeAccountCreated      = "account.created"
	TypeUserRegistered      = "user.registered"
	TypeUserCountryChanged  = "user.country_changed"
	TypeUserRemoved         = "user.removed"
	TypeUserLicenseAttached = "user.license_attached"
	TypeUserLicenseDetached = "user.license_detached"
	TypeEmailClaimed        = "email.claimed"
	TypeEmailReleased       = "email.released"
	TypeLicenseCreated      = "license.created"
	TypeLicenseRenewed      = "license.renewed"
	TypeLicenseAssigned     = "license.assigned"
	TypeLicenseReassigned   = "license.reassigned"
	TypeLicenseUnassigned   = "license.unassigned"
	TypeSessionStarted      = "session.started"
	TypeSessionRefreshed    = "session.refreshed"
	TypeSessionEnded        = "session.ended"
	TypeSessionCheckedOut   = "session.checked_out"
	TypeSessionCheckedIn    = "session.checked_in"
	TypeLicenseCheckedOut   = "license.checked_out"
	TypeLicenseCheckedIn    = "license.checked_in"
	TypeAccessSet           = "access.set"
	TypeCheckRecorded       = "check.recorded"
	TypeUsageRecorded       = "usage.recorded"
	TypeThresholdSet        = "threshold.set"
	TypeThresholdCleared    = "threshold.cleared"
	TypeThresholdExceeded   = "threshold.exceeded"
	TypeUnassignedReminder  = "license.unassigned_reminder"
	TypeLicenseCancelled    = "license.cancelled"
	TypeUsageVoided         = "usage.voided"
	TypeTokenCreated        = "token.created"
	TypeTokenRevoked        = "token.revoked"
)

// Data is the typed payload of an event. Each implementation is one event type
// at its current schema version.
type Data interface {
	// EventType is the stable type name, e.g. "license.assigned".
	EventType() string
	// Aggregate is the aggregate kind whose subject the event is stored on.
	Aggregate() string
	// validate reports a payload that no correct ledger would write.
	validate() error
}

// AccountCreated: an organisation starts using the ledger (A1).
type AccountCreated struct {
	ID                  string   `json:"id"`
	Name                string   `json:"name"`
	FulfillmentContacts []string `json:"fulfillment_contacts"`
	Admins              []string `json:"admins"`
}

// UserRegistered: an email becomes a user of the account (A2, A3).
type UserRegistered struct {
	Email              string `json:"email"`
	EntitlementCountry string `json:"entitlement_country"`
}

// UserCountryChanged: the user's entitlement country changed (A3).
type UserCountryChanged struct {
	Email              string `json:"email"`
	EntitlementCountry string `json:"entitlement_country"`
	Previous           string `json:"previous"`
}

// UserRemoved: the user left the account (A4).
type UserRemoved struct {
	Email string `json:"email"`
}

// UserLicenseAttached: the user now holds the practitioner licence. It is
// written on the user's subject in the same atomic batch as the licence's
// assignment, so that two licences can never be assigned to one user (C1).
type UserLicenseAttached struct {
	Email     string `json:"email"`
	LicenseID string `json:"license_id"`
}

// UserLicenseDetached: the user no longer holds the practitioner licence.
type UserLicenseDetached struct {
	Email     string `json:"email"`
	LicenseID string `json:"license_id"`
	Reason    string `json:"reason"`
}

// EmailClaimed: on the _global account, the email is now registered in
// Account (A2).
type EmailClaimed struct {
	Email   string `json:"email"`
	Account string `json:"account"`
}

// EmailReleased: on the _global account, the email is free again (A4).
type EmailReleased struct {
	Email   string `json:"email"`
	Account string `json:"account"`
}

// LicenseCreated: a licence was sold to the account (B1). A commercial
// licence's seats serve the pool of Country, or every country when it names
// none (G9). Version 2 added Country; version 1 reads as none.
type LicenseCreated struct {
	ID         string    `json:"id"`
	Kind       string    `json:"kind"`
	Products   []string  `json:"products"`
	Seats      int       `json:"seats"`
	ValidFrom  time.Time `json:"valid_from"`
	ValidUntil time.Time `json:"valid_until"`
	Country    Country   `json:"country"`
}

// LicenseRenewed: the licence's term was extended (B2).
type LicenseRenewed struct {
	ID                 string    `json:"id"`
	ValidUntil         time.Time `json:"valid_until"`
	PreviousValidUntil time.Time `json:"previous_valid_until"`
}

// LicenseCancelled: a licence sold by mistake is cancelled from EffectiveAt
// (H1: a correction is a new event): its term, and its seats, end there.
// PreviousValidUntil is the end it had.
type LicenseCancelled struct {
	ID                 string    `json:"id"`
	EffectiveAt        time.Time `json:"effective_at"`
	PreviousValidUntil time.Time `json:"previous_valid_until"`
	Reason             string    `json:"reason"`
}

func (LicenseCancelled) EventType() string { return TypeLicenseCancelled }
func (LicenseCancelled) Aggregate() string { return AggregateLicense }

// LicenseAssigned: a practitioner licence was assigned to Email (C1, C2, C8).
// The timers are the ones in force after the assignment; NewWindow says
// whether this assignment opened them.
type LicenseAssigned struct {
	ID             string    `json:"id"`
	Email          string    `json:"email"`
	NewWindow      bool      `json:"new_window"`
	WindowOpenedAt time.Time `json:"window_opened_at"`
	WindowClosesAt time.Time `json:"window_closes_at"`
	LockedUntil    time.Time `json:"locked_until"`
}

// LicenseReassigned: the licence moved from PreviousEmail to Email (C3, C4).
type LicenseReassigned struct {
	ID             string    `json:"id"`
	Email          string    `json:"email"`
	PreviousEmail  string    `json:"previous_email"`
	NewWindow      bool      `json:"new_window"`
	WindowOpenedAt time.Time `json:"window_opened_at"`
	WindowClosesAt time.Time `json:"window_closes_at"`
	LockedUntil    time.Time `json:"locked_until"`
}

// Reasons a licence is unassigned or detached from a user.
const (
	ReasonAdmin       = "admin"
	ReasonReassigned  = "reassigned"
	ReasonUserRemoved = "user_removed"
)

// LicenseUnassigned: the licence has no assignee any more (C3, C4, A4). The
// timers keep running; they are repeated here for subscribers.
type LicenseUnassigned struct {
	ID             string    `json:"id"`
	PreviousEmail  string    `json:"previous_email"`
	Reason         string    `json:"reason"`
	WindowClosesAt time.Time `json:"window_closes_at"`
	LockedUntil    time.Time `json:"locked_until"`
}

func (AccountCreated) EventType() string      { return TypeAccountCreated }
func (UserRegistered) EventType() string      { return TypeUserRegistered }
func (UserCountryChanged) EventType() string  { return TypeUserCountryChanged }
func (UserRemoved) EventType() string         { return TypeUserRemoved }
func (UserLicenseAttached) EventType() string { return TypeUserLicenseAttached }
func (UserLicenseDetached) EventType() string { return TypeUserLicenseDetached }
func (EmailClaimed) EventType() string        { return TypeEmailClaimed }
func (EmailReleased) EventType() string       { return TypeEmailReleased }
func (LicenseCreated) EventType() string      { return TypeLicenseCreated }
func (LicenseRenewed) EventType() string      { return TypeLicenseRenewed }
func (LicenseAssigned) EventType() string     { return TypeLicenseAssigned }
func (LicenseReassigned) EventType() string   { return TypeLicenseReassigned }
func (LicenseUnassigned) EventType() string   { return TypeLicenseUnassigned }

func (AccountCreated) Aggregate() string      { return AggregateAccount }
func (UserRegistered) Aggregate() string      { return AggregateUser }
func (UserCountryChanged) Aggregate() string  { return AggregateUser }
func (UserRemoved) Aggregate() string         { return AggregateUser }
func (UserLicenseAttached) Aggregate() string { return AggregateUser }
func (UserLicenseDetached) Aggregate() string { return AggregateUser }
func (EmailClaimed) Aggregate() string        { return AggregateEmail }
func (EmailReleased) Aggregate() string       { return AggregateEmail }
func (LicenseCreated) Aggregate() string      { return AggregateLicense }
func (LicenseRenewed) Aggregate() string      { return AggregateLicense }
func (LicenseAssigned) Aggregate() string     { return AggregateLicense }
func (LicenseReassigned) Aggregate() string   { return AggregateLicense }
func (LicenseUnassigned) Aggregate() string   { return AggregateLicense }

// SessionStarted: the user signed in on MachineID (D1).
type SessionStarted struct {
	Email         string    `json:"email"`
	MachineID     string    `json:"machine_id"`
	ClientVersion string    `json:"client_version"`
	ClientTime    time.Time `json:"client_time"`
}

// SessionRefreshed: the user signed in again, or sent a heartbeat, from the
// session's machine (D1, D3).
type SessionRefreshed struct {
	Email         string `json:"email"`
	MachineID     string `json:"machine_id"`
	ClientVersion string `json:"client_version"`
}

// Reasons a session ends (D3).
const (
	SessionSignedOut   = "signed_out"
	SessionExpired     = "expired"
	SessionUserRemoved = "user_removed"
)

// SessionEnded: the session on MachineID is over (D3).
type SessionEnded struct {
	Email     string `json:"email"`
	MachineID string `json:"machine_id"`
	Reason    string `json:"reason"`
}

// SessionCheckedOut: on the user's session subject, the user's machine is
// now MachineID until Until through an offline checkout of LicenseID (D1,
// F6). Writing it beside license.checked_out makes a checkout and a sign-in
// of the same user contend for one subject, so they cannot both win.
type SessionCheckedOut struct {
	Email     string    `json:"email"`
	MachineID string    `json:"machine_id"`
	LicenseID string    `json:"license_id"`
	Until     time.Time `json:"until"`
}

// SessionCheckedIn: the checkout of LicenseID no longer holds the user's
// machine.
type SessionCheckedIn struct {
	Email     string `json:"email"`
	MachineID string `json:"machine_id"`
	LicenseID string `json:"license_id"`
}

func (SessionCheckedOut) EventType() string { return TypeSessionCheckedOut }
func (SessionCheckedIn) EventType() string  { return TypeSessionCheckedIn }
func (SessionCheckedOut) Aggregate() string { return AggregateSession }
func (SessionCheckedIn) Aggregate() string  { return AggregateSession }

func (SessionStarted) EventType() string   { return TypeSessionStarted }
func (SessionRefreshed) EventType() string { return TypeSessionRefreshed }
func (SessionEnded) EventType() string     { return TypeSessionEnded }
func (SessionStarted) Aggregate() string   { return AggregateSession }
func (SessionRefreshed) Aggregate() string { return AggregateSession }
func (SessionEnded) Aggregate() string     { return AggregateSession }

// LicenseCheckedOut: the assignee took the practitioner licence offline on
// MachineID until Until (F6). The ledger hands out a signed token made from
// this event; it counts as the user's one machine (D1) and blocks moves of
// the licence (C6) until Until or a check-in.
type LicenseCheckedOut struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	MachineID string    `json:"machine_id"`
	Products  []string  `json:"products"`
	Until     time.Time `json:"until"`
}

// LicenseCheckedIn: the offline checkout ended early (F6).
type LicenseCheckedIn struct {
	ID        string `json:"id"`
	MachineID string `json:"machine_id"`
}

func (LicenseCheckedOut) EventType() string { return TypeLicenseCheckedOut }
func (LicenseCheckedIn) EventType() string  { return TypeLicenseCheckedIn }
func (LicenseCheckedOut) Aggregate() string { return AggregateLicense }
func (LicenseCheckedIn) Aggregate() string  { return AggregateLicense }

// AccessSet: the access control of pooled use of a product (E2): a default
// and per-user overrides. It replaces the previous setting whole.
type AccessSet struct {
	Product string   `json:"product"`
	Default string   `json:"default"` // "allow" or "deny"
	Allow   []string `json:"allow"`
	Deny    []string `json:"deny"`
}

// Entitlement check outcomes (E1).
const (
	LicenseTypePractitioner = "practitioner"
	LicenseTypePooled       = "pooled"
	LicenseTypeTrial        = "trial"

	ReasonNoEntitlement = "no_entitlement"
	ReasonAccessDenied  = "access_denied"
	ReasonUnknownUser   = "user_not_found"
	// ReasonClientTooOld: the user holds a practitioner licence that would
	// grant the check, but the client is older than practitioner use needs,
	// and nothing else grants it.
	ReasonClientTooOld = "client_too_old_for_practitioner"
)

// CheckRecorded: an entitlement check and its answer, granted or denied
// (E1, E3). LicenseType and LicenseID are empty for a denial.
type CheckRecorded struct {
	Email         string `json:"email"`
	Product       string `json:"product"`
	MachineID     string `json:"machine_id"`
	ClientVersion string `json:"client_version"`
	Granted       bool   `json:"granted"`
	LicenseType   string `json:"license_type"`
	LicenseID     string `json:"license_id"`
	Reason        string `json:"reason"`
}

func (AccessSet) EventType() string     { return TypeAccessSet }
func (CheckRecorded) EventType() string { return TypeCheckRecorded }
func (AccessSet) Aggregate() string     { return AggregateAccess }
func (CheckRecorded) Aggregate() string { return AggregateCheck }

// Usage classifications (F4).
const (
	ClassPractitioner = "practitioner"
	ClassPooled       = "pooled"
	ClassTrial        = "trial"
)

// UsageRecorded: one usage record, classified when it was recorded (F1,
// F4): billing reads Classification and never derives it again. Digest
// identifies the record's content, so the same usage_id with other content
// is told apart from a duplicate (F2). Country is the user's entitlement
// country at started_at as the ledger knew it when it recorded the record,
// decided once like the classification (G9); none for a user without one.
// Version 2 added Country; version 1 reads as none.
type UsageRecorded struct {
	UsageID        string    `json:"usage_id"`
	Email          string    `json:"email"`
	Product        string    `json:"product"`
	MachineID      string    `json:"machine_id"`
	ClientVersion  string    `json:"client_version"`
	StartedAt      time.Time `json:"started_at"`
	EndedAt        time.Time `json:"ended_at"`
	Offline        bool      `json:"offline"`
	Classification string    `json:"classification"`
	LicenseID      string    `json:"license_id"`
	Digest         string    `json:"digest"`
	Country        Country   `json:"country"`
}

// UsageVoided: a mis-recorded usage record is voided (H1): from this event on
// it counts in no peak, QTL or summary. It is stored on the product's usage
// subject (without a shard).
type UsageVoided struct {
	UsageID string `json:"usage_id"`
	Product string `json:"product"`
	Reason  string `json:"reason"`
}

func (UsageVoided) EventType() string { return TypeUsageVoided }
func (UsageVoided) Aggregate() string { return AggregateUsage }

func (UsageRecorded) EventType() string { return TypeUsageRecorded }
func (UsageRecorded) Aggregate() string { return AggregateUsage }

// ThresholdSet: an admin asks to be alerted when more than MaxMachines
// machines are in pooled use of a product at once (G4, G8). It replaces the
// product's previous threshold.
type ThresholdSet struct {
	Product     string `json:"product"`
	MaxMachines int    `json:"max_machines"`
}

// ThresholdCleared: the product's threshold is removed (G8).
type ThresholdCleared struct {
	Product string `json:"product"`
}

// ThresholdExceeded: on Day (a UTC day, YYYY-MM-DD), the interval starting
// at IntervalStart was the first found with more than MaxMachines machines in
// pooled use (G4): Count of them, listed in Machines. There is one per
// (account, product, day), emitted by the ledger itself.
type ThresholdExceeded struct {
	Product       string    `json:"product"`
	Day           string    `json:"day"`
	IntervalStart time.Time `json:"interval_start"`
	Count         int       `json:"count"`
	MaxMachines   int       `json:"max_machines"`
	Machines      []string  `json:"machines"`
}

// UnassignedReminder: on Day (a UTC day, YYYY-MM-DD), the practitioner
// licence LicenseID was active and unassigned, since Since, and can be
// assigned from AssignableFrom (C7, G5). There is one per licence and day
// while it stays unassigned, emitted by the ledger itself on the licence's
// reminder subject.
type UnassignedReminder struct {
	LicenseID      string    `json:"license_id"`
	Day            string    `json:"day"`
	Since          time.Time `json:"since"`
	AssignableFrom time.Time `json:"assignable_from"`
}

func (UnassignedReminder) EventType() string { return TypeUnassignedReminder }
func (UnassignedReminder) Aggregate() string { return AggregateReminder }

func (ThresholdExceeded) EventType() string { return TypeThresholdExceeded }
func (ThresholdExceeded) Aggregate() string { return AggregateAlert }

func (ThresholdSet) EventType() string     { return TypeThresholdSet }
func (ThresholdCleared) EventType() string { return TypeThresholdCleared }
func (ThresholdSet) Aggregate() string     { return AggregateAlert }
func (ThresholdCleared) Aggregate() string { return AggregateAlert }

// entry describes one event type in the catalogue.
type entry struct {
	version int              // current schema version
	aggr    string           // aggregate kind it is stored under
	newData func() Data      // a pointer to a zero payload of the current version
	unptr   func(Data) Data  // dereferences the pointer newData made
	upcast  map[int]upcaster // older version → function lifting it one version up
}

// upcaster lifts a payload of version v to version v+1.
type upcaster func(data []byte) ([]byte, error)

func register[T Data](version int, up map[int]upcaster) entry {
	var zero T
	return entry{
		version: version,
		aggr:    zero.Aggregate(),
		newData: func() Data { return any(new(T)).(Data) },
		unptr:   func(d Data) Data { return *any(d).(*T) },
		upcast:  up,
	}
}

// addNullCountry lifts license.created and usage.recorded from version 1 to
// 2: a version 1 event names no country, so it reads as country null (a
// global licence; usage served by global seats only, G9).
func addNullCountry(data []byte) ([]byte, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return nil, err
	}
	if _, ok := fields["country"]; ok {
		return nil, errors.New("version 1 has no country")
	}
	data = bytes.TrimRight(data, " \t\r\n")
	if len(fields) == 0 || data[len(data)-1] != '}' {
		return nil, errors.New("not a JSON object with fields")
	}
	return append(data[:len(data)-1:len(data)-1], `,"country":null}`...), nil
}

// catalogue maps every type name to its entry. It is the single list of event
// types the ledger knows; Unmarshal rejects every other type.
var catalogue = map[string]entry{
	TypeAccountCreated:      register[AccountCreated](1, nil),
	TypeUserRegistered:      register[UserRegistered](1, nil),
	TypeUserCountryChanged:  register[UserCountryChanged](1, nil),
	TypeUserRemoved:         register[UserRemoved](1, nil),
	TypeUserLicenseAttached: register[UserLicenseAttached](1, nil),
	TypeUserLicenseDetached: register[UserLicenseDetached](1, nil),
	TypeEmailClaimed:        register[EmailClaimed](1, nil),
	TypeEmailReleased:       register[EmailReleased](1, nil),
	TypeLicenseCreated:      register[LicenseCreated](2, map[int]upcaster{1: addNullCountry}),
	TypeLicenseRenewed:      register[LicenseRenewed](1, nil),
	TypeLicenseAssigned:     register[LicenseAssigned](1, nil),
	TypeLicenseReassigned:   register[LicenseReassigned](1, nil),
	TypeLicenseUnassigned:   register[LicenseUnassigned](1, nil),
	TypeSessionStarted:      register[SessionStarted](1, nil),
	TypeSessionRefreshed:    register[SessionRefreshed](1, nil),
	TypeSessionEnded:        register[SessionEnded](1, nil),
	TypeSessionCheckedOut:   register[SessionCheckedOut](1, nil),
	TypeSessionCheckedIn:    register[SessionCheckedIn](1, nil),
	TypeLicenseCheckedOut:   register[LicenseCheckedOut](1, nil),
	TypeLicenseCheckedIn:    register[LicenseCheckedIn](1, nil),
	TypeAccessSet:           register[AccessSet](1, nil),
	TypeCheckRecorded:       register[CheckRecorded](1, nil),
	TypeUsageRecorded:       register[UsageRecorded](2, map[int]upcaster{1: addNullCountry}),
	TypeThresholdSet:        register[ThresholdSet](1, nil),
	TypeThresholdCleared:    register[ThresholdCleared](1, nil),
	TypeThresholdExceeded:   register[ThresholdExceeded](1, nil),
	TypeUnassignedReminder:  register[UnassignedReminder](1, nil),
	TypeLicenseCancelled:    register[LicenseCancelled](1, nil),
	TypeUsageVoided:         register[UsageVoided](1, nil),
	TypeTokenCreated:        register[TokenCreated](1, nil),
	TypeTokenRevoked:        register[TokenRevoked](1, nil),
	TypeDomainClaimed:       register[DomainClaimed](1, nil),
	TypeDomainReleased:      register[DomainReleased](1, nil),
}

// Types lists every known event type name, sorted.
func Types() []string {
	out := make([]string, 0, len(catalogue))
	for t := range catalogue {
		out = append(out, t)
	}
	sortStrings(out)
	return out
}

// SchemaVersion is the current schema version of an event type, or 0 for an
// unknown type.
func SchemaVersion(eventType string) int {
	return catalogue[eventType].version
}
