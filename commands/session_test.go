package commands_test

import (
	"slices"
	"testing"
	"time"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
)

// Tests of the sign-in session rules (D1–D4, and A4's "ends their sign-in
// session") on the pure decisions of package commands.

// sessTTL is the default session TTL of rule D3, written out rather than taken
// from package commands: the test states the rule.
const sessTTL = 7 * 24 * time.Hour

// sessSkew is the largest clock difference rule D2 accepts.
const sessSkew = 5 * time.Minute

// sessSignIn normalizes and decides a sign-in of email on machine with the
// client's clock at clientTime and the ledger's at now.
func (w *world) sessSignIn(tb testing.TB, email, machine, version string, clientTime, now time.Time, ttl time.Duration) ([]events.Event, error) {
	tb.Helper()
	c, err := commands.SignIn{Account: acct, Email: email, MachineID: machine, ClientVersion: version, ClientTime: clientTime}.Normalize()
	if err != nil {
		return nil, err
	}
	return c.Decide(w.user(acct, c.Email), w.session(acct, c.Email), now, ttl)
}

// sessIn is a sign-in with an exact client clock and a valid version.
func (w *world) sessIn(tb testing.TB, email, machine string, now time.Time) ([]events.Event, error) {
	tb.Helper()
	return w.sessSignIn(tb, email, machine, "10.00.18", now, now, sessTTL)
}

func (w *world) sessHeartbeat(tb testing.TB, email, machine string, now time.Time, ttl time.Duration) ([]events.Event, error) {
	tb.Helper()
	c, err := commands.Heartbeat{Account: acct, Email: email, MachineID: machine}.Normalize()
	if err != nil {
		return nil, err
	}
	return c.Decide(w.session(acct, c.Email), now, ttl)
}

func (w *world) sessSignOut(tb testing.TB, email string, now time.Time) ([]events.Event, error) {
	tb.Helper()
	c, err := commands.SignOut{Account: acct, Email: email}.Normalize()
	if err != nil {
		return nil, err
	}
	return c.Decide(w.session(acct, c.Email), now, sessTTL)
}

// sessRemove removes a user the way the write side does: the removal's
// events, then the end of the user's live session at the same business time.
func (w *world) sessRemove(tb testing.TB, email string, at, now time.Time) ([]events.Event, error) {
	tb.Helper()
	c := commands.RemoveUser{Account: acct, Email: email, At: at}
	u := w.user(acct, email)
	var lic commands.License
	if u.LicenseID != "" {
		lic = w.license(acct, u.LicenseID)
	}
	evs, err := c.Decide(u, w.owner(email), lic, now)
	if err != nil {
		return nil, err
	}
	end, err := c.EndSession(w.session(acct, email), evs[0].OccurredAt)
	if err != nil {
		return nil, err
	}
	return append(evs, end...), nil
}

// sessNone checks that a decision accepted the command and emitted nothing.
func sessNone(tb testing.TB, what string) func([]events.Event, error) {
	tb.Helper()
	return func(evs []events.Event, err error) {
		tb.Helper()
		if err != nil {
			tb.Fatalf("%s: got %v, want no rejection", what, err)
		}
		if len(evs) != 0 {
			tb.Fatalf("%s: got events %v, want none", what, types(evs))
		}
	}
}

// sessWantState checks a session state's machine and timers.
func sessWantState(tb testing.TB, s commands.Session, machine string, started, lastSeen time.Time) {
	tb.Helper()
	if s.MachineID != machine {
		tb.Errorf("machine_id: got %q, want %q", s.MachineID, machine)
	}
	if !s.StartedAt.Equal(started) {
		tb.Errorf("started_at: got %v, want %v", s.StartedAt, started)
	}
	if !s.LastSeenAt.Equal(lastSeen) {
		tb.Errorf("last_seen_at: got %v, want %v", s.LastSeenAt, lastSeen)
	}
	if got, want := s.ExpiresAt(sessTTL), lastSeen.Add(sessTTL); !got.Equal(want) {
		tb.Errorf("expires_at: got %v, want %v", got, want)
	}
}

