package commands

import (
	"strconv"
	"strings"
	"time"

	"github.com/entledger/ledger/events"
)

// Session rules (D).
const (
	// DefaultSessionTTL is how long a session lives without a sign-in
	// refresh, usage or heartbeat: the offline grace of the real system (D3).
	DefaultSessionTTL = 7 * 24 * time.Hour
	// MaxClockSkew is how far a client's clock may be from the ledger's (D2).
	MaxClockSkew = 5 * time.Minute
)

// Version is a client version: dotted numbers, compared number by number
// (D4). Missing trailing numbers count as 0, so 10.00.18 equals 10.0.18.0.
type Version []int

// ParseVersion parses a client version, or rejects it invalid_client_version.
func ParseVersion(field, s string) (Version, error) {
	if !events.ValidVersion(s) {
		return nil, Reject(CodeInvalidClientVersion, "%s: %q is not a client version: dotted numbers such as 10.00.18.25", field, s).
			With("field", field)
	}
	parts := strings.Split(s, ".")
	v := make(Version, len(parts))
	for i, p := range parts {
		v[i], _ = strconv.Atoi(p) // the pattern allows at most 9 digits
	}
	return v, nil
}

// Compare returns -1, 0 or +1 as v is lower than, equal to or higher than w.
func (v Version) Compare(w Version) int {
	for i := 0; i < max(len(v), len(w)); i++ {
		a, b := 0, 0
		if i < len(v) {
			a = v[i]
		}
		if i < len(w) {
			b = w[i]
		}
		switch {
		case a < b:
			return -1
		case a > b:
			return 1
		}
	}
	return 0
}

// Session is the state of a user's sign-in session aggregate (D).
type Session struct {
	Email         string    `json:"email"`
	MachineID     string    `json:"machine_id"`
	ClientVersion string    `json:"client_version"`
	StartedAt     time.Time `json:"started_at"`
	LastSeenAt    time.Time `json:"last_seen_at"`
	Ended         bool      `json:"ended"`
	EndReason     string    `json:"end_reason"`
	LastEventAt   time.Time `json:"last_event_at"`

	// An offline checkout holds the user's machine too (D1, F6), live while
	// now < CheckoutUntil.
	CheckoutMachine string    `json:"checkout_machine,omitempty"`
	CheckoutLicense string    `json:"checkout_license,omitempty"`
	CheckoutUntil   time.Time `json:"checkout_until"`
}

// CheckedOutAt reports whether an offline checkout holds the user's machine
// at t.
func (s *Session) CheckedOutAt(t time.Time) bool {
	return !s.CheckoutUntil.IsZero() && t.Before(s.CheckoutUntil)
}

func (s *Session) clearCheckout() {
	s.CheckoutMachine, s.CheckoutLicense, s.CheckoutUntil = "", "", time.Time{}
}

// Live reports whether the session holds the user's machine at t: started,
// not ended, and seen less than ttl before t (D3). It is half-open: exactly
// at last_seen_at + ttl the session has expired.
func (s *Session) Live(t time.Time, ttl time.Duration) bool {
	return !s.StartedAt.IsZero() && !s.Ended && t.Before(s.LastSeenAt.Add(ttl))
}

// SeenUsing returns s with last_seen_at moved to lastUsage, the end of the
// user's latest usage on the session's machine, when that is later: usage
// keeps a session alive like a heartbeat (D3). Usage before the session
// started does not count.
func (s Session) SeenUsing(lastUsage time.Time) Session {
	if !s.Ended && lastUsage.After(s.LastSeenAt) && !lastUsage.Before(s.StartedAt) {
		s.LastSeenAt = lastUsage
	}
	return s
}

// ExpiresAt is when the session expires unless it is refreshed.
func (s *Session) ExpiresAt(ttl time.Duration) time.Time { return s.LastSeenAt.Add(ttl) }

// Apply folds one event of the session's subject into the state.
func (s *Session) Apply(e events.Event) {
	s.LastEventAt = e.OccurredAt
	switch d := e.Data.(type) {
	case events.SessionStarted:
		*s = Session{Email: d.Email, MachineID: d.MachineID, ClientVersion: d.ClientVersion,
			StartedAt: e.OccurredAt, LastSeenAt: e.OccurredAt, LastEventAt: e.OccurredAt,
			CheckoutMachine: s.CheckoutMachine, CheckoutLicense: s.CheckoutLicense, CheckoutUntil: s.CheckoutUntil}
	case events.SessionRefreshed:
		s.ClientVersion, s.LastSeenAt = d.ClientVersion, e.OccurredAt
	case events.SessionEnded:
		s.Ended, s.EndReason = true, d.Reason
		if d.Reason == events.SessionUserRemoved {
			s.clearCheckout()
		}
	case events.SessionCheckedOut:
		s.Email, s.CheckoutMachine, s.CheckoutLicense, s.CheckoutUntil = d.Email, d.MachineID, d.LicenseID, d.Until
	case events.SessionCheckedIn:
		s.clearCheckout()
	}
}

// SignIn signs a user in on a machine (D1, D2, D4).
type SignIn struct {
	Account       string
	Email         string
	MachineID     string
	ClientVersion string
	ClientTime    time.Time
}

