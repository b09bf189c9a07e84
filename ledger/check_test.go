package ledger_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/entledger/ledger/events"
)

// End-to-end tests of rules B3 and E1–E3 (entitlement checks and access
// control) through the HTTP API of a real server. Every check must answer
// 200 and append exactly one check.recorded event on
// ledger.events.<account>.check.<product>.

const (
	chkAcme   = "/v1/accounts/acme"
	chkChecks = chkAcme + "/checks"
	chkNew    = "10.00.18.25" // a client that may use a practitioner licence
	chkOld    = "10.00.17.99" // one that may not (E1)
)

// The end of every standard licence term in these tests.
var chkFar = time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC)

// chkStart starts a ledger whose clock stands at T0, with account acme and
// the users a, b, c, d and alt.a (a second email of a's person) @x.example,
// all with a country.
func chkStart(t *testing.T) *testLedger {
	t.Helper()
	tl := startLedger(t, "", nil)
	tl.must(201, "POST", "/v1/accounts", map[string]any{"id": "acme", "name": "Acme", "fulfillment_contact": "ops@acme.example"})
	for _, u := range []string{"a", "b", "c", "d", "alt.a"} {
		tl.must(201, "POST", chkAcme+"/users", map[string]any{"email": u + "@x.example", "entitlement_country": "DE"})
	}
	return tl
}

// chkLicense creates a licence in acme.
func chkLicense(tl *testLedger, id, kind string, seats int, from, until time.Time, products ...string) {
	tl.tb.Helper()
	tl.must(201, "POST", chkAcme+"/licenses", e2eLicense(id, kind, seats, from, until, products...))
}

// chkAssign assigns a practitioner licence of acme now.
func chkAssign(tl *testLedger, id, email string) {
	tl.tb.Helper()
	tl.must(200, "POST", chkAcme+"/licenses/"+id+"/assign", e2eAssign(email))
}

// chkAns is the answer a check should give.
type chkAns struct {
	granted              bool
	typ, license, reason string
}

func chkGrant(typ, id string) chkAns { return chkAns{true, typ, id, typ} }

var (
	chkNone   = chkAns{reason: "no_entitlement"}
	chkTooOld = chkAns{reason: "client_too_old_for_practitioner"}
	chkDenied = chkAns{reason: "access_denied"}
	chkNoUser = chkAns{reason: "user_not_found"}
)

func chkPrac(id string) chkAns   { return chkGrant("practitioner", id) }
func chkPooled(id string) chkAns { return chkGrant("pooled", id) }
func chkTrial(id string) chkAns  { return chkGrant("trial", id) }

// body is the answer as docs/api.md writes it: license_type and license_id are
// null on a denial.
func (a chkAns) body() map[string]any {
	b := map[string]any{"granted": a.granted, "license_type": nil, "license_id": nil, "reason": a.reason}
	if a.granted {
		b["license_type"], b["license_id"] = a.typ, a.license
	}
	return b
}

// record is the check.recorded data of this answer to a request.
func (a chkAns) record(email, product, machine, version string) events.CheckRecorded {
	return events.CheckRecorded{Email: strings.ToLower(email), Product: product, MachineID: machine, ClientVersion: version,
		Granted: a.granted, LicenseType: a.typ, LicenseID: a.license, Reason: a.reason}
}

// chkBodyIs checks an answer body is exactly want's.
func chkBodyIs(tb testing.TB, what string, got map[string]any, want chkAns) {
	tb.Helper()
	if w := want.body(); !reflect.DeepEqual(got, w) {
		tb.Errorf("%s: got %v, want %v", what, got, w)
	}
}

func chkReq(email, product, machine, version string) map[string]any {
	return map[string]any{"email": email, "product": product, "machine_id": machine, "client_version": version}
}

// chkSubject is the check subject of acme's product.
func chkSubject(product string) string { return events.Subject("acme", events.AggregateCheck, product) }

