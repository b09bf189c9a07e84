package ledger_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/server"
)

// Concurrency: many HTTP clients race for the same aggregates on a real
// server. The write side decides against the projections and appends with
// Nats-Expected-Last-Subject-Sequence; these tests prove that no race lets
// two winners through, loses an update, or breaks a hash chain (C1, C3, H3).

// raceResult is one HTTP answer collected off the test goroutine, where
// t.Fatal may not be called.
type raceResult struct {
	status int
	code   string
	body   map[string]any
	raw    []byte
	err    error
}

// racePost sends a JSON POST; it is safe to call from any goroutine.
func racePost(client *http.Client, url string, body any) raceResult {
	raw, err := json.Marshal(body)
	if err != nil {
		return raceResult{err: err}
	}
	resp, err := client.Post(url, "application/json", bytes.NewReader(raw))
	if err != nil {
		return raceResult{err: err}
	}
	defer resp.Body.Close()
	r := raceResult{status: resp.StatusCode}
	if r.raw, r.err = io.ReadAll(resp.Body); r.err != nil {
		return r
	}
	if err := json.Unmarshal(r.raw, &r.body); err != nil {
		r.err = fmt.Errorf("status %d, body is not a JSON object: %q", resp.StatusCode, r.raw)
		return r
	}
	e, _ := r.body["error"].(map[string]any)
	r.code, _ = e["code"].(string)
	return r
}

// raceAll runs one POST per body concurrently, released together, and
// returns the answers in the order of bodies.
func raceAll(tl *testLedger, urls []string, bodies []any) []raceResult {
	tb := tl.tb
	tb.Helper()
	client := tl.client(len(urls))
	defer client.CloseIdleConnections()
	out := make([]raceResult, len(urls))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range urls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			out[i] = racePost(client, urls[i], bodies[i])
		}()
	}
	close(start)
	wg.Wait()
	for i, r := range out {
		if r.err != nil {
			tb.Fatalf("POST %s: %v", urls[i], r.err)
		}
		if r.status >= 500 {
			tb.Errorf("POST %s: status %d (a 5xx is always a bug): %s", urls[i], r.status, r.raw)
		}
	}
	return out
}

// raceAccount creates account acme and registers emails with a country.
func raceAccount(tl *testLedger, emails ...string) {
	tl.tb.Helper()
	tl.must(201, "POST", "/v1/accounts", map[string]any{"id": "acme", "name": "Acme", "fulfillment_contact": "ops@acme.example"})
	for _, e := range emails {
		tl.must(201, "POST", "/v1/accounts/acme/users", map[string]any{"email": e, "entitlement_country": "DE"})
	}
}

// raceLicence creates a practitioner licence in acme.
func raceLicence(tl *testLedger, id string) {
	tl.tb.Helper()
	tl.must(201, "POST", "/v1/accounts/acme/licenses", map[string]any{
		"id": id, "kind": "practitioner", "products": []string{"microstation"},
		"valid_from": "2025-01-01T00:00:00Z", "valid_until": "2028-01-01T00:00:00Z"})
}

// raceUserLicence is the license_id a user holds per GET (nil: none).
func raceUserLicence(tl *testLedger, email string) any {
	tl.tb.Helper()
	return tl.must(200, "GET", "/v1/accounts/acme/users/"+email, nil).Body["license_id"]
}

// ofType returns the stream's events of one type on one subject, in order.
func ofType(evs []events.Event, subject, typ string) []events.Event {
	var out []events.Event
	for _, e := range evs {
		if e.Subject() == subject && e.Type() == typ {
			out = append(out, e)
		}
	}
	return out
}

func raceEmails(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d@x.example", prefix, i)
	}
	return out
}

