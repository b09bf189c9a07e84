package ledger_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/server"
)

// End-to-end tests of the sign-in session rules (D1–D4, and A4's "ends their
// sign-in session") through the HTTP API of a real server. The clock is the
// test's: expiry is reached by setting it, never by waiting.

const sessPath = e2eAcme + "/sessions"

// sessTTL is the default session TTL of rule D3 (7 days), written out rather
// than taken from package commands: the test states the rule.
const sessTTL = 7 * 24 * time.Hour

// sessBody is a sign-in request.
func sessBody(email, machine, version string, clientTime time.Time) map[string]any {
	return map[string]any{"email": email, "machine_id": machine, "client_version": version, "client_time": e2eTS(clientTime)}
}

// sessIn signs email in on machine with the client's clock equal to the
// ledger's and client 10.00.18, and wants 201.
func sessIn(tl *testLedger, email, machine string) response {
	tl.tb.Helper()
	return tl.must(201, "POST", sessPath, sessBody(email, machine, "10.00.18", tl.clock.Now()))
}

// sessWant checks a session as the API shows it; expires_at is
// last_seen_at + TTL (D3).
func sessWant(tb testing.TB, what string, body map[string]any, email, machine, version string, started, lastSeen time.Time, ttl time.Duration) {
	tb.Helper()
	e2eFields(tb, what, body, map[string]any{
		"email":          email,
		"machine_id":     machine,
		"client_version": version,
		"started_at":     e2eTS(started),
		"last_seen_at":   e2eTS(lastSeen),
		"expires_at":     e2eTS(lastSeen.Add(ttl)),
	})
}

// sessOfUser is the "session" of GET user: nil when it is null.
func sessOfUser(tl *testLedger, email string) map[string]any {
	tl.tb.Helper()
	r := tl.must(200, "GET", e2eAcme+"/users/"+email, nil)
	s, ok := r.Body["session"]
	if !ok {
		tl.tb.Fatalf("GET user %s: no session field: %s", email, r.Raw)
	}
	if s == nil {
		return nil
	}
	m, ok := s.(map[string]any)
	if !ok {
		tl.tb.Fatalf("GET user %s: session is neither null nor an object: %s", email, r.Raw)
	}
	return m
}

// sessStream decodes every event of the stream, in order (checkStream does
// the validation at the end of each test).
func sessStream(tl *testLedger) []events.Event {
	tl.tb.Helper()
	var out []events.Event
	for _, m := range tl.streamEvents() {
		e, err := events.Unmarshal(m.Data)
		if err != nil {
			tl.tb.Fatalf("sequence %d: %v", m.Sequence, err)
		}
		out = append(out, e)
	}
	return out
}

// sessSince returns the events appended after the first n.
func sessSince(tl *testLedger, n int) []events.Event {
	tl.tb.Helper()
	return sessStream(tl)[n:]
}

func sessTypes(evs []events.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Type()
	}
	return out
}

// sessWantTypes checks the types of evs.
func sessWantTypes(tb testing.TB, what string, evs []events.Event, want ...string) {
	tb.Helper()
	if got := sessTypes(evs); !slices.Equal(got, want) {
		tb.Fatalf("%s: events got %v, want %v", what, got, want)
	}
}

// sessStartLedger starts a server like startLedger, with a configured session
// TTL (D3).
func sessStartLedger(tb testing.TB, c *clock, ttl time.Duration) *testLedger {
	tb.Helper()
	return startConfigured(tb, server.Config{HTTPAddr: "127.0.0.1:0", SessionTTL: ttl}, c)
}