// rule D3: the default TTL is 7 days, the offline grace of the real system;
// rule D2: the clock tolerance is 5 minutes.
func TestSessD3DefaultTTL(t *testing.T) {
	if commands.DefaultSessionTTL != sessTTL {
		t.Errorf("DefaultSessionTTL: got %v, want %v", commands.DefaultSessionTTL, sessTTL)
	}
	if commands.MaxClockSkew != sessSkew {
		t.Errorf("MaxClockSkew: got %v, want %v", commands.MaxClockSkew, sessSkew)
	}
}

// rule D1: a first sign-in starts a session; signing in again from the same
// machine refreshes it: last_seen_at and expires_at move, started_at stays,
// and the client version is the latest one.
func TestSessD1SignInStartsThenRefreshes(t *testing.T) {
	w := stdWorld(t)
	clientTime := t0.Add(-time.Minute)
	evs := w.must(t)(w.sessSignIn(t, "A@X.com", "WS-01.acme", "10.00.18", clientTime, t0, sessTTL))
	e, d := only[events.SessionStarted](t, evs)
	if len(evs) != 1 {
		t.Fatalf("events: got %v, want one session.started", types(evs))
	}
	if e.Account != acct || e.AggregateID != "a@x.com" || e.Aggregate() != events.AggregateSession {
		t.Errorf("event on %s/%s/%s, want %s/session/a@x.com", e.Account, e.Aggregate(), e.AggregateID, acct)
	}
	if !e.OccurredAt.Equal(t0) {
		t.Errorf("occurred_at: got %v, want the ledger's clock %v", e.OccurredAt, t0)
	}
	want := events.SessionStarted{Email: "a@x.com", MachineID: "WS-01.acme", ClientVersion: "10.00.18", ClientTime: clientTime}
	if d != want {
		t.Errorf("session.started: got %+v, want %+v", d, want)
	}
	s := w.session(acct, "a@x.com")
	sessWantState(t, s, "WS-01.acme", t0, t0)
	if s.Email != "a@x.com" || s.ClientVersion != "10.00.18" || s.Ended {
		t.Errorf("state: got %+v, want a@x.com on 10.00.18, not ended", s)
	}

	// Again from the same machine, a day later, with a newer client.
	later := t0.Add(24 * time.Hour)
	evs = w.must(t)(w.sessSignIn(t, "a@x.com", "WS-01.acme", "10.00.19", later, later, sessTTL))
	if got := types(evs); !slices.Equal(got, []string{events.TypeSessionRefreshed}) {
		t.Fatalf("events: got %v, want [session.refreshed]", got)
	}
	re, rd := only[events.SessionRefreshed](t, evs)
	if !re.OccurredAt.Equal(later) {
		t.Errorf("refresh occurred_at: got %v, want %v", re.OccurredAt, later)
	}
	if want := (events.SessionRefreshed{Email: "a@x.com", MachineID: "WS-01.acme", ClientVersion: "10.00.19"}); rd != want {
		t.Errorf("session.refreshed: got %+v, want %+v", rd, want)
	}
	s = w.session(acct, "a@x.com")
	sessWantState(t, s, "WS-01.acme", t0, later)
	if s.ClientVersion != "10.00.19" {
		t.Errorf("client_version: got %q, want the refreshed 10.00.19", s.ClientVersion)
	}
	if !s.Live(later.Add(sessTTL-time.Nanosecond), sessTTL) {
		t.Errorf("Live one ns before the moved expiry: got false, want true")
	}
}

// rule D1: while a session on machine A is live, signing in from machine B
// is rejected signed_in_elsewhere, naming machine A; after A signs out, B may
// sign in.
func TestSessD1SignedInElsewhere(t *testing.T) {
	w := stdWorld(t)
	w.must(t)(w.sessIn(t, "a@x.com", "machine-a", t0))
	now := t0.Add(3 * time.Hour)
	e := rejected(t, commands.CodeSignedInElsewhere)(w.sessIn(t, "a@x.com", "machine-b", now))
	wantDetail(t, e, "machine_id", "machine-a")
	wantDetail(t, e, "expires_at", rfc3339(t0.Add(sessTTL)))
	// The email's case does not make it another user.
	rejected(t, commands.CodeSignedInElsewhere)(w.sessIn(t, "A@X.COM", "machine-b", now))
	// Another user may sign in on machine B meanwhile: the rule is per user.
	w.must(t)(w.sessIn(t, "b@x.com", "machine-b", now))

	// Machine A signs out; B signs in with a new session.
	evs := w.must(t)(w.sessSignOut(t, "a@x.com", now.Add(time.Minute)))
	if _, d := only[events.SessionEnded](t, evs); d.Reason != events.SessionSignedOut || d.MachineID != "machine-a" {
		t.Errorf("session.ended: got %+v, want machine-a signed_out", d)
	}
	evs = w.must(t)(w.sessIn(t, "a@x.com", "machine-b", now.Add(2*time.Minute)))
	if got := types(evs); !slices.Equal(got, []string{events.TypeSessionStarted}) {
		t.Fatalf("events: got %v, want [session.started]", got)
	}
	sessWantState(t, w.session(acct, "a@x.com"), "machine-b", now.Add(2*time.Minute), now.Add(2*time.Minute))
}