// chkExpect sends one check from machine m-1, expects 200 and want, and
// checks rule E3: the stream grew by exactly one event, a check.recorded on
// the product's check subject at the ledger's clock, recording the request
// (email lower-cased) and the answer.
func chkExpect(tl *testLedger, email, product, version string, want chkAns) {
	tl.tb.Helper()
	what := fmt.Sprintf("check %s %s %s at %s", email, product, version, e2eTS(tl.clock.Now()))
	before := e2eStreamLen(tl.tb, tl.srv)
	r := tl.must(200, "POST", chkChecks, chkReq(email, product, "m-1", version))
	chkBodyIs(tl.tb, what, r.Body, want)
	if after := e2eStreamLen(tl.tb, tl.srv); after != before+1 {
		tl.tb.Errorf("%s: the stream grew by %d events, want 1 (E3)", what, after-before)
	}
	m, err := tl.srv.Conn().Stream.GetLastMsgForSubject(context.Background(), chkSubject(product))
	if err != nil {
		tl.tb.Fatalf("%s: last message on %s: %v", what, chkSubject(product), err)
	}
	e, err := events.Unmarshal(m.Data)
	if err != nil {
		tl.tb.Fatalf("%s: %v", what, err)
	}
	if m.Sequence != before+1 {
		tl.tb.Errorf("%s: last check event is sequence %d, want the new one", what, m.Sequence)
	}
	if e.Type() != events.TypeCheckRecorded {
		tl.tb.Errorf("%s: event type %s, want %s", what, e.Type(), events.TypeCheckRecorded)
	}
	if d, w := e.Data, want.record(email, product, "m-1", version); d != w {
		tl.tb.Errorf("%s: recorded %+v, want %+v", what, d, w)
	}
	if now := tl.clock.Now(); !e.OccurredAt.Equal(now) {
		tl.tb.Errorf("%s: occurred_at %s, want the ledger's clock %s", what, e2eTS(e.OccurredAt), e2eTS(now))
	}
}

// chkCheckEvents returns the check.recorded events of acme's product in the
// stream, in order.
func chkCheckEvents(tl *testLedger, product string) []events.Event {
	tl.tb.Helper()
	var out []events.Event
	for _, m := range tl.streamEvents() {
		if m.Subject != chkSubject(product) {
			continue
		}
		e, err := events.Unmarshal(m.Data)
		if err != nil {
			tl.tb.Fatalf("sequence %d: %v", m.Sequence, err)
		}
		out = append(out, e)
	}
	return out
}

// rule E1: practitioner (held, active, covering, client ≥ 10.00.18) beats
// commercial beats trial; otherwise no_entitlement; an unknown user is
// denied user_not_found, and every answer is recorded (E3).
func TestCheckE1Order(t *testing.T) {
	tl := chkStart(t)
	chkLicense(tl, "P1", "practitioner", 0, T0, chkFar, "revit")
	chkLicense(tl, "C1", "commercial", 2, T0, chkFar, "revit")
	chkLicense(tl, "T1", "trial", 0, T0, chkFar, "revit", "navisworks")
	chkAssign(tl, "P1", "a@x.example")

	chkExpect(tl, "a@x.example", "revit", chkNew, chkPrac("P1"))
	chkExpect(tl, "A@X.Example", "revit", chkNew, chkPrac("P1"))
	chkExpect(tl, "b@x.example", "revit", chkNew, chkPooled("C1"))
	chkExpect(tl, "b@x.example", "navisworks", chkNew, chkTrial("T1"))
	chkExpect(tl, "a@x.example", "navisworks", chkNew, chkTrial("T1")) // P1 does not cover navisworks
	chkExpect(tl, "b@x.example", "civil3d", chkNew, chkNone)
	chkExpect(tl, "a@x.example", "civil3d", chkNew, chkNone)
	chkExpect(tl, "zz@x.example", "revit", chkNew, chkNoUser)
	chkExpect(tl, "zz@x.example", "civil3d", chkNew, chkNoUser)

	// The client version is compared number by number against 10.00.18.
	for _, v := range []string{"10.00.18", "10.0.18.0", "10.00.18.1", "10.1", "11"} {
		chkExpect(tl, "a@x.example", "revit", v, chkPrac("P1"))
	}
	for _, v := range []string{chkOld, "10.00.17", "10"} {
		chkExpect(tl, "a@x.example", "revit", v, chkPooled("C1"))
		chkExpect(tl, "a@x.example", "navisworks", v, chkTrial("T1"))
	}
	tl.checkStream()
}