// rule D1: a first sign-in starts a session (201, session.started); again
// from the same machine refreshes it (session.refreshed): last_seen_at and
// expires_at move, started_at stays. GET user shows the live session.
func TestSessionD1SignInAndRefresh(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()

	n := len(tl.streamEvents())
	clientTime := T0.Add(-2 * time.Minute)
	r := tl.must(201, "POST", sessPath, sessBody("A@X.example", "WS-0042.acme", "10.00.18", clientTime))
	sessWant(t, "sign-in", r.Body, "a@x.example", "WS-0042.acme", "10.00.18", T0, T0, sessTTL)
	evs := sessSince(tl, n)
	sessWantTypes(t, "sign-in", evs, events.TypeSessionStarted)
	d, _ := evs[0].Data.(events.SessionStarted)
	if want := (events.SessionStarted{Email: "a@x.example", MachineID: "WS-0042.acme", ClientVersion: "10.00.18", ClientTime: clientTime}); d != want {
		t.Errorf("session.started: got %+v, want %+v", d, want)
	}
	if evs[0].Subject() != events.Subject("acme", events.AggregateSession, "a@x.example") || !evs[0].OccurredAt.Equal(T0) {
		t.Errorf("session.started on %s at %v, want the session subject at %v", evs[0].Subject(), evs[0].OccurredAt, T0)
	}
	if s := sessOfUser(tl, "a@x.example"); s == nil {
		t.Errorf("GET user: session null, want the live session")
	} else {
		sessWant(t, "GET user", s, "a@x.example", "WS-0042.acme", "10.00.18", T0, T0, sessTTL)
	}

	// Same machine, three days later, newer client: a refresh.
	tl.clock.Advance(3 * 24 * time.Hour)
	later := tl.clock.Now()
	n = len(tl.streamEvents())
	r = tl.must(201, "POST", sessPath, sessBody("a@x.example", "WS-0042.acme", "10.00.19", later))
	sessWant(t, "refresh", r.Body, "a@x.example", "WS-0042.acme", "10.00.19", T0, later, sessTTL)
	evs = sessSince(tl, n)
	sessWantTypes(t, "refresh", evs, events.TypeSessionRefreshed)
	if d, _ := evs[0].Data.(events.SessionRefreshed); d.MachineID != "WS-0042.acme" || d.ClientVersion != "10.00.19" {
		t.Errorf("session.refreshed: got %+v, want WS-0042.acme on 10.00.19", d)
	}
	if s := sessOfUser(tl, "a@x.example"); s == nil {
		t.Errorf("GET user after refresh: session null, want the live session")
	} else {
		sessWant(t, "GET user after refresh", s, "a@x.example", "WS-0042.acme", "10.00.19", T0, later, sessTTL)
	}
	tl.checkStream()
}

// rule D1: signing in from machine B while the session on machine A is live
// is signed_in_elsewhere (409) naming machine A, appending nothing; after A
// signs out, B signs in. An unregistered user is user_not_found (404).
func TestSessionD1SignedInElsewhere(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	sessIn(tl, "a@x.example", "machine-a")
	tl.clock.Advance(time.Hour)

	r := e2eReject(tl, 409, "signed_in_elsewhere", "POST", sessPath, sessBody("a@x.example", "machine-b", "10.00.18", tl.clock.Now()))
	e2eDetail(t, r, "machine_id", "machine-a")
	r = e2eReject(tl, 409, "signed_in_elsewhere", "POST", sessPath, sessBody("A@X.EXAMPLE", "machine-b", "10.00.18", tl.clock.Now()))
	e2eDetail(t, r, "machine_id", "machine-a")
	// The session on A is untouched.
	if s := sessOfUser(tl, "a@x.example"); s == nil {
		t.Fatalf("GET user: session null, want machine-a's")
	} else {
		sessWant(t, "GET user", s, "a@x.example", "machine-a", "10.00.18", T0, T0, sessTTL)
	}
	// The rule is per user: b@ may sign in on machine-b.
	sessIn(tl, "b@x.example", "machine-b")

	tl.must(204, "DELETE", sessPath+"/a@x.example", nil)
	r = sessIn(tl, "a@x.example", "machine-b")
	now := tl.clock.Now()
	sessWant(t, "sign-in on B after sign-out", r.Body, "a@x.example", "machine-b", "10.00.18", now, now, sessTTL)

	// Unregistered, in this account.
	r = e2eReject(tl, 404, "user_not_found", "POST", sessPath, sessBody("nobody@x.example", "m1", "10.00.18", now))
	e2eDetail(t, r, "email", "nobody@x.example")
	// Unknown account.
	e2eReject(tl, 404, "account_not_found", "POST", "/v1/accounts/initech/sessions", sessBody("a@x.example", "m1", "10.00.18", now))
	tl.checkStream()
}