// rule D1: only a registered user of the account signs in.
func TestSessD1UserNotFound(t *testing.T) {
	w := stdWorld(t)
	for _, email := range []string{
		"nobody@x.com", // never registered
		"g@x.com",      // registered in globex, not in acme
	} {
		e := rejected(t, commands.CodeUserNotFound)(w.sessIn(t, email, "m1", t0))
		wantDetail(t, e, "email", email)
	}
	// A removed user is no longer registered.
	w.must(t)(w.sessRemove(t, "d@x.com", time.Time{}, t0))
	rejected(t, commands.CodeUserNotFound)(w.sessIn(t, "d@x.com", "m1", t0.Add(time.Minute)))
}

// rule D2: a client clock exactly 5 minutes before or after the ledger's is
// accepted; anything further is clock_skew, and nothing is appended.
func TestSessD2ClockSkew(t *testing.T) {
	now := t0.Add(10 * time.Hour)
	tests := []struct {
		name   string
		offset time.Duration
		ok     bool
	}{
		{"same", 0, true},
		{"5m behind", -sessSkew, true},
		{"5m ahead", sessSkew, true},
		{"5m1ns behind", -sessSkew - time.Nanosecond, false},
		{"5m1ns ahead", sessSkew + time.Nanosecond, false},
		{"5m1s behind", -sessSkew - time.Second, false},
		{"5m1s ahead", sessSkew + time.Second, false},
		{"a day behind", -24 * time.Hour, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := stdWorld(t)
			clientTime := now.Add(tt.offset)
			answer := func() ([]events.Event, error) {
				return w.sessSignIn(t, "a@x.com", "m1", "10.00.18", clientTime, now, sessTTL)
			}
			if tt.ok {
				evs := w.must(t)(answer())
				if _, d := only[events.SessionStarted](t, evs); !d.ClientTime.Equal(clientTime) {
					t.Errorf("client_time: got %v, want %v", d.ClientTime, clientTime)
				}
				// The session's times are the ledger's, never the client's.
				sessWantState(t, w.session(acct, "a@x.com"), "m1", now, now)
				return
			}
			e := rejected(t, commands.CodeClockSkew)(answer())
			wantDetail(t, e, "ledger_time", rfc3339(now))
			if tt.offset%time.Second == 0 { // details carry whole seconds
				wantDetail(t, e, "client_time", rfc3339(clientTime))
			}
		})
	}

	// A refresh from the same machine is checked too, and the live session
	// stays as it was.
	w := stdWorld(t)
	w.must(t)(w.sessIn(t, "a@x.com", "m1", t0))
	rejected(t, commands.CodeClockSkew)(w.sessSignIn(t, "a@x.com", "m1", "10.00.18", now.Add(sessSkew+time.Second), now, sessTTL))
	sessWantState(t, w.session(acct, "a@x.com"), "m1", t0, t0)
}