// rule E1: an old client falls through to trial; with nothing else to grant
// the check, the answer says the client is too old for the practitioner
// licence the user holds.
func TestCheckE1OldClientFallsThrough(t *testing.T) {
	tl := chkStart(t)
	chkLicense(tl, "P1", "practitioner", 0, T0, chkFar, "revit", "inventor")
	chkLicense(tl, "T1", "trial", 0, T0, chkFar, "revit")
	chkAssign(tl, "P1", "a@x.example")
	chkExpect(tl, "a@x.example", "revit", "10.00.17.99", chkTrial("T1"))
	chkExpect(tl, "a@x.example", "inventor", "10.00.17.99", chkTooOld)
	chkExpect(tl, "a@x.example", "revit", "10.00.18", chkPrac("P1"))
	chkExpect(tl, "a@x.example", "inventor", "10.0.18.0", chkPrac("P1"))
	chkExpect(tl, "a@x.example", "inventor", "10.00.18.1", chkPrac("P1"))
	tl.checkStream()
}

// rules E1, B2: a licence counts only while active, [valid_from,
// valid_until): exactly at valid_from it counts, exactly at valid_until it
// no longer does, for every kind.
func TestCheckE1TermBoundaries(t *testing.T) {
	tl := chkStart(t)
	from, until := T0.Add(24*time.Hour), T0.Add(48*time.Hour)
	chkLicense(tl, "P1", "practitioner", 0, T0, until, "prac", "mix")
	chkLicense(tl, "CM", "commercial", 1, T0, chkFar, "mix")
	chkLicense(tl, "C1", "commercial", 1, from, until, "comm")
	chkLicense(tl, "T1", "trial", 0, from, until, "tri")
	chkAssign(tl, "P1", "a@x.example") // at T0, P1's valid_from

	chkExpect(tl, "a@x.example", "prac", chkNew, chkPrac("P1")) // exactly at valid_from
	chkExpect(tl, "a@x.example", "mix", chkNew, chkPrac("P1"))
	chkExpect(tl, "b@x.example", "comm", chkNew, chkNone)
	chkExpect(tl, "b@x.example", "tri", chkNew, chkNone)

	tl.clock.Set(from.Add(-time.Nanosecond))
	chkExpect(tl, "b@x.example", "comm", chkNew, chkNone)
	chkExpect(tl, "b@x.example", "tri", chkNew, chkNone)

	tl.clock.Set(from)
	chkExpect(tl, "b@x.example", "comm", chkNew, chkPooled("C1"))
	chkExpect(tl, "b@x.example", "tri", chkNew, chkTrial("T1"))

	tl.clock.Set(until.Add(-time.Nanosecond))
	chkExpect(tl, "a@x.example", "prac", chkNew, chkPrac("P1"))
	chkExpect(tl, "a@x.example", "mix", chkNew, chkPrac("P1"))
	chkExpect(tl, "b@x.example", "comm", chkNew, chkPooled("C1"))
	chkExpect(tl, "b@x.example", "tri", chkNew, chkTrial("T1"))

	tl.clock.Set(until)
	chkExpect(tl, "a@x.example", "prac", chkNew, chkNone)
	chkExpect(tl, "a@x.example", "mix", chkNew, chkPooled("CM")) // expired practitioner falls through
	chkExpect(tl, "b@x.example", "comm", chkNew, chkNone)
	chkExpect(tl, "b@x.example", "tri", chkNew, chkNone)
	tl.checkStream()
}