// rule D1: machines racing to sign the same user in: exactly one wins, the
// others are signed_in_elsewhere naming the winner, and the stream holds one
// session.started.
func TestSessionD1ConcurrentMachines(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	machines := []string{"m1", "m2", "m3", "m4"}
	urls := make([]string, len(machines))
	bodies := make([]any, len(machines))
	for i, m := range machines {
		urls[i] = tl.base + sessPath
		bodies[i] = sessBody("a@x.example", m, "10.00.18", T0)
	}
	n := len(tl.streamEvents())
	res := raceAll(tl, urls, bodies)
	winner := ""
	for i, r := range res {
		switch {
		case r.status == 201:
			if winner != "" {
				t.Errorf("%s and %s both signed in", winner, machines[i])
			}
			winner = machines[i]
		case r.status != 409 || r.code != "signed_in_elsewhere":
			t.Errorf("%s: got %d %q, want 201 or 409 signed_in_elsewhere: %s", machines[i], r.status, r.code, r.raw)
		}
	}
	if winner == "" {
		t.Fatalf("no machine signed in: %+v", res)
	}
	for i, r := range res {
		if r.status == 409 {
			e, _ := r.body["error"].(map[string]any)
			d, _ := e["details"].(map[string]any)
			if d["machine_id"] != winner {
				t.Errorf("%s: details.machine_id got %v, want the winner %s", machines[i], d["machine_id"], winner)
			}
		}
	}
	sessWantTypes(t, "race", sessSince(tl, n), events.TypeSessionStarted)
	tl.checkStream()
}

// rule D2: a client clock exactly 5 minutes behind or ahead of the ledger's
// is accepted; 5 minutes and 1 second either way is clock_skew (409) and
// appends nothing.
func TestSessionD2ClockSkew(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	tl.clock.Set(T0.Add(time.Hour))
	now := tl.clock.Now()
	skew := 5 * time.Minute

	for _, off := range []time.Duration{-skew - time.Second, skew + time.Second} {
		r := e2eReject(tl, 409, "clock_skew", "POST", sessPath, sessBody("a@x.example", "m1", "10.00.18", now.Add(off)))
		e2eDetail(t, r, "ledger_time", now.Format(time.RFC3339))
		e2eDetail(t, r, "client_time", now.Add(off).Format(time.RFC3339))
	}
	if s := sessOfUser(tl, "a@x.example"); s != nil {
		t.Errorf("GET user after clock_skew: session %v, want null", s)
	}

	for _, c := range []struct {
		email string
		off   time.Duration
	}{{"a@x.example", -skew}, {"b@x.example", skew}} {
		r := tl.must(201, "POST", sessPath, sessBody(c.email, "m-"+c.email[:1], "10.00.18", now.Add(c.off)))
		// The session's times are the ledger's, never the client's.
		sessWant(t, "sign-in off by "+c.off.String(), r.Body, c.email, "m-"+c.email[:1], "10.00.18", now, now, sessTTL)
	}

	// A refresh with a skewed clock is rejected too; the session stays.
	tl.clock.Advance(time.Hour)
	e2eReject(tl, 409, "clock_skew", "POST", sessPath, sessBody("a@x.example", "m-a", "10.00.18", tl.clock.Now().Add(-skew-time.Second)))
	if s := sessOfUser(tl, "a@x.example"); s == nil {
		t.Errorf("GET user: session null, want the unrefreshed one")
	} else {
		sessWant(t, "GET user", s, "a@x.example", "m-a", "10.00.18", now, now, sessTTL)
	}
	tl.checkStream()
}