// rule D3: a session is live in [last_seen_at, last_seen_at + TTL). One
// nanosecond before the end another machine is still rejected; exactly at
// the end it has expired, and the next sign-in records the end (reason
// expired) before the new start, both in one decision at the same time.
func TestSessD3ExpiryBoundary(t *testing.T) {
	w := stdWorld(t)
	w.must(t)(w.sessIn(t, "a@x.com", "m1", t0))
	s := w.session(acct, "a@x.com")
	expiry := t0.Add(sessTTL)
	if got := s.ExpiresAt(sessTTL); !got.Equal(expiry) {
		t.Fatalf("ExpiresAt: got %v, want %v", got, expiry)
	}
	for _, c := range []struct {
		at   time.Time
		want bool
	}{{t0, true}, {expiry.Add(-time.Nanosecond), true}, {expiry, false}, {expiry.Add(time.Hour), false}} {
		if got := s.Live(c.at, sessTTL); got != c.want {
			t.Errorf("Live(%v): got %v, want %v", c.at, got, c.want)
		}
	}

	e := rejected(t, commands.CodeSignedInElsewhere)(w.sessIn(t, "a@x.com", "m2", expiry.Add(-time.Nanosecond)))
	wantDetail(t, e, "machine_id", "m1")

	evs := w.must(t)(w.sessIn(t, "a@x.com", "m2", expiry))
	if got := types(evs); !slices.Equal(got, []string{events.TypeSessionEnded, events.TypeSessionStarted}) {
		t.Fatalf("events: got %v, want [session.ended session.started]", got)
	}
	ee, ed := only[events.SessionEnded](t, evs)
	if want := (events.SessionEnded{Email: "a@x.com", MachineID: "m1", Reason: events.SessionExpired}); ed != want {
		t.Errorf("session.ended: got %+v, want %+v", ed, want)
	}
	for _, e := range evs {
		if !e.OccurredAt.Equal(expiry) || e.Subject() != ee.Subject() {
			t.Errorf("%s: at %v on %s, want at %v on %s", e.Type(), e.OccurredAt, e.Subject(), expiry, ee.Subject())
		}
	}
	sessWantState(t, w.session(acct, "a@x.com"), "m2", expiry, expiry)

	// The same machine signing in after expiry starts a new session too:
	// there is nothing live to refresh.
	w2 := stdWorld(t)
	w2.must(t)(w2.sessIn(t, "a@x.com", "m1", t0))
	evs = w2.must(t)(w2.sessIn(t, "a@x.com", "m1", expiry))
	if got := types(evs); !slices.Equal(got, []string{events.TypeSessionEnded, events.TypeSessionStarted}) {
		t.Fatalf("same machine after expiry: got %v, want [session.ended session.started]", got)
	}
	sessWantState(t, w2.session(acct, "a@x.com"), "m1", expiry, expiry)
}

// rule D3: the TTL is configurable; the decisions use the one they are given.
func TestSessD3ConfiguredTTL(t *testing.T) {
	const ttl = time.Hour
	w := stdWorld(t)
	w.must(t)(w.sessSignIn(t, "a@x.com", "m1", "10.00.18", t0, t0, ttl))
	rejected(t, commands.CodeSignedInElsewhere)(w.sessSignIn(t, "a@x.com", "m2", "10.00.18", t0.Add(ttl-time.Nanosecond), t0.Add(ttl-time.Nanosecond), ttl))
	rejected(t, commands.CodeNotSignedIn)(w.sessHeartbeat(t, "a@x.com", "m1", t0.Add(ttl), ttl))
	evs := w.must(t)(w.sessSignIn(t, "a@x.com", "m2", "10.00.18", t0.Add(ttl), t0.Add(ttl), ttl))
	if got := types(evs); !slices.Equal(got, []string{events.TypeSessionEnded, events.TypeSessionStarted}) {
		t.Fatalf("events: got %v, want [session.ended session.started]", got)
	}
}