// rules E1, F4 (note): the email is the identity: the assignee's person
// checking with another email gets pooled or nothing; a reassignment moves
// the practitioner answer; unknown and removed users are denied
// user_not_found and recorded.
func TestCheckE1TheEmailIsTheIdentity(t *testing.T) {
	tl := chkStart(t)
	tl.must(201, "POST", "/v1/accounts", map[string]any{"id": "globex", "name": "Globex", "fulfillment_contact": "ops@globex.example"})
	tl.must(201, "POST", "/v1/accounts/globex/users", map[string]any{"email": "g@x.example", "entitlement_country": "DE"})
	chkLicense(tl, "P1", "practitioner", 0, T0, chkFar, "revit", "inventor")
	chkLicense(tl, "C1", "commercial", 2, T0, chkFar, "revit")
	chkAssign(tl, "P1", "a@x.example")

	chkExpect(tl, "alt.a@x.example", "revit", chkNew, chkPooled("C1"))
	chkExpect(tl, "alt.a@x.example", "inventor", chkNew, chkNone)
	chkExpect(tl, "a@x.example", "inventor", chkNew, chkPrac("P1"))

	tl.clock.Advance(time.Hour) // inside the window (C3)
	tl.must(200, "POST", chkAcme+"/licenses/P1/reassign", e2eAssign("b@x.example"))
	chkExpect(tl, "a@x.example", "revit", chkNew, chkPooled("C1"))
	chkExpect(tl, "a@x.example", "inventor", chkNew, chkNone)
	chkExpect(tl, "b@x.example", "inventor", chkNew, chkPrac("P1"))

	tl.must(204, "DELETE", chkAcme+"/users/c@x.example", nil)
	for _, email := range []string{"zz@x.example", "g@x.example", "c@x.example"} {
		chkExpect(tl, email, "revit", chkNew, chkNoUser)
	}
	tl.checkStream()
}

// rule B3: an account with practitioner licences and no active commercial
// or trial licence for the product grants it only to assignees: "the
// application will not activate until the Practitioner License is assigned".
func TestCheckB3PractitionerOnly(t *testing.T) {
	tl := chkStart(t)
	chkLicense(tl, "P1", "practitioner", 0, T0, chkFar, "revit")
	chkLicense(tl, "P2", "practitioner", 0, T0, chkFar, "revit")
	chkLicense(tl, "T0", "trial", 0, T0.AddDate(-1, 0, 0), T0, "revit") // expired
	chkLicense(tl, "CM", "commercial", 5, T0, chkFar, "microstation")   // another product

	chkExpect(tl, "a@x.example", "revit", chkNew, chkNone) // not assigned yet
	chkAssign(tl, "P1", "a@x.example")
	chkExpect(tl, "a@x.example", "revit", chkNew, chkPrac("P1"))
	chkExpect(tl, "b@x.example", "revit", chkNew, chkNone)
	chkExpect(tl, "a@x.example", "revit", chkOld, chkTooOld)
	chkExpect(tl, "b@x.example", "microstation", chkNew, chkPooled("CM"))
	chkAssign(tl, "P2", "b@x.example")
	chkExpect(tl, "b@x.example", "revit", chkNew, chkPrac("P2"))
	tl.checkStream()
}