// rule D3: with the default TTL of 7 days, at last_seen_at + TTL − 1ns the
// session is live (another machine is rejected, GET user shows it); exactly
// at last_seen_at + TTL it has expired (GET user shows null) and another
// machine signs in: the stream records session.ended (reason expired) and
// then session.started, both from that one command.
func TestSessionD3ExpiryWithClock(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	sessIn(tl, "a@x.example", "m1")
	expiry := T0.Add(sessTTL)

	tl.clock.Set(expiry.Add(-time.Nanosecond))
	r := e2eReject(tl, 409, "signed_in_elsewhere", "POST", sessPath, sessBody("a@x.example", "m2", "10.00.18", tl.clock.Now()))
	e2eDetail(t, r, "machine_id", "m1")
	if s := sessOfUser(tl, "a@x.example"); s == nil {
		t.Errorf("GET user 1ns before expiry: session null, want live")
	} else {
		sessWant(t, "GET user 1ns before expiry", s, "a@x.example", "m1", "10.00.18", T0, T0, sessTTL)
	}

	tl.clock.Set(expiry)
	if s := sessOfUser(tl, "a@x.example"); s != nil {
		t.Errorf("GET user at expiry: session %v, want null", s)
	}
	n := len(tl.streamEvents())
	r = sessIn(tl, "a@x.example", "m2")
	sessWant(t, "sign-in at expiry", r.Body, "a@x.example", "m2", "10.00.18", expiry, expiry, sessTTL)
	evs := sessSince(tl, n)
	sessWantTypes(t, "sign-in at expiry", evs, events.TypeSessionEnded, events.TypeSessionStarted)
	if d, _ := evs[0].Data.(events.SessionEnded); d.Reason != events.SessionExpired || d.MachineID != "m1" {
		t.Errorf("session.ended: got %+v, want m1 expired", d)
	}
	if d, _ := evs[1].Data.(events.SessionStarted); d.MachineID != "m2" {
		t.Errorf("session.started: got %+v, want m2", d)
	}
	if evs[0].CommandID != evs[1].CommandID || evs[0].Subject() != evs[1].Subject() {
		t.Errorf("ended (command %s on %s) and started (command %s on %s): want one command on one subject",
			evs[0].CommandID, evs[0].Subject(), evs[1].CommandID, evs[1].Subject())
	}
	for _, e := range evs {
		if !e.OccurredAt.Equal(expiry) {
			t.Errorf("%s occurred_at: got %v, want %v", e.Type(), e.OccurredAt, expiry)
		}
	}

	// The same machine signing in after its session expired starts anew.
	tl.clock.Set(expiry.Add(sessTTL))
	r = sessIn(tl, "a@x.example", "m2")
	sessWant(t, "same machine after expiry", r.Body, "a@x.example", "m2", "10.00.18", expiry.Add(sessTTL), expiry.Add(sessTTL), sessTTL)
	tl.checkStream()
}