// Normalize validates the command and returns it in canonical form.
func (c SignIn) Normalize() (SignIn, error) {
	if err := AccountID("account", c.Account); err != nil {
		return c, err
	}
	var err error
	if c.Email, err = NormalizeEmail("email", c.Email); err != nil {
		return c, err
	}
	if err := MachineID("machine_id", c.MachineID); err != nil {
		return c, err
	}
	if _, err := ParseVersion("client_version", c.ClientVersion); err != nil {
		return c, err
	}
	if c.ClientTime, err = Instant("client_time", c.ClientTime); err != nil {
		return c, err
	}
	return c, nil
}

// Decide signs the user in: a new session when none is live, a refresh when
// the live one is on the same machine, signed_in_elsewhere (naming the
// other machine, the user's own information) when it is on another (D1).
// A client clock more than MaxClockSkew from now is clock_skew (D2).
func (c SignIn) Decide(user User, sess Session, now time.Time, ttl time.Duration) ([]events.Event, error) {
	if !user.Registered {
		return nil, userNotFound(c.Account, c.Email)
	}
	if skew := c.ClientTime.Sub(now).Abs(); skew > MaxClockSkew {
		return nil, Reject(CodeClockSkew,
			"the client's clock is %s away from the ledger's; fix the system clock before signing in", skew.Round(time.Second)).
			With("client_time", c.ClientTime).With("ledger_time", now)
	}
	// Only the session changes: the user's own history does not bound it.
	at, err := businessTime(time.Time{}, now, sess.LastEventAt)
	if err != nil {
		return nil, err
	}
	if sess.CheckedOutAt(at) && sess.CheckoutMachine != c.MachineID {
		// A live offline checkout is the user's machine (F6).
		return nil, elsewhere(c.Email, sess.CheckoutMachine, sess.CheckoutUntil)
	}
	if sess.Live(at, ttl) {
		if sess.MachineID != c.MachineID {
			return nil, elsewhere(c.Email, sess.MachineID, sess.ExpiresAt(ttl))
		}
		return []events.Event{event(c.Account, c.Email, at, events.SessionRefreshed{
			Email: c.Email, MachineID: c.MachineID, ClientVersion: c.ClientVersion})}, nil
	}
	var out []events.Event
	if !sess.StartedAt.IsZero() && !sess.Ended {
		// The previous session ran out its TTL unnoticed: record its end.
		out = append(out, event(c.Account, c.Email, at, events.SessionEnded{
			Email: c.Email, MachineID: sess.MachineID, Reason: events.SessionExpired}))
	}
	return append(out, event(c.Account, c.Email, at, events.SessionStarted{
		Email: c.Email, MachineID: c.MachineID, ClientVersion: c.ClientVersion, ClientTime: c.ClientTime})), nil
}

// Heartbeat keeps a live session alive (D3).
type Heartbeat struct {
	Account   string
	Email     string
	MachineID string
}

// Normalize validates the command and returns it in canonical form.
func (c Heartbeat) Normalize() (Heartbeat, error) {
	if err := AccountID("account", c.Account); err != nil {
		return c, err
	}
	var err error
	if c.Email, err = NormalizeEmail("email", c.Email); err != nil {
		return c, err
	}
	return c, MachineID("machine_id", c.MachineID)
}

// Decide refreshes the live session of the same machine, or answers
// not_signed_in.
func (c Heartbeat) Decide(sess Session, now time.Time, ttl time.Duration) ([]events.Event, error) {
	at, err := businessTime(time.Time{}, now, sess.LastEventAt)
	if err != nil {
		return nil, err
	}
	if !sess.Live(at, ttl) || sess.MachineID != c.MachineID {
		return nil, notSignedIn(c.Email, c.MachineID)
	}
	return []events.Event{event(c.Account, c.Email, at, events.SessionRefreshed{
		Email: c.Email, MachineID: c.MachineID, ClientVersion: sess.ClientVersion})}, nil
}

// SignOut ends the user's session (D3).
type SignOut struct {
	Account string
	Email   string
}

// Normalize validates the command and returns it in canonical form.
func (c SignOut) Normalize() (SignOut, error) {
	if err := AccountID("account", c.Account); err != nil {
		return c, err
	}
	var err error
	c.Email, err = NormalizeEmail("email", c.Email)
	return c, err
}

// Decide ends the live session. Signing out with no live session appends
// nothing: the user is signed out either way.
func (c SignOut) Decide(sess Session, now time.Time, ttl time.Duration) ([]events.Event, error) {
	at, err := businessTime(time.Time{}, now, sess.LastEventAt)
	if err != nil {
		return nil, err
	}
	if !sess.Live(at, ttl) {
		return nil, nil
	}
	return []events.Event{event(c.Account, c.Email, at, events.SessionEnded{
		Email: c.Email, MachineID: sess.MachineID, Reason: events.SessionSignedOut})}, nil
}

func notSignedIn(email, machine string) *Error {
	return Reject(CodeNotSignedIn, "%s has no live session on machine %q; sign in first", email, machine).
		With("machine_id", machine)
}

// EndSession returns the event that ends the user's session when the user
// is removed at at (A4, D3). It is appended whether or not a session is
// live: removal and a racing sign-in then contend for the session subject,
// so a removed user can never be left signed in. at must not be before the
// session's last event (the caller includes it when choosing at).
func (c RemoveUser) EndSession(sess Session, at time.Time) ([]events.Event, error) {
	if _, err := businessTime(at, at, sess.LastEventAt); err != nil {
		return nil, err
	}
	machine := sess.MachineID
	if machine == "" {
		machine = sess.CheckoutMachine
	}
	return []events.Event{event(c.Account, c.Email, at, events.SessionEnded{
		Email: c.Email, MachineID: machine, Reason: events.SessionUserRemoved})}, nil
}