// rule D3: a heartbeat from the session's machine keeps it alive for another
// TTL; from another machine, or with no live session, it is not_signed_in.
func TestSessD3Heartbeat(t *testing.T) {
	w := stdWorld(t)
	// No session at all.
	e := rejected(t, commands.CodeNotSignedIn)(w.sessHeartbeat(t, "a@x.com", "m1", t0, sessTTL))
	wantDetail(t, e, "machine_id", "m1")

	w.must(t)(w.sessSignIn(t, "a@x.com", "m1", "10.00.17", t0, t0, sessTTL))
	beat := t0.Add(6 * 24 * time.Hour)
	evs := w.must(t)(w.sessHeartbeat(t, "a@x.com", "m1", beat, sessTTL))
	if got := types(evs); !slices.Equal(got, []string{events.TypeSessionRefreshed}) {
		t.Fatalf("events: got %v, want [session.refreshed]", got)
	}
	// A heartbeat keeps the client version the session signed in with.
	if _, d := only[events.SessionRefreshed](t, evs); d.ClientVersion != "10.00.17" || d.MachineID != "m1" {
		t.Errorf("session.refreshed: got %+v, want m1 on 10.00.17", d)
	}
	sessWantState(t, w.session(acct, "a@x.com"), "m1", t0, beat)

	// Past the first expiry the heartbeat has kept it live.
	rejected(t, commands.CodeSignedInElsewhere)(w.sessIn(t, "a@x.com", "m2", t0.Add(sessTTL)))
	rejected(t, commands.CodeSignedInElsewhere)(w.sessIn(t, "a@x.com", "m2", beat.Add(sessTTL-time.Nanosecond)))

	// From the wrong machine.
	e = rejected(t, commands.CodeNotSignedIn)(w.sessHeartbeat(t, "a@x.com", "m2", beat.Add(time.Hour), sessTTL))
	wantDetail(t, e, "machine_id", "m2")

	// After the extended expiry, even the right machine is not signed in.
	rejected(t, commands.CodeNotSignedIn)(w.sessHeartbeat(t, "a@x.com", "m1", beat.Add(sessTTL), sessTTL))

	// After sign-out.
	w2 := stdWorld(t)
	w2.must(t)(w2.sessIn(t, "b@x.com", "m1", t0))
	w2.must(t)(w2.sessSignOut(t, "b@x.com", t0.Add(time.Minute)))
	rejected(t, commands.CodeNotSignedIn)(w2.sessHeartbeat(t, "b@x.com", "m1", t0.Add(2*time.Minute), sessTTL))
}

// rule D3: sign-out ends the live session (reason signed_out); signing out
// again, or with an expired session or none, appends nothing and is no error.
func TestSessD3SignOut(t *testing.T) {
	w := stdWorld(t)
	sessNone(t, "sign-out without a session")(w.sessSignOut(t, "a@x.com", t0))

	w.must(t)(w.sessIn(t, "a@x.com", "m1", t0))
	out := t0.Add(time.Hour)
	evs := w.must(t)(w.sessSignOut(t, "A@x.com", out))
	e, d := only[events.SessionEnded](t, evs)
	if want := (events.SessionEnded{Email: "a@x.com", MachineID: "m1", Reason: events.SessionSignedOut}); d != want || len(evs) != 1 {
		t.Errorf("sign-out: got %v %+v, want one %+v", types(evs), d, want)
	}
	if !e.OccurredAt.Equal(out) {
		t.Errorf("occurred_at: got %v, want %v", e.OccurredAt, out)
	}
	s := w.session(acct, "a@x.com")
	if !s.Ended || s.EndReason != events.SessionSignedOut || s.Live(out, sessTTL) {
		t.Errorf("state after sign-out: got %+v, want ended signed_out and not live", s)
	}
	sessNone(t, "second sign-out")(w.sessSignOut(t, "a@x.com", out.Add(time.Minute)))

	// An expired session: the user is signed out either way.
	w.must(t)(w.sessIn(t, "b@x.com", "m1", t0))
	sessNone(t, "sign-out after expiry")(w.sessSignOut(t, "b@x.com", t0.Add(sessTTL)))
}