// chkAccessPath is the access control of acme's product.
// rule E3: every check, granted or denied, is exactly one check.recorded
// event with the answer's fields; the stream and the product's history agree.
// A check with an invalid client_version, machine_id, email or product is
// rejected 400 and appends nothing; an unknown account is 404.
func TestCheckE3EveryCheckIsAnEvent(t *testing.T) {
	tl := chkStart(t)
	chkLicense(tl, "P1", "practitioner", 0, T0, chkFar, "revit")
	chkLicense(tl, "C1", "commercial", 2, T0, chkFar, "revit")
	chkAssign(tl, "P1", "a@x.example")
	tl.must(200, "PUT", chkAccessPath("revit"), map[string]any{"default": "allow", "deny": []string{"c@x.example"}})

	type sent struct {
		req    map[string]any
		answer map[string]any
		at     time.Time
	}
	var all []sent
	for i, c := range []struct{ email, machine, version string }{
		{"a@x.example", "ws-01.acme.local", "10.00.18.25"},
		{"b@x.example", "WS:02", "10.00.17"},
		{"c@x.example", "m_3", "11.2"},
		{"zz@x.example", "m-4", "10.00.18"},
		{"A@X.example", "m-5", "9"},
	} {
		tl.clock.Set(T0.Add(time.Duration(i+1) * time.Minute))
		req := chkReq(c.email, "revit", c.machine, c.version)
		before := e2eStreamLen(t, tl.srv)
		r := tl.must(200, "POST", chkChecks, req)
		if after := e2eStreamLen(t, tl.srv); after != before+1 {
			t.Errorf("check %v: the stream grew by %d events, want 1", req, after-before)
		}
		all = append(all, sent{req, r.Body, tl.clock.Now()})
	}

	evs := chkCheckEvents(tl, "revit")
	if len(evs) != len(all) {
		t.Fatalf("check.recorded events of revit: got %d, want %d", len(evs), len(all))
	}
	hist, err := tl.srv.Ledger().History("acme", events.AggregateCheck, "revit")
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != len(evs) {
		t.Errorf("history of check revit: got %d events, want %d", len(hist), len(evs))
	}
	stored := map[string][]byte{} // event id → the event as stored
	for _, m := range tl.streamEvents() {
		e, err := events.Unmarshal(m.Data)
		if err != nil {
			t.Fatalf("sequence %d: %v", m.Sequence, err)
		}
		stored[e.ID] = m.Data
	}
	for i, s := range all {
		e := evs[i]
		d, ok := e.Data.(events.CheckRecorded)
		if !ok {
			t.Fatalf("event %d: got %s, want %s", i, e.Type(), events.TypeCheckRecorded)
		}
		if !e.OccurredAt.Equal(s.at) {
			t.Errorf("event %d: occurred_at %s, want %s", i, e2eTS(e.OccurredAt), e2eTS(s.at))
		}
		rec := map[string]any{"email": d.Email, "product": d.Product, "machine_id": d.MachineID, "client_version": d.ClientVersion}
		wantReq := map[string]any{"email": strings.ToLower(s.req["email"].(string)), "product": "revit",
			"machine_id": s.req["machine_id"], "client_version": s.req["client_version"]}
		if !reflect.DeepEqual(rec, wantReq) {
			t.Errorf("event %d: request recorded as %v, want %v", i, rec, wantReq)
		}
		ans := chkAns{d.Granted, d.LicenseType, d.LicenseID, d.Reason}
		if !reflect.DeepEqual(s.answer, ans.body()) {
			t.Errorf("event %d: recorded answer %+v, but the API answered %v", i, ans, s.answer)
		}
		if i < len(hist) && !bytes.Equal(hist[i], stored[e.ID]) {
			t.Errorf("history event %d: got %s, want the stored event %s", i, hist[i], stored[e.ID])
		}
	}
	wantAnswers := []chkAns{chkPrac("P1"), chkPooled("C1"), chkDenied, chkNoUser, chkPooled("C1")}
	for i, w := range wantAnswers {
		chkBodyIs(t, fmt.Sprintf("answer %d", i), all[i].answer, w)
	}

	// Rejected checks append nothing.
	for _, v := range []string{"10.00.18.x", "", "v10", "10..18", "10.00.18."} {
		e2eReject(tl, 400, "invalid_client_version", "POST", chkChecks, chkReq("a@x.example", "revit", "m-1", v))
	}
	for _, m := range []string{"", "m 1", "-m", strings.Repeat("m", 129)} {
		e2eReject(tl, 400, "invalid_argument", "POST", chkChecks, chkReq("a@x.example", "revit", m, chkNew))
	}
	e2eReject(tl, 400, "invalid_argument", "POST", chkChecks, chkReq("a@x", "revit", "m-1", chkNew))
	e2eReject(tl, 400, "invalid_argument", "POST", chkChecks, chkReq("a@x.example", "", "m-1", chkNew))
	e2eReject(tl, 400, "invalid_argument", "POST", chkChecks, chkReq("a@x.example", "Revit", "m-1", chkNew))
	e2eReject(tl, 404, "account_not_found", "POST", "/v1/accounts/initech/checks", chkReq("a@x.example", "revit", "m-1", chkNew))
	if got := len(chkCheckEvents(tl, "revit")); got != len(all) {
		t.Errorf("check.recorded events after rejections: got %d, want %d", got, len(all))
	}
	tl.checkStream()
}

