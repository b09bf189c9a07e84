package commands

import (
	"slices"
	"time"

	"github.com/entledger/ledger/events"
)

// MinPractitionerVersion is the lowest client version whose use is recorded as
// practitioner use (E1, F4): "upgrade your CONNECTION Client to version
// 10.00.18.x or higher".
var MinPractitionerVersion = Version{10, 0, 18}

// MaxAccessEntries bounds the allow and deny lists of one product together,
// so that a setting fits in one event.
const MaxAccessEntries = 2_000

// Access is the access control of pooled use of one product (E2). Without a
// setting every user is allowed.
type Access struct {
	Product     string    `json:"product"`
	Default     string    `json:"default"`
	Allow       []string  `json:"allow"`
	Deny        []string  `json:"deny"`
	LastEventAt time.Time `json:"last_event_at"`
}

// Apply folds one event of the access subject into the state.
func (a *Access) Apply(e events.Event) {
	a.LastEventAt = e.OccurredAt
	if d, ok := e.Data.(events.AccessSet); ok {
		a.Product, a.Default, a.Allow, a.Deny = d.Product, d.Default, d.Allow, d.Deny
	}
}

// Allows reports whether email may use the product pooled: a per-user
// override wins over the default (E2).
func (a *Access) Allows(email string) bool {
	switch {
	case a.Default == "":
		return true
	case slices.Contains(a.Deny, email):
		return false
	case slices.Contains(a.Allow, email):
		return true
	}
	return a.Default == "allow"
}

// SetAccess sets the access control of pooled use of a product (E2).
type SetAccess struct {
	Account string
	Product string
	Default string
	Allow   []string
	Deny    []string
	At      time.Time
}

// Normalize validates the command and returns it in canonical form: emails
// lower-cased, sorted and without duplicates.
func (c SetAccess) Normalize() (SetAccess, error) {
	if err := AccountID("account", c.Account); err != nil {
		return c, err
	}
	if err := ProductID("product", c.Product); err != nil {
		return c, err
	}
	if c.Default != "allow" && c.Default != "deny" {
		return c, Invalid("default", "%q: want allow or deny", c.Default)
	}
	var err error
	if c.Allow, err = emailList("allow", c.Allow); err != nil {
		return c, err
	}
	if c.Deny, err = emailList("deny", c.Deny); err != nil {
		return c, err
	}
	if len(c.Allow)+len(c.Deny) > MaxAccessEntries {
		return c, Invalid("allow", "allow and deny hold at most %d emails together", MaxAccessEntries)
	}
	for _, e := range c.Allow {
		if _, found := slices.BinarySearch(c.Deny, e); found {
			return c, Invalid("allow", "%s is in both allow and deny", e)
		}
	}
	return c, nil
}

func emailList(field string, in []string) ([]string, error) {
	if len(in) > MaxAccessEntries {
		return nil, Invalid(field, "at most %d emails", MaxAccessEntries)
	}
	out := make([]string, 0, len(in))
	for _, e := range in {
		n, err := NormalizeEmail(field, e)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Decide replaces the product's access control.
func (c SetAccess) Decide(acct Account, access Access, now time.Time) ([]events.Event, error) {
	if !acct.Exists() {
		return nil, accountNotFound(c.Account)
	}
	at, err := businessTime(c.At, now, access.LastEventAt)
	if err != nil {
		return nil, err
	}
	return []events.Event{event(c.Account, c.Product, at, events.AccessSet{
		Product: c.Product, Default: c.Default, Allow: c.Allow, Deny: c.Deny})}, nil
}

// CheckLog is the state of a product's check aggregate: the last check
// recorded, which is also the answer of the command that recorded it.
type CheckLog struct {
	Last        events.CheckRecorded `json:"last"`
	LastEventAt time.Time            `json:"last_event_at"`
}

// Apply folds one event of the check subject into the state.
func (l *CheckLog) Apply(e events.Event) {
	l.LastEventAt = e.OccurredAt
	if d, ok := e.Data.(events.CheckRecorded); ok {
		l.Last = d
	}
}

// Check asks whether a user may use a product now (E1–E3).
type Check struct {
	Account       string
	Email         string
	Product       string
	MachineID     string
	ClientVersion string
}

// Normalize validates the command and returns it in canonical form.
func (c Check) Normalize() (Check, error) {
	if err := AccountID("account", c.Account); err != nil {
		return c, err
	}
	var err error
	if c.Email, err = NormalizeEmail("email", c.Email); err != nil {
		return c, err
	}
	if err := ProductID("product", c.Product); err != nil {
		return c, err
	}
	if err := MachineID("machine_id", c.MachineID); err != nil {
		return c, err
	}
	_, err = ParseVersion("client_version", c.ClientVersion)
	return c, err
}

// Decide answers the check in the order of E1 and records it, granted or
// denied, as one event (E3):
//  1. the user holds a practitioner licence active now that covers the
//     product, with a client of at least MinPractitionerVersion: practitioner;
//  2. the account has an active commercial licence for the product: pooled,
//     unless access control denies the user (access_denied, E2);
//  3. the account has an active trial licence for the product: trial;
//  4. otherwise no_entitlement, or client_too_old_for_practitioner when the
//     user holds a practitioner licence that 1 would grant with a newer client.
//
// held is the user's practitioner licence (zero if none); pooled are the
// account's commercial and trial licences that cover the product, in id order.
func (c Check) Decide(acct Account, user User, held License, pooled []License, access Access, log CheckLog, now time.Time) ([]events.Event, error) {
	if !acct.Exists() {
		return nil, accountNotFound(c.Account)
	}
	at, err := businessTime(time.Time{}, now, log.LastEventAt)
	if err != nil {
		return nil, err
	}
	rec := events.CheckRecorded{Email: c.Email, Product: c.Product, MachineID: c.MachineID, ClientVersion: c.ClientVersion}
	grant := func(typ, id string) {
		rec.Granted, rec.LicenseType, rec.LicenseID, rec.Reason = true, typ, id, typ
	}
	version, _ := ParseVersion("client_version", c.ClientVersion) // validated by Normalize
	practitioner := held.Exists() && held.Assignee == c.Email && held.ActiveAt(at) && slices.Contains(held.Products, c.Product)
	switch {
	case !user.Registered:
		rec.Reason = events.ReasonUnknownUser
	case practitioner && version.Compare(MinPractitionerVersion) >= 0:
		grant(events.LicenseTypePractitioner, held.ID)
	default:
		commercial, trial := activeCovering(pooled, events.KindCommercial, c.Product, at), activeCovering(pooled, events.KindTrial, c.Product, at)
		switch {
		case commercial != "" && !access.Allows(c.Email):
			rec.Reason = events.ReasonAccessDenied
		case commercial != "":
			grant(events.LicenseTypePooled, commercial)
		case trial != "":
			grant(events.LicenseTypeTrial, trial)
		case practitioner: // only the client's version stands in the way
			rec.Reason = events.ReasonClientTooOld
		default:
			rec.Reason = events.ReasonNoEntitlement
		}
	}
	return []events.Event{event(c.Account, c.Product, at, rec)}, nil
}

// activeCovering returns the id of the first licence of kind that is active
// at t and covers product, or "".
func activeCovering(lics []License, kind, product string, t time.Time) string {
	for _, l := range lics {
		if l.Kind == kind && l.ActiveAt(t) && slices.Contains(l.Products, product) {
			return l.ID
		}
	}
	return ""
}
