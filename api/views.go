package api

import (
	"time"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
)

// The JSON shapes of docs/api.md. Unset times and an absent assignee are null.

// AccountView is an account as the API shows it.
type AccountView struct {
	ID                  string    `json:"id"`
	Name                string    `json:"name"`
	FulfillmentContacts []string  `json:"fulfillment_contacts"`
	Admins              []string  `json:"admins"`
	CreatedAt           time.Time `json:"created_at"`
}

func accountView(a commands.Account) AccountView {
	return AccountView{ID: a.ID, Name: a.Name, FulfillmentContacts: a.FulfillmentContacts, Admins: a.Admins,
		CreatedAt: a.CreatedAt}
}

// UserView is a user as the API shows it.
type UserView struct {
	Email              string       `json:"email"`
	EntitlementCountry *string      `json:"entitlement_country"`
	LicenseID          *string      `json:"license_id"`
	Session            *SessionView `json:"session"` // the live sign-in session, or null
	RegisteredAt       time.Time    `json:"registered_at"`
}

func userView(u commands.User, sess *SessionView) UserView {
	return UserView{Email: u.Email, EntitlementCountry: nullable(u.EntitlementCountry), LicenseID: nullable(u.LicenseID),
		Session: sess, RegisteredAt: u.RegisteredAt}
}

// SessionView is a sign-in session as the API shows it (D).
type SessionView struct {
	Email         string    `json:"email"`
	MachineID     string    `json:"machine_id"`
	ClientVersion string    `json:"client_version"`
	StartedAt     time.Time `json:"started_at"`
	LastSeenAt    time.Time `json:"last_seen_at"`
	ExpiresAt     time.Time `json:"expires_at"`
}

func sessionView(s commands.Session, ttl time.Duration) *SessionView {
	return &SessionView{Email: s.Email, MachineID: s.MachineID, ClientVersion: s.ClientVersion,
		StartedAt: s.StartedAt, LastSeenAt: s.LastSeenAt, ExpiresAt: s.ExpiresAt(ttl)}
}

// LicenseView is a licence as the API shows it (C8): its assignee, timers,
// where it stands now and whether it can be reassigned now.
type LicenseView struct {
	ID       string   `json:"id"`
	Kind     string   `json:"kind"`
	Products []string `json:"products"`
	Seats    int      `json:"seats"`
	// Country is the pool a commercial licence's seats serve; null: global
	// seats, or another kind (G9).
	Country        events.Country `json:"country"`
	ValidFrom      time.Time      `json:"valid_from"`
	ValidUntil     time.Time      `json:"valid_until"`
	ActiveNow      bool           `json:"active_now"`
	Assignee       *string        `json:"assignee"`
	AssignedAt     *time.Time     `json:"assigned_at"`
	WindowOpenedAt *time.Time     `json:"window_opened_at"`
	WindowClosesAt *time.Time     `json:"window_closes_at"`
	LockedUntil    *time.Time     `json:"locked_until"`
	// LockState is none, window_open or locked at the time of the answer.
	LockState       string        `json:"lock_state"`
	ReassignableNow bool          `json:"reassignable_now"`
	AssignableNow   bool          `json:"assignable_now"`
	Checkout        *CheckoutView `json:"checkout"` // the live offline checkout, or null
}

// CheckoutView is a licence's live offline checkout (F6).
type CheckoutView struct {
	Email     string    `json:"email"`
	MachineID string    `json:"machine_id"`
	IssuedAt  time.Time `json:"issued_at"`
	Until     time.Time `json:"until"`
}

func licenseView(l commands.License, now time.Time) LicenseView {
	v := LicenseView{
		ID: l.ID, Kind: l.Kind, Products: l.Products, Seats: l.Seats, Country: events.Country(l.Country),
		ValidFrom: l.ValidFrom, ValidUntil: l.ValidUntil, ActiveNow: l.ActiveAt(now), Assignee: nullable(l.Assignee), AssignedAt: nullTime(l.AssignedAt),
		WindowOpenedAt: nullTime(l.WindowOpenedAt), WindowClosesAt: nullTime(l.WindowClosesAt),
		LockedUntil: nullTime(l.LockedUntil), LockState: "none",
	}
	if l.CheckedOutAt(now) {
		v.Checkout = &CheckoutView{Email: l.CheckoutEmail, MachineID: l.CheckoutMachine, IssuedAt: l.CheckoutIssuedAt,
			Until: l.CheckoutUntil}
	}
	if l.Kind == events.KindPractitioner {
		lock := l.LockAt(now)
		if l.Assignee == "" {
			lock = l.AssignLockAt(now) // A4: a removed user's licence stays locked
		}
		v.LockState = lock.String()
		movable := v.ActiveNow && lock != commands.LockLocked && !l.CheckedOutAt(now)
		v.ReassignableNow = movable && l.Assignee != ""
		v.AssignableNow = movable && l.Assignee == ""
	}
	return v
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// AccessView is a product's access control as the API shows it (E2).
type AccessView struct {
	Product string   `json:"product"`
	Default string   `json:"default"`
	Allow   []string `json:"allow"`
	Deny    []string `json:"deny"`
}

func accessView(a commands.Access) AccessView {
	return AccessView{Product: a.Product, Default: a.Default, Allow: a.Allow, Deny: a.Deny}
}

// CheckView is an entitlement check's answer (E1).
type CheckView struct {
	Granted     bool    `json:"granted"`
	LicenseType *string `json:"license_type"`
	LicenseID   *string `json:"license_id"`
	Reason      string  `json:"reason"`
}

func checkView(c events.CheckRecorded) CheckView {
	return CheckView{Granted: c.Granted, LicenseType: nullable(c.LicenseType), LicenseID: nullable(c.LicenseID), Reason: c.Reason}
}