// rule D3: a heartbeat from the session's machine extends it (200, the
// session); from another machine, after expiry, after sign-out or with no
// session at all it is not_signed_in (409), appending nothing.
func TestSessionD3Heartbeat(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	hb := func(email string) string { return sessPath + "/" + email + "/heartbeat" }

	r := e2eReject(tl, 409, "not_signed_in", "POST", hb("a@x.example"), map[string]any{"machine_id": "m1"})
	e2eDetail(t, r, "machine_id", "m1")

	tl.must(201, "POST", sessPath, sessBody("a@x.example", "m1", "10.00.17", T0))
	tl.clock.Advance(6 * 24 * time.Hour)
	beat := tl.clock.Now()
	n := len(tl.streamEvents())
	r = tl.must(200, "POST", hb("A@X.example"), map[string]any{"machine_id": "m1"})
	sessWant(t, "heartbeat", r.Body, "a@x.example", "m1", "10.00.17", T0, beat, sessTTL)
	sessWantTypes(t, "heartbeat", sessSince(tl, n), events.TypeSessionRefreshed)

	// Past the first expiry, the heartbeat has kept the session live.
	tl.clock.Set(T0.Add(sessTTL))
	e2eReject(tl, 409, "signed_in_elsewhere", "POST", sessPath, sessBody("a@x.example", "m2", "10.00.18", tl.clock.Now()))
	if s := sessOfUser(tl, "a@x.example"); s == nil {
		t.Errorf("GET user at the first expiry: session null, want the heartbeat's")
	} else {
		sessWant(t, "GET user", s, "a@x.example", "m1", "10.00.17", T0, beat, sessTTL)
	}

	// From the wrong machine.
	r = e2eReject(tl, 409, "not_signed_in", "POST", hb("a@x.example"), map[string]any{"machine_id": "m2"})
	e2eDetail(t, r, "machine_id", "m2")

	// 1ns before the extended expiry it still works; at it, it does not.
	tl.clock.Set(beat.Add(sessTTL - time.Nanosecond))
	r = tl.must(200, "POST", hb("a@x.example"), map[string]any{"machine_id": "m1"})
	last := tl.clock.Now()
	sessWant(t, "heartbeat 1ns before expiry", r.Body, "a@x.example", "m1", "10.00.17", T0, last, sessTTL)
	tl.clock.Set(last.Add(sessTTL))
	e2eReject(tl, 409, "not_signed_in", "POST", hb("a@x.example"), map[string]any{"machine_id": "m1"})
	if s := sessOfUser(tl, "a@x.example"); s != nil {
		t.Errorf("GET user after expiry: session %v, want null", s)
	}

	// After sign-out.
	sessIn(tl, "b@x.example", "m3")
	tl.must(204, "DELETE", sessPath+"/b@x.example", nil)
	e2eReject(tl, 409, "not_signed_in", "POST", hb("b@x.example"), map[string]any{"machine_id": "m3"})
	tl.checkStream()
}

// rule D3: sign-out ends the session (204, session.ended reason
// signed_out) and GET user shows it null; signing out again appends nothing
// and still answers 204.
func TestSessionD3SignOut(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	sessIn(tl, "a@x.example", "m1")
	tl.clock.Advance(time.Hour)

	n := len(tl.streamEvents())
	r := tl.must(204, "DELETE", sessPath+"/A@X.example", nil)
	if len(r.Raw) != 0 {
		t.Errorf("sign-out: body %q, want none", r.Raw)
	}
	evs := sessSince(tl, n)
	sessWantTypes(t, "sign-out", evs, events.TypeSessionEnded)
	if d, _ := evs[0].Data.(events.SessionEnded); d != (events.SessionEnded{Email: "a@x.example", MachineID: "m1", Reason: events.SessionSignedOut}) {
		t.Errorf("session.ended: got %+v, want a@x.example m1 signed_out", d)
	}
	if !evs[0].OccurredAt.Equal(tl.clock.Now()) {
		t.Errorf("session.ended occurred_at: got %v, want %v", evs[0].OccurredAt, tl.clock.Now())
	}
	if s := sessOfUser(tl, "a@x.example"); s != nil {
		t.Errorf("GET user after sign-out: session %v, want null", s)
	}

	n = len(tl.streamEvents())
	tl.must(204, "DELETE", sessPath+"/a@x.example", nil)
	tl.clock.Advance(sessTTL)
	tl.must(204, "DELETE", sessPath+"/a@x.example", nil)
	if got := sessSince(tl, n); len(got) != 0 {
		t.Errorf("second sign-out: appended %v, want nothing", sessTypes(got))
	}

	// An expired session: sign-out answers 204; GET shows null.
	sessIn(tl, "b@x.example", "m2")
	tl.clock.Advance(sessTTL)
	tl.must(204, "DELETE", sessPath+"/b@x.example", nil)
	if s := sessOfUser(tl, "b@x.example"); s != nil {
		t.Errorf("GET user after expiry and sign-out: session %v, want null", s)
	}
	tl.checkStream()
}