// rule A4 (and D3): removing a user ends their live session with reason
// user_removed, at the removal's business time; a session that is not live
// is left alone.
func TestSessD3A4RemoveUserEndsSession(t *testing.T) {
	w := stdWorld(t)
	w.must(t)(w.assign("P1", "a@x.com", t0))
	w.must(t)(w.sessIn(t, "a@x.com", "m1", t0.Add(time.Hour)))
	at := t0.Add(2 * time.Hour)
	evs := w.must(t)(w.sessRemove(t, "a@x.com", time.Time{}, at))
	want := []string{events.TypeUserRemoved, events.TypeEmailReleased, events.TypeLicenseUnassigned, events.TypeSessionEnded}
	if got := types(evs); !slices.Equal(got, want) {
		t.Fatalf("events: got %v, want %v", got, want)
	}
	e, d := only[events.SessionEnded](t, evs)
	if want := (events.SessionEnded{Email: "a@x.com", MachineID: "m1", Reason: events.SessionUserRemoved}); d != want {
		t.Errorf("session.ended: got %+v, want %+v", d, want)
	}
	if !e.OccurredAt.Equal(at) || e.Aggregate() != events.AggregateSession {
		t.Errorf("session.ended: at %v on %s, want at %v on the session", e.OccurredAt, e.Aggregate(), at)
	}
	if s := w.session(acct, "a@x.com"); !s.Ended || s.Live(at, sessTTL) {
		t.Errorf("state: got %+v, want ended", s)
	}

	// Re-registered, the user has no session: another machine signs in
	// with a plain start.
	w.register(t, acct, "a@x.com", "DE", at.Add(time.Minute))
	evs = w.must(t)(w.sessIn(t, "a@x.com", "m2", at.Add(2*time.Minute)))
	if got := types(evs); !slices.Equal(got, []string{events.TypeSessionStarted}) {
		t.Errorf("sign-in after re-registration: got %v, want [session.started]", got)
	}

	// No session, an ended one, or an expired one: the removal still ends
	// the session subject, so a sign-in racing it cannot also win.
	var rm commands.RemoveUser
	rm = commands.RemoveUser{Account: acct, Email: "b@x.com"}
	oneEnd := func(what string, evs []events.Event, err error) {
		t.Helper()
		if err != nil || len(evs) != 1 {
			t.Fatalf("%s: %v, %v; want one session.ended", what, evs, err)
		}
		if d, ok := evs[0].Data.(events.SessionEnded); !ok || d.Reason != events.SessionUserRemoved {
			t.Errorf("%s: %+v, want session.ended with reason user_removed", what, evs[0].Data)
		}
	}
	evs, err := rm.EndSession(commands.Session{}, at)
	oneEnd("no session", evs, err)
	w.must(t)(w.sessIn(t, "b@x.com", "m1", t0))
	evs, err = rm.EndSession(w.session(acct, "b@x.com"), t0.Add(sessTTL))
	oneEnd("expired session", evs, err)
	w.must(t)(w.sessSignOut(t, "b@x.com", t0.Add(time.Minute)))
	evs, err = rm.EndSession(w.session(acct, "b@x.com"), t0.Add(2*time.Minute))
	oneEnd("ended session", evs, err)

	// A removal dated before the live session's last event would rewrite
	// the session's past: at_before_last_event.
	w.must(t)(w.sessIn(t, "c@x.com", "m1", t0.Add(time.Hour)))
	rejected(t, commands.CodeAtBeforeLastEvent)(
		commands.RemoveUser{Account: acct, Email: "c@x.com"}.EndSession(w.session(acct, "c@x.com"), t0.Add(30*time.Minute)))
}

// rule D4: client versions are dotted numbers compared number by number;
// missing trailing numbers count as 0 and leading zeros do not matter.
func TestSessD4CompareVersions(t *testing.T) {
	tests := []struct {
		v, w string
		want int
	}{
		{"10.00.18", "10.00.17.99", 1},
		{"10.00.17.99", "10.00.18", -1},
		{"10.00.18", "10.0.18.0", 0},
		{"10.0.18.0", "10.00.18", 0},
		{"10.00.18.25", "10.00.18", 1},
		{"10.00.18", "10.00.18.25", -1},
		{"10.00.18", "10.00.18", 0},
		{"10.00.9", "10.00.18", -1}, // numbers, not strings
		{"10.1", "10.00.18", 1},
		{"9.99.99.99", "10", -1},
		{"010", "10", 0},
		{"0", "0.0.0.0.0.0.0.0", 0},
		{"999999999", "999999998.999999999", 1},
	}
	for _, tt := range tests {
		v, err := commands.ParseVersion("client_version", tt.v)
		if err != nil {
			t.Fatalf("ParseVersion(%q): %v", tt.v, err)
		}
		w, err := commands.ParseVersion("client_version", tt.w)
		if err != nil {
			t.Fatalf("ParseVersion(%q): %v", tt.w, err)
		}
		if got := v.Compare(w); got != tt.want {
			t.Errorf("%q vs %q: got %d, want %d", tt.v, tt.w, got, tt.want)
		}
	}
}