// rule C1: a licence is assigned only while unassigned. 16 clients assign
// the same licence to 16 different users at once: exactly one wins.
func TestConcurrentAssignSameLicence(t *testing.T) {
	tl := startLedger(t, "", nil)
	const rounds, clients = 3, 16
	var all []string
	for r := range rounds {
		all = append(all, raceEmails(fmt.Sprintf("r%d-u", r), clients)...)
	}
	raceAccount(tl, all...)
	for r := range rounds {
		raceLicence(tl, fmt.Sprintf("P%d", r))
	}

	winners := make([]string, rounds)
	for round := range rounds {
		lic := fmt.Sprintf("P%d", round)
		emails := all[round*clients : (round+1)*clients]
		urls := make([]string, clients)
		bodies := make([]any, clients)
		for i, e := range emails {
			urls[i] = tl.base + "/v1/accounts/acme/licenses/" + lic + "/assign"
			bodies[i] = map[string]any{"email": e}
		}
		res := raceAll(tl, urls, bodies)
		var lost, conflicts int
		for i, r := range res {
			switch {
			case r.status == 200:
				if got := r.body["assignee"]; got != emails[i] {
					t.Errorf("%s: winner %s got a licence assigned to %v", lic, emails[i], got)
				}
				if winners[round] != "" {
					t.Errorf("%s: two winners: %s and %s", lic, winners[round], emails[i])
				}
				winners[round] = emails[i]
			case r.status == 409 && r.code == commands.CodeLicenseAssigned:
				lost++
				if a := r.body["error"].(map[string]any)["details"]; a == nil {
					t.Errorf("%s: license_assigned without details: %s", lic, r.raw)
				}
			case r.status == 409 && r.code == commands.CodeConflict:
				conflicts++
			default:
				t.Errorf("%s: assign to %s: status %d: %s", lic, emails[i], r.status, r.raw)
			}
		}
		t.Logf("%s: winner %s, %d license_assigned, %d conflict (retries ran out)", lic, winners[round], lost, conflicts)
		if winners[round] == "" {
			t.Fatalf("%s: no client won the assignment", lic)
		}
		if lost+conflicts != clients-1 {
			t.Errorf("%s: %d losers, want %d", lic, lost+conflicts, clients-1)
		}
	}

	evs := tl.checkStream()
	for r := range rounds {
		lic := fmt.Sprintf("P%d", r)
		winner := winners[r]
		assigned := ofType(evs, events.Subject("acme", events.AggregateLicense, lic), events.TypeLicenseAssigned)
		if len(assigned) != 1 {
			t.Fatalf("%s: %d license.assigned events in the stream, want 1", lic, len(assigned))
		}
		if got := assigned[0].Data.(events.LicenseAssigned).Email; got != winner {
			t.Errorf("%s: license.assigned names %s, want the winner %s", lic, got, winner)
		}
		if got := tl.must(200, "GET", "/v1/accounts/acme/licenses/"+lic, nil).Body["assignee"]; got != winner {
			t.Errorf("%s: GET assignee %v, want %s", lic, got, winner)
		}
		for _, e := range all[r*clients : (r+1)*clients] {
			attached := ofType(evs, events.Subject("acme", events.AggregateUser, e), events.TypeUserLicenseAttached)
			got := raceUserLicence(tl, e)
			if e == winner {
				if len(attached) != 1 || got != lic {
					t.Errorf("winner %s: %d license_attached events, license_id %v; want 1 and %s", e, len(attached), got, lic)
				}
				continue
			}
			if len(attached) != 0 || got != nil {
				t.Errorf("loser %s: %d license_attached events, license_id %v; want 0 and null", e, len(attached), got)
			}
		}
	}
}

// rules C3, H3: inside the window, 12 clients reassign the same licence to
// 12 different users at once. Every success is exactly one
// license.reassigned event, the events form one chain from the first
// assignee to the last, and only the final assignee holds the licence.
func TestConcurrentReassignInsideWindow(t *testing.T) {
	tl := startLedger(t, "", nil)
	const racers = 12
	emails := raceEmails("u", racers+1) // u0 is the first assignee
	raceAccount(tl, emails...)
	raceLicence(tl, "P1")
	tl.must(200, "POST", "/v1/accounts/acme/licenses/P1/assign", map[string]any{"email": emails[0]})

	urls := make([]string, racers)
	bodies := make([]any, racers)
	for i := range racers {
		urls[i] = tl.base + "/v1/accounts/acme/licenses/P1/reassign"
		bodies[i] = map[string]any{"email": emails[i+1]}
	}
	// The clock does not move: every reassignment is at T0, inside the
	// window opened at T0.
	res := raceAll(tl, urls, bodies)
	won := map[string]bool{}
	var conflicts int
	for i, r := range res {
		target := emails[i+1]
		switch {
		case r.status == 200:
			won[target] = true
			if got := r.body["assignee"]; got != target {
				t.Errorf("reassign to %s answered a licence assigned to %v", target, got)
			}
			if got := r.body["window_closes_at"]; got != "2026-01-06T00:00:00Z" {
				t.Errorf("reassign to %s: window_closes_at %v, want the first window's 2026-01-06T00:00:00Z (C3)", target, got)
			}
		case r.status == 409 && r.code == commands.CodeConflict:
			conflicts++
		default:
			t.Errorf("reassign to %s: status %d: %s", target, r.status, r.raw)
		}
	}
	t.Logf("%d reassignments answered 200, %d conflict (retries ran out)", len(won), conflicts)
	if len(won) == 0 {
		t.Fatal("no reassignment succeeded")
	}

	evs := tl.checkStream()
	moved := ofType(evs, events.Subject("acme", events.AggregateLicense, "P1"), events.TypeLicenseReassigned)
	if len(moved) != len(won) {
		t.Errorf("%d license.reassigned events for %d answers 200 (a lost or phantom update)", len(moved), len(won))
	}
	prev := emails[0]
	seen := map[string]bool{}
	for i, e := range moved {
		d := e.Data.(events.LicenseReassigned)
		if d.PreviousEmail != prev {
			t.Errorf("reassigned event %d: previous_email %s, want the assignee before it, %s", i, d.PreviousEmail, prev)
		}
		if !won[d.Email] {
			t.Errorf("reassigned event %d: to %s, whose request did not answer 200", i, d.Email)
		}
		if seen[d.Email] {
			t.Errorf("reassigned event %d: %s received the licence twice", i, d.Email)
		}
		if d.NewWindow {
			t.Errorf("reassigned event %d: opened a new window inside the first one (C3)", i)
		}
		seen[d.Email] = true
		prev = d.Email
	}
	final := tl.must(200, "GET", "/v1/accounts/acme/licenses/P1", nil).Body["assignee"]
	if final != prev {
		t.Errorf("GET assignee %v, want the last event's email %s", final, prev)
	}
	for _, e := range emails {
		got := raceUserLicence(tl, e)
		if e == prev {
			if got != "P1" {
				t.Errorf("final assignee %s: license_id %v, want P1", e, got)
			}
		} else if got != nil {
			t.Errorf("%s: license_id %v, want null (only %s holds P1)", e, got, prev)
		}
	}
}