// rule A4 (and D3): removing a user with a live session ends it (reason
// user_removed) in the removal's command; the removed user cannot sign in;
// re-registered, GET user shows a null session and any machine may sign in.
func TestSessionD3A4RemoveUserEndsSession(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	sessIn(tl, "a@x.example", "m1")
	tl.clock.Advance(time.Hour)

	n := len(tl.streamEvents())
	tl.must(204, "DELETE", e2eAcme+"/users/a@x.example", nil)
	evs := sessSince(tl, n)
	var ended []events.Event
	for _, e := range evs {
		if e.Type() == events.TypeSessionEnded {
			ended = append(ended, e)
		}
		if e.CommandID != evs[0].CommandID {
			t.Errorf("%s: command %s, want the removal's %s", e.Type(), e.CommandID, evs[0].CommandID)
		}
	}
	if len(ended) != 1 {
		t.Fatalf("removal: events %v, want one session.ended", sessTypes(evs))
	}
	if d, _ := ended[0].Data.(events.SessionEnded); d != (events.SessionEnded{Email: "a@x.example", MachineID: "m1", Reason: events.SessionUserRemoved}) {
		t.Errorf("session.ended: got %+v, want a@x.example m1 user_removed", d)
	}
	if !ended[0].OccurredAt.Equal(tl.clock.Now()) || ended[0].Subject() != events.Subject("acme", events.AggregateSession, "a@x.example") {
		t.Errorf("session.ended at %v on %s, want at %v on the session", ended[0].OccurredAt, ended[0].Subject(), tl.clock.Now())
	}

	e2eReject(tl, 404, "user_not_found", "POST", sessPath, sessBody("a@x.example", "m1", "10.00.18", tl.clock.Now()))
	e2eReject(tl, 409, "not_signed_in", "POST", sessPath+"/a@x.example/heartbeat", map[string]any{"machine_id": "m1"})

	tl.clock.Advance(time.Minute)
	tl.must(201, "POST", e2eAcme+"/users", map[string]any{"email": "a@x.example", "entitlement_country": "DE"})
	if s := sessOfUser(tl, "a@x.example"); s != nil {
		t.Errorf("GET re-registered user: session %v, want null", s)
	}
	n = len(tl.streamEvents())
	sessIn(tl, "a@x.example", "m2")
	sessWantTypes(t, "sign-in after re-registration", sessSince(tl, n), events.TypeSessionStarted)

	// A removal ends the session subject even when no session is live, so
	// a sign-in racing the removal cannot also win.
	sessIn(tl, "b@x.example", "m3")
	tl.clock.Advance(sessTTL)
	n = len(tl.streamEvents())
	tl.must(204, "DELETE", e2eAcme+"/users/b@x.example", nil)
	removed := 0
	for _, e := range sessSince(tl, n) {
		if d, ok := e.Data.(events.SessionEnded); ok && d.Reason == events.SessionUserRemoved {
			removed++
		}
	}
	if removed != 1 {
		t.Errorf("removal after expiry: %d session.ended (user_removed), want 1", removed)
	}
	tl.checkStream()
}

// rule D4: an invalid client_version is invalid_client_version (400) with
// details.field client_version, appending nothing; valid ones are kept as
// sent.
func TestSessionD4ClientVersion(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	for _, v := range []string{
		"10..18", "v10", "10.00.18-beta", "", "1.2.3.4.5.6.7.8.9", "10.1234567890", "10.00.18 ", "10.00.",
	} {
		r := e2eReject(tl, 400, "invalid_client_version", "POST", sessPath, sessBody("a@x.example", "m1", v, tl.clock.Now()))
		e2eDetail(t, r, "field", "client_version")
	}
	// Also when the body leaves it out.
	r := e2eReject(tl, 400, "invalid_client_version", "POST", sessPath,
		map[string]any{"email": "a@x.example", "machine_id": "m1", "client_time": e2eTS(tl.clock.Now())})
	e2eDetail(t, r, "field", "client_version")

	for i, v := range []string{"10.00.18.25", "10.0.18.0", "1.2.3.4.5.6.7.8", "999999999"} {
		email := []string{"a", "b", "c", "a"}[i] + "@x.example"
		if i == 3 {
			tl.must(204, "DELETE", sessPath+"/a@x.example", nil)
		}
		r := tl.must(201, "POST", sessPath, sessBody(email, "m1", v, tl.clock.Now()))
		e2eFields(t, "sign-in "+v, r.Body, map[string]any{"client_version": v})
	}
	tl.checkStream()
}