// rule D4: parsing keeps the numbers; anything but dotted numbers is
// invalid_client_version naming the field.
func TestSessD4ParseVersion(t *testing.T) {
	valid := []struct {
		in   string
		want commands.Version
	}{
		{"10.00.18.25", commands.Version{10, 0, 18, 25}},
		{"10.00.18", commands.Version{10, 0, 18}},
		{"1", commands.Version{1}},
		{"1.2.3.4.5.6.7.8", commands.Version{1, 2, 3, 4, 5, 6, 7, 8}},
		{"999999999.0", commands.Version{999999999, 0}},
	}
	for _, tt := range valid {
		got, err := commands.ParseVersion("client_version", tt.in)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("ParseVersion(%q): got %v, %v; want %v, nil", tt.in, got, err, tt.want)
		}
	}
	for _, in := range sessInvalidVersions {
		_, err := commands.ParseVersion("client_version", in)
		if got := commands.CodeOf(err); got != commands.CodeInvalidClientVersion {
			t.Errorf("ParseVersion(%q): got code %q (%v), want %q", in, got, err, commands.CodeInvalidClientVersion)
			continue
		}
		e := err.(*commands.Error)
		if e.Details["field"] != "client_version" || e.Message == "" {
			t.Errorf("ParseVersion(%q): got details %v, message %q; want field client_version and a message", in, e.Details, e.Message)
		}
	}
}

// sessInvalidVersions are client versions rule D4 rejects.
var sessInvalidVersions = []string{
	"10..18",
	"v10",
	"10.00.18-beta",
	"",
	"1.2.3.4.5.6.7.8.9", // 9 parts
	"10.1234567890",     // a 10-digit part
	"1234567890",
	".10.00",
	"10.00.",
	"10.00.18 ",
	" 10.00.18",
	"10.00.18\n",
	"10,00,18",
	"-1.0",
	"+1.0",
	"1e3",
	"١٠.٠٠", // Arabic-Indic digits are not ASCII numbers
}

// rule D4: a sign-in with an invalid client version is rejected before it
// is decided; a valid one is kept as the client sent it.
func TestSessD4SignInClientVersion(t *testing.T) {
	for _, in := range sessInvalidVersions {
		_, err := commands.SignIn{Account: acct, Email: "a@x.com", MachineID: "m1", ClientVersion: in, ClientTime: t0}.Normalize()
		if got := commands.CodeOf(err); got != commands.CodeInvalidClientVersion {
			t.Errorf("SignIn{ClientVersion: %q}.Normalize: got %q (%v), want %q", in, got, err, commands.CodeInvalidClientVersion)
		}
	}
	w := stdWorld(t)
	evs := w.must(t)(w.sessSignIn(t, "a@x.com", "m1", "10.00.18.25", t0, t0, sessTTL))
	if _, d := only[events.SessionStarted](t, evs); d.ClientVersion != "10.00.18.25" {
		t.Errorf("client_version: got %q, want 10.00.18.25 as sent", d.ClientVersion)
	}
}

// rules D1, D2: the other fields of a sign-in are validated too.
func TestSessSignInNormalize(t *testing.T) {
	base := commands.SignIn{Account: acct, Email: "A@X.COM", MachineID: "WS-0042.acme", ClientVersion: "10.00.18", ClientTime: t0}
	got, err := base.Normalize()
	if err != nil {
		t.Fatalf("Normalize: %v", err)
	}
	if got.Email != "a@x.com" {
		t.Errorf("email: got %q, want it lower-cased", got.Email)
	}
	for _, tt := range []struct {
		field string
		edit  func(*commands.SignIn)
	}{
		{"account", func(c *commands.SignIn) { c.Account = "ACME" }},
		{"email", func(c *commands.SignIn) { c.Email = "a@x" }},
		{"machine_id", func(c *commands.SignIn) { c.MachineID = "" }},
		{"machine_id", func(c *commands.SignIn) { c.MachineID = "-m1" }},
		{"machine_id", func(c *commands.SignIn) { c.MachineID = "m 1" }},
		{"client_time", func(c *commands.SignIn) { c.ClientTime = time.Time{} }},
	} {
		c := base
		tt.edit(&c)
		_, err := c.Normalize()
		wantInvalid(t, err, tt.field)
	}
	_, err = commands.Heartbeat{Account: acct, Email: "a@x.com", MachineID: ""}.Normalize()
	wantInvalid(t, err, "machine_id")
	_, err = commands.SignOut{Account: acct, Email: "nope"}.Normalize()
	wantInvalid(t, err, "email")
}