// chkRaced is one answer of a concurrent check, collected off the test
// goroutine.
type chkRaced struct {
	status int
	raw    []byte
	body   map[string]any
	err    error
}

// chkRace posts every body to the checks endpoint concurrently, released
// together, and returns the answers in order.
func chkRace(tl *testLedger, bodies []map[string]any) []chkRaced {
	client := tl.client(len(bodies))
	defer client.CloseIdleConnections()
	out := make([]chkRaced, len(bodies))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, b := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			raw, err := json.Marshal(b)
			if err != nil {
				out[i].err = err
				return
			}
			<-start
			resp, err := client.Post(tl.base+chkChecks, "application/json", bytes.NewReader(raw))
			if err != nil {
				out[i].err = err
				return
			}
			defer resp.Body.Close()
			out[i].status = resp.StatusCode
			if out[i].raw, err = io.ReadAll(resp.Body); err != nil {
				out[i].err = err
				return
			}
			out[i].err = json.Unmarshal(out[i].raw, &out[i].body)
		}()
	}
	close(start)
	wg.Wait()
	return out
}

// rules E1, E2, E3, H3: 16 concurrent checks of one product by users with
// different entitlements all answer 200 with their own answers; the
// product's check subject then holds exactly 16 check.recorded events, one
// per check, and its hash chain is intact.
func TestCheckConcurrentChecks(t *testing.T) {
	tl := chkStart(t)
	chkLicense(tl, "C1", "commercial", 3, T0, chkFar, "revit")
	type user struct {
		email, version string
		register       bool
		license        string // practitioner licence assigned to the user
		deny           bool
		want           chkAns
	}
	var users []user
	for i := range 16 {
		u := user{email: fmt.Sprintf("u%02d@x.example", i), version: chkNew, register: true, want: chkPooled("C1")}
		switch {
		case i < 4: // practitioner
			u.license, u.want = fmt.Sprintf("P%d", i), chkPrac(fmt.Sprintf("P%d", i))
		case i == 4: // practitioner with an old client: pooled
			u.license, u.version = "P4", chkOld
		case i == 5: // practitioner denied pooled use: still practitioner
			u.license, u.deny, u.want = "P5", true, chkPrac("P5")
		case i < 9: // denied pooled use
			u.deny, u.want = true, chkDenied
		case i < 11: // never registered
			u.register, u.want = false, chkNoUser
		case i == 11: // checked in upper case
			u.email = strings.ToUpper(u.email)
		}
		users = append(users, u)
	}
	var deny []string
	for _, u := range users {
		if u.register {
			tl.must(201, "POST", chkAcme+"/users", map[string]any{"email": u.email, "entitlement_country": "DE"})
		}
		if u.license != "" {
			chkLicense(tl, u.license, "practitioner", 0, T0, chkFar, "revit")
			chkAssign(tl, u.license, u.email)
		}
		if u.deny {
			deny = append(deny, u.email)
		}
	}
	tl.must(200, "PUT", chkAccessPath("revit"), map[string]any{"default": "allow", "deny": deny})

	bodies := make([]map[string]any, len(users))
	for i, u := range users {
		bodies[i] = chkReq(u.email, "revit", fmt.Sprintf("m-%02d", i), u.version)
	}
	answers := chkRace(tl, bodies)
	want := map[string]events.CheckRecorded{}
	for i, u := range users {
		a := answers[i]
		if a.err != nil {
			t.Fatalf("check %s: %v", u.email, a.err)
		}
		if a.status != 200 {
			t.Errorf("check %s: status %d, want 200: %s", u.email, a.status, a.raw)
			continue
		}
		chkBodyIs(t, "check "+u.email, a.body, u.want)
		want[strings.ToLower(u.email)] = u.want.record(u.email, "revit", fmt.Sprintf("m-%02d", i), u.version)
	}

	evs := tl.checkStream() // signatures, schemas and every subject's hash chain (H3)
	got := map[string]events.CheckRecorded{}
	n := 0
	for _, e := range evs {
		if e.Subject() != chkSubject("revit") {
			continue
		}
		n++
		d, ok := e.Data.(events.CheckRecorded)
		if !ok {
			t.Errorf("%s on %s, want only check.recorded", e.Type(), e.Subject())
			continue
		}
		if _, dup := got[d.Email]; dup {
			t.Errorf("check of %s recorded twice", d.Email)
		}
		got[d.Email] = d
	}
	if n != len(users) {
		t.Errorf("events on %s: got %d, want exactly %d", chkSubject("revit"), n, len(users))
	}
	if !reflect.DeepEqual(got, want) {
		emails := make([]string, 0, len(want))
		for e := range want {
			emails = append(emails, e)
		}
		sort.Strings(emails)
		for _, e := range emails {
			if got[e] != want[e] {
				t.Errorf("recorded check of %s: got %+v, want %+v", e, got[e], want[e])
			}
		}
	}
}