// docs/api.md: an Idempotency-Key on sign-in replays the first answer byte for
// byte and appends nothing, even after the session has moved on; the same
// key with another body is idempotency_key_reused. A sign-in that recorded
// an expiry and a new start replays the new session.
func TestSessionIdempotentSignIn(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	c := e2eCmd{"POST", sessPath, sessBody("a@x.example", "m1", "10.00.18", T0), 201}
	n := len(tl.streamEvents())
	first := tl.must(201, c.method, c.path, c.body, "Idempotency-Key", "sess-1")
	sessWantTypes(t, "first sign-in", sessSince(tl, n), events.TypeSessionStarted)
	e2eReplay(tl, "sess-1", c, first)

	// The session moves on: a heartbeat an hour later. The replay is still
	// the first answer.
	tl.clock.Advance(time.Hour)
	tl.must(200, "POST", sessPath+"/a@x.example/heartbeat", map[string]any{"machine_id": "m1"})
	e2eReplay(tl, "sess-1", c, first)

	e2eReject(tl, 409, "idempotency_key_reused", "POST", sessPath,
		sessBody("a@x.example", "m1", "10.00.19", tl.clock.Now()), "Idempotency-Key", "sess-1")

	// Expiry then start in one command, replayed.
	tl.clock.Set(T0.Add(time.Hour + sessTTL))
	c2 := e2eCmd{"POST", sessPath, sessBody("a@x.example", "m2", "10.00.18", tl.clock.Now()), 201}
	n = len(tl.streamEvents())
	second := tl.must(201, c2.method, c2.path, c2.body, "Idempotency-Key", "sess-2")
	sessWantTypes(t, "sign-in after expiry", sessSince(tl, n), events.TypeSessionEnded, events.TypeSessionStarted)
	now := tl.clock.Now()
	sessWant(t, "sign-in after expiry", second.Body, "a@x.example", "m2", "10.00.18", now, now, sessTTL)
	tl.clock.Advance(time.Minute)
	e2eReplay(tl, "sess-2", c2, second)
	tl.checkStream()
}

// rule D3: the TTL is configurable (here 1 hour): expires_at follows it, and
// the session expires exactly at last_seen_at + TTL.
func TestSessionD3ConfiguredTTL(t *testing.T) {
	const ttl = time.Hour
	tl := sessStartLedger(t, newClock(T0), ttl)
	tl.setup()
	r := sessIn(tl, "a@x.example", "m1")
	sessWant(t, "sign-in", r.Body, "a@x.example", "m1", "10.00.18", T0, T0, ttl)

	tl.clock.Set(T0.Add(ttl - time.Nanosecond))
	e2eReject(tl, 409, "signed_in_elsewhere", "POST", sessPath, sessBody("a@x.example", "m2", "10.00.18", tl.clock.Now()))
	tl.clock.Set(T0.Add(ttl))
	if s := sessOfUser(tl, "a@x.example"); s != nil {
		t.Errorf("GET user at expiry: session %v, want null", s)
	}
	n := len(tl.streamEvents())
	sessIn(tl, "a@x.example", "m2")
	sessWantTypes(t, "sign-in at expiry", sessSince(tl, n), events.TypeSessionEnded, events.TypeSessionStarted)
	tl.checkStream()
}