// rule C1: a user holds at most one practitioner licence. 8 clients assign
// 8 different licences to the same user at once: exactly one wins.
func TestConcurrentTwoLicencesOneUser(t *testing.T) {
	twoLicencesOneUser(t, startLedger(t, "", nil))
}

// The same race with four group commits in flight at once: batches that
// overlap on the user's subject conflict at the server, and the commands in
// them are appended again alone, so one licence still wins (A3).
func TestConcurrentTwoLicencesOneUserSeveralGroupsInFlight(t *testing.T) {
	twoLicencesOneUser(t, startConfigured(t, server.Config{HTTPAddr: "127.0.0.1:0", NoReminders: true, GroupsInFlight: 4}, nil))
}

func twoLicencesOneUser(t *testing.T, tl *testLedger) {
	const racers = 8
	raceAccount(tl, "solo@x.example")
	lics := make([]string, racers)
	urls := make([]string, racers)
	bodies := make([]any, racers)
	for i := range racers {
		lics[i] = fmt.Sprintf("L%d", i)
		raceLicence(tl, lics[i])
		urls[i] = tl.base + "/v1/accounts/acme/licenses/" + lics[i] + "/assign"
		bodies[i] = map[string]any{"email": "solo@x.example"}
	}
	res := raceAll(tl, urls, bodies)
	var winner string
	var lost, conflicts int
	for i, r := range res {
		switch {
		case r.status == 200:
			if winner != "" {
				t.Errorf("two licences assigned to one user: %s and %s", winner, lics[i])
			}
			winner = lics[i]
		case r.status == 409 && r.code == commands.CodeUserAlreadyLicensed:
			lost++
		case r.status == 409 && r.code == commands.CodeConflict:
			conflicts++
		default:
			t.Errorf("assign %s: status %d: %s", lics[i], r.status, r.raw)
		}
	}
	t.Logf("winner %s, %d user_already_licensed, %d conflict (retries ran out)", winner, lost, conflicts)
	if winner == "" {
		t.Fatal("no licence was assigned")
	}

	evs := tl.checkStream()
	attached := ofType(evs, events.Subject("acme", events.AggregateUser, "solo@x.example"), events.TypeUserLicenseAttached)
	if len(attached) != 1 || attached[0].Data.(events.UserLicenseAttached).LicenseID != winner {
		t.Errorf("user.license_attached events %v, want one for %s", attached, winner)
	}
	if got := raceUserLicence(tl, "solo@x.example"); got != winner {
		t.Errorf("solo license_id %v, want %s", got, winner)
	}
	for _, lic := range lics {
		n := len(ofType(evs, events.Subject("acme", events.AggregateLicense, lic), events.TypeLicenseAssigned))
		got := tl.must(200, "GET", "/v1/accounts/acme/licenses/"+lic, nil).Body["assignee"]
		if lic == winner {
			if n != 1 || got != "solo@x.example" {
				t.Errorf("%s (winner): %d license.assigned, assignee %v", lic, n, got)
			}
		} else if n != 0 || got != nil {
			t.Errorf("%s (loser): %d license.assigned, assignee %v; want 0 and null", lic, n, got)
		}
	}
}