// docs/api.md (Idempotency-Key), rule E3: a check replayed with its key answers
// the first answer byte for byte and appends nothing, also after other
// checks, a new assignment and new access control changed what a fresh
// check would answer.
func TestCheckIdempotentReplay(t *testing.T) {
	tl := chkStart(t)
	chkLicense(tl, "P1", "practitioner", 0, T0, chkFar, "revit")
	chkLicense(tl, "C1", "commercial", 2, T0, chkFar, "revit")
	keyed := []struct {
		key  string
		body map[string]any
		want chkAns
	}{
		{"chk-b", chkReq("b@x.example", "revit", "m-1", chkNew), chkPooled("C1")},
		{"chk-zz", chkReq("zz@x.example", "revit", "m-1", chkNew), chkNoUser},
	}
	firsts := make([]response, len(keyed))
	replay := func(when string) {
		t.Helper()
		before := e2eStreamLen(t, tl.srv)
		for i, k := range keyed {
			for range 2 {
				r := tl.do("POST", chkChecks, k.body, "Idempotency-Key", k.key)
				if r.Status != firsts[i].Status || !bytes.Equal(r.Raw, firsts[i].Raw) {
					t.Errorf("%s: replay of %s: got %d %s, want the first answer %d %s", when, k.key, r.Status, r.Raw,
						firsts[i].Status, firsts[i].Raw)
				}
			}
		}
		if after := e2eStreamLen(t, tl.srv); after != before {
			t.Errorf("%s: replays appended %d events", when, after-before)
		}
	}
	for i, k := range keyed {
		before := e2eStreamLen(t, tl.srv)
		firsts[i] = tl.must(200, "POST", chkChecks, k.body, "Idempotency-Key", k.key)
		chkBodyIs(t, "first "+k.key, firsts[i].Body, k.want)
		if after := e2eStreamLen(t, tl.srv); after != before+1 {
			t.Errorf("first %s: the stream grew by %d events, want 1", k.key, after-before)
		}
	}
	replay("right away")

	// Later checks of the product with other answers, then changes that
	// alter b's answer.
	tl.clock.Advance(time.Minute)
	chkExpect(tl, "c@x.example", "revit", chkNew, chkPooled("C1"))
	chkExpect(tl, "c@x.example", "civil3d", chkNew, chkNone)
	chkAssign(tl, "P1", "b@x.example")
	chkExpect(tl, "b@x.example", "revit", chkNew, chkPrac("P1"))
	tl.must(200, "PUT", chkAccessPath("revit"), map[string]any{"default": "deny"})
	chkExpect(tl, "c@x.example", "revit", chkNew, chkDenied)
	replay("after later checks and changes")

	// The same key with another body is not a replay.
	e2eReject(tl, 409, "idempotency_key_reused", "POST", chkChecks, chkReq("b@x.example", "revit", "m-2", chkNew),
		"Idempotency-Key", "chk-b")
	if got := len(chkCheckEvents(tl, "revit")); got != 5 {
		t.Errorf("check.recorded events of revit: got %d, want 5 (2 keyed, 3 fresh)", got)
	}
	tl.checkStream()
}