// rule D3: signing out a user who never signed in appends nothing and
// answers 204 (the user is signed out either way); it is never a 5xx.
func TestSessionD3SignOutWithoutSession(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	n := len(tl.streamEvents())
	if r := tl.do("DELETE", sessPath+"/a@x.example", nil); r.Status != 204 {
		t.Errorf("sign-out of a user who never signed in: got %d %s, want 204", r.Status, r.Raw)
	}
	// Not a user of the account: signed out either way, or user_not_found;
	// tl.do fails the test on a 5xx.
	if r := tl.do("DELETE", sessPath+"/nobody@x.example", nil); r.Status != 204 && (r.Status != 404 || r.code() != "user_not_found") {
		t.Errorf("sign-out of a non-user: got %d %s, want 204 or 404 user_not_found", r.Status, r.Raw)
	}
	if got := sessSince(tl, n); len(got) != 0 {
		t.Errorf("sign-out without a session: appended %v, want nothing", sessTypes(got))
	}
	if s := sessOfUser(tl, "a@x.example"); s != nil {
		t.Errorf("GET user: session %v, want null", s)
	}
	tl.checkStream()
}

// rules A4, D1: a sign-in racing the user's removal never leaves a removed
// user signed in: both write the session subject, so one of them loses.
func TestSessionSignInRacesRemoval(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	for round := 0; round < 10; round++ {
		email := fmt.Sprintf("race%d@x.example", round)
		tl.must(201, "POST", "/v1/accounts/acme/users", map[string]any{"email": email, "entitlement_country": "DE"})
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			tl.do("POST", "/v1/accounts/acme/sessions", map[string]any{"email": email, "machine_id": "m1",
				"client_version": "10.00.18", "client_time": tl.clock.Now().Format(time.RFC3339Nano)})
		}()
		go func() { defer wg.Done(); tl.do("DELETE", "/v1/accounts/acme/users/"+email, nil) }()
		wg.Wait()
		tl.must(201, "POST", "/v1/accounts/acme/users", map[string]any{"email": email, "entitlement_country": "DE"})
		if r := tl.must(200, "GET", "/v1/accounts/acme/users/"+email, nil); r.Body["session"] != nil {
			t.Fatalf("round %d: the removed user is still signed in: %s", round, r.Raw)
		}
	}
	tl.checkStream()
}

// rule D3: usage keeps a session alive like a heartbeat: a session lives
// until TTL after the user's latest usage on its machine; usage on another
// machine does not count.
func TestSessionD3UsageKeepsSessionAlive(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	signIn := func(machine string) response {
		return tl.do("POST", "/v1/accounts/acme/sessions", map[string]any{"email": "a@x.example", "machine_id": machine,
			"client_version": "10.00.18", "client_time": tl.clock.Now().Format(time.RFC3339Nano)})
	}
	if r := signIn("m1"); r.Status != 201 {
		t.Fatalf("sign-in: %d %s", r.Status, r.Raw)
	}
	usage := func(id, machine string, ended time.Time) {
		t.Helper()
		tl.must(200, "POST", "/v1/accounts/acme/usage", map[string]any{"records": []map[string]any{{
			"usage_id": id, "email": "a@x.example", "product": "microstation", "machine_id": machine,
			"client_version": "10.00.18", "started_at": e2eTS(ended.Add(-time.Hour)), "ended_at": e2eTS(ended), "offline": false}}})
	}
	tl.clock.Advance(6 * 24 * time.Hour)
	usage("on-m1", "m1", tl.clock.Now())
	usage("on-m9", "m9", tl.clock.Now().Add(time.Minute)) // another machine: no effect on m1's session
	tl.clock.Advance(2 * 24 * time.Hour)                  // 8 days after sign-in, 2 after the usage
	if r := signIn("m2"); r.Status != 409 || r.code() != "signed_in_elsewhere" {
		t.Errorf("sign-in elsewhere 2 days after usage: %d %s, want signed_in_elsewhere", r.Status, r.Raw)
	}
	if r := tl.must(200, "GET", "/v1/accounts/acme/users/a@x.example", nil); r.Body["session"] == nil {
		t.Error("GET user: session null 2 days after usage on its machine")
	}
	tl.clock.Set(T0.Add(13 * 24 * time.Hour)) // 7 days after the usage on m1 (m9's came a minute later)
	if r := signIn("m2"); r.Status != 201 {
		t.Errorf("sign-in elsewhere 7 days after the last usage: %d %s, want 201", r.Status, r.Raw)
	}
	tl.checkStream()
}