// rule E3 (and docs/api.md: a check carries no "at"): a check is answered and
// recorded even when the ledger's clock stands more than 5 minutes behind
// the product's last recorded check (a clock stepped back, or another ledger
// instance with a clock ahead). It must not be rejected at_in_future, which
// is about an admin command's explicit "at".
func TestCheckE3ClockBehindLastCheck(t *testing.T) {
	tl := chkStart(t)
	chkLicense(tl, "C1", "commercial", 2, T0, chkFar, "revit")
	tl.clock.Set(T0.Add(time.Hour))
	chkExpect(tl, "b@x.example", "revit", chkNew, chkPooled("C1"))
	tl.clock.Set(T0.Add(50 * time.Minute)) // 10 minutes behind the last check
	before := e2eStreamLen(t, tl.srv)
	r := tl.do("POST", chkChecks, chkReq("c@x.example", "revit", "m-2", chkNew))
	if r.Status != 200 {
		t.Errorf("check with the clock 10m behind the last check: got %d %s, want 200 and an answer", r.Status, r.Raw)
	} else {
		chkBodyIs(t, "check with the clock behind", r.Body, chkPooled("C1"))
	}
	if after := e2eStreamLen(t, tl.srv); after != before+1 {
		t.Errorf("check with the clock behind: the stream grew by %d events, want 1 (E3)", after-before)
	}
	tl.checkStream()
}

// rules E3 and the Idempotency-Key: a check is answered once JetStream holds
// it, before the projections apply it, so its replay can arrive while they
// lag. Sent again at once, and twice at the same time, each keyed check is
// recorded exactly once and every copy answers the first answer.
func TestCheckKeyedReplayBeforeProjected(t *testing.T) {
	tl := chkStart(t)
	chkLicense(tl, "C1", "commercial", 5, T0.Add(-24*time.Hour), chkFar, "microstation")
	before := len(chkCheckEvents(tl, "microstation"))
	const n = 20
	for i := range n {
		key := fmt.Sprintf("replay-%d", i)
		body := chkReq("b@x.example", "microstation", fmt.Sprintf("m-%d", i), chkNew)
		var first, racing response
		var wg sync.WaitGroup
		wg.Go(func() { first = tl.do("POST", chkChecks, body, "Idempotency-Key", key) })
		wg.Go(func() { racing = tl.do("POST", chkChecks, body, "Idempotency-Key", key) })
		wg.Wait()
		again := tl.do("POST", chkChecks, body, "Idempotency-Key", key)
		for name, r := range map[string]response{"racing": racing, "again": again} {
			if r.Status != 200 || string(r.Raw) != string(first.Raw) {
				t.Fatalf("check %d %s: %d %s, want the first answer %d %s", i, name, r.Status, r.Raw, first.Status, first.Raw)
			}
		}
	}
	if got := len(chkCheckEvents(tl, "microstation")) - before; got != n {
		t.Errorf("%d check.recorded events for %d keyed checks, each sent three times; want %d", got, n, n)
	}
}

// The Idempotency-Key: a replay that is decided again before the
// projections show the first check, on a state that has changed since (the
// licence that granted it has ended), is refused as a duplicate and must
// answer the check that was recorded, never its own unrecorded decision.
func TestCheckKeyedReplayAnswersTheRecordedCheck(t *testing.T) {
	tl := chkStart(t)
	const keys = 30
	for i := range keys {
		id := fmt.Sprintf("E%d", i)
		until := tl.clock.Now().Add(time.Second)
		chkLicense(tl, id, "commercial", 5, T0.Add(-24*time.Hour), until, fmt.Sprintf("p%d", i))
		key := fmt.Sprintf("ended-%d", i)
		body := chkReq("b@x.example", fmt.Sprintf("p%d", i), "m1", chkNew)
		first := tl.must(200, "POST", chkChecks, body, "Idempotency-Key", key)
		tl.clock.Advance(2 * time.Second) // the licence has ended
		replays := make([]response, 4)
		var wg sync.WaitGroup
		for r := range replays {
			wg.Go(func() { replays[r] = tl.do("POST", chkChecks, body, "Idempotency-Key", key) })
		}
		wg.Wait()
		for r, got := range replays {
			if got.Status != 200 || string(got.Raw) != string(first.Raw) {
				t.Fatalf("key %d replay %d: %d %s, want the recorded answer %s", i, r, got.Status, got.Raw, first.Raw)
			}
		}
	}
}
