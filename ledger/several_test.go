package ledger_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/entledger/ledger/internal/testlock"
	"github.com/entledger/ledger/server"
)

// This file holds the tests of several ledger processes answering as one
// ledger (rule H5): two ledgers on one nats-server, each command sent to
// one of them right after the other acknowledged what it depends on.

// rules H5, C1, C5: a command sent to one ledger right after the other
// acknowledged what it depends on is decided on the stream's state, not on
// projections that have not applied that write yet: a licence created on a
// is assigned on b at once (no license_not_found), an assignment made on b
// is reassigned on a at once (no not_assigned), a user registered on a is
// given b's licence at once (no user_not_found), a session opened on a is
// ended on b at once, many times over. Every command carries an
// Idempotency-Key, and its replay answers the same.
func TestRefusalsDecidedOnTheStream(t *testing.T) {
	c := newClock(T0)
	a, b := startPair(t, c)
	a.must(201, "POST", "/v1/accounts", map[string]any{"id": "acme", "name": "Acme", "fulfillment_contact": "ops@acme.example"})
	b.waitReady()
	from, until := T0.Add(-24*time.Hour), T0.Add(365*24*time.Hour)
	const n = 40
	wrong := 0
	send := func(tl *testLedger, want int, method, path, key string, body any) {
		t.Helper()
		r := tl.do(method, path, body, "Idempotency-Key", key)
		if r.Status != want {
			wrong++
			t.Errorf("%s %s: %d %s, want %d: the other ledger acknowledged what it depends on", method, path, r.Status, r.Raw, want)
			return
		}
		if again := tl.do(method, path, body, "Idempotency-Key", key); again.Status != want {
			t.Errorf("%s %s replayed: %d %s, want the first answer %d", method, path, again.Status, again.Raw, want)
		}
	}
	for i := range n {
		lic, u, v := fmt.Sprintf("L%d", i), fmt.Sprintf("u%d@x.example", i), fmt.Sprintf("v%d@x.example", i)
		send(a, 201, "POST", useAcme+"/licenses", "lic-"+lic, e2eLicense(lic, "practitioner", 0, from, until, "microstation"))
		send(b, 201, "POST", useAcme+"/users", "user-"+u, map[string]any{"email": u, "entitlement_country": "DE"})
		send(a, 200, "POST", useAcme+"/licenses/"+lic+"/assign", "assign-"+lic, e2eAssign(u))
		send(a, 201, "POST", useAcme+"/users", "user-"+v, map[string]any{"email": v, "entitlement_country": "DE"})
		send(b, 200, "POST", useAcme+"/licenses/"+lic+"/reassign", "reassign-"+lic, e2eAssign(v))
		send(a, 200, "POST", useAcme+"/licenses/"+lic+"/unassign", "unassign-"+lic, nil)
		send(b, 200, "POST", useAcme+"/licenses/"+lic+"/assign", "assign-again-"+lic, e2eAssign(u))
		// A command that changes nothing is held to the stream's state as
		// a refusal is: the sign-out on b ends the session a opened (on a
		// lagging copy it would find none, answer 204 and leave u signed
		// in on m1, so that the sign-in from m2 is signed_in_elsewhere).
		session := map[string]any{"email": u, "machine_id": "m1", "client_version": useNewCli, "client_time": e2eTS(c.Now())}
		send(a, 201, "POST", useAcme+"/sessions", "sign-in-"+u, session)
		send(b, 204, "DELETE", useAcme+"/sessions/"+u, "sign-out-"+u, nil)
		session["machine_id"] = "m2"
		send(b, 201, "POST", useAcme+"/sessions", "sign-in-m2-"+u, session)
	}
	if wrong > 0 {
		t.Errorf("%d of %d commands answered on a lagging copy of the stream", wrong, 10*n)
	}
	if da, db := a.digest(), b.digest(); da != db {
		t.Errorf("projection digests differ: a %s, b %s", da, db)
	}
	a.checkStream()
}

// rules H5, C1: a refusal that no write made wrong is answered as before,
// by either ledger, and kept for its Idempotency-Key.
func TestRefusalsStandWhenNothingIsBehind(t *testing.T) {
	c := newClock(T0)
	a, b := startPair(t, c)
	a.must(201, "POST", "/v1/accounts", map[string]any{"id": "acme", "name": "Acme", "fulfillment_contact": "ops@acme.example"})
	b.waitReady()
	for _, tl := range []*testLedger{a, b} {
		r := tl.do("POST", useAcme+"/licenses/NOPE/assign", e2eAssign("a@x.example"), "Idempotency-Key", "nope-"+tl.dir)
		if r.Status != 404 || r.code() != "license_not_found" {
			t.Fatalf("assign of a licence nobody created: %d %s, want 404 license_not_found", r.Status, r.Raw)
		}
		r = tl.do("POST", "/v1/accounts/initech/users", map[string]any{"email": "a@x.example"})
		if r.Status != 404 || r.code() != "account_not_found" {
			t.Fatalf("a user in an account nobody created: %d %s, want 404 account_not_found", r.Status, r.Raw)
		}
	}
	// The licence created now does not change the kept refusal.
	a.must(201, "POST", useAcme+"/licenses", e2eLicense("NOPE", "practitioner", 0, T0.Add(-time.Hour), T0.Add(time.Hour), "microstation"))
	r := b.do("POST", useAcme+"/licenses/NOPE/assign", e2eAssign("a@x.example"), "Idempotency-Key", "nope-"+b.dir)
	if r.Status != 404 || !strings.Contains(string(r.Raw), "license_not_found") {
		t.Errorf("replay of a kept refusal: %d %s, want the first answer", r.Status, r.Raw)
	}
}

// rules H5, G4, G5: two ledgers on one stream both emit the daily
// reminders of the same unassigned licences, and the day's threshold alert,
// at once, while commands are sent to both: each licence gets one reminder
// a day, the product one alert a day, neither ledger logs an event it could
// not decide, and no command is answered 5xx (do fails the test on one).
func TestDailyEventsOfTwoLedgersOnce(t *testing.T) {
	c := newClock(T0.Add(9 * time.Hour))
	warnings := make(chan string, 1000)
	a, b := startPairWith(t, c, server.Config{ReminderPoll: 5 * time.Millisecond, Logger: warningLogger(warnings)})
	checkDailyEventsOnce(t, c, a, b, warnings)
}

// rules H5, G4, G5: TestDailyEventsOfTwoLedgersOnce on an R3 stream of a
// three-node cluster, where the second publish of a message id being
// stored is refused with 10158 ("duplicate message id is in process"),
// which failed every command grouped with the reminder.
func TestClusterDailyEventsOfTwoLedgersOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("a three-node NATS cluster: not with -short")
	}
	testlock.Heavy(t)
	nodes := startNATSCluster(t)
	httpPorts := freePorts(t, 2)
	c := newClock(T0.Add(9 * time.Hour))
	warnings := make(chan string, 1000)
	cfgA := server.Config{DataDir: t.TempDir(), HTTPAddr: fmt.Sprintf("127.0.0.1:%d", httpPorts[0]),
		NATSURLs: []string{nodes[0].url(), nodes[1].url(), nodes[2].url()}, Replicas: 3,
		ReminderPoll: 5 * time.Millisecond, Logger: warningLogger(warnings)}
	a := startClusterLedger(t, cfgA, c, "")
	cfgB := cfgA
	cfgB.DataDir, cfgB.HTTPAddr = t.TempDir(), fmt.Sprintf("127.0.0.1:%d", httpPorts[1])
	cfgB.SigningKey = filepath.Join(cfgA.DataDir, "keys", "events.ed25519")
	b := startClusterLedger(t, cfgB, c, a.token)
	checkDailyEventsOnce(t, c, a, b, warnings)
}

// checkDailyEventsOnce creates unassigned licences on a and b (both
// reminding, on clock c) and a threshold of one machine, lets three UTC days
// begin while users are registered on both and each records the pooled use
// of one machine, and checks that every licence got exactly one reminder
// each day, the product exactly one alert, and that no warning names an
// event not decided or a request that failed.
func checkDailyEventsOnce(t *testing.T, c *clock, a, b *testLedger, warnings <-chan string) {
	t.Helper()
	a.must(201, "POST", "/v1/accounts", map[string]any{"id": "acme", "name": "Acme", "fulfillment_contact": "ops@acme.example"})
	a.must(200, "PUT", useAcme+"/thresholds/microstation", map[string]any{"max_machines": 1})
	b.waitReady()
	const n, days = 16, 3
	ledgers := []*testLedger{a, b}
	for i := range n {
		ledgers[i%2].must(201, "POST", useAcme+"/licenses",
			e2eLicense(fmt.Sprintf("L%d", i), "practitioner", 0, T0.Add(-24*time.Hour), T0.Add(365*24*time.Hour), "microstation"))
	}
	var want, wantAlerts []string
	for d := range days {
		if d > 0 {
			c.Set(c.Now().Truncate(24 * time.Hour).Add(24*time.Hour + 12*time.Hour)) // the next day, at noon
		}
		day := c.Now().Format(time.DateOnly)
		// Commands to both while the day's reminders race: grouped with
		// them, they must not fail with them.
		for i := range n {
			email := fmt.Sprintf("d%d-u%d@x.example", d, i)
			ledgers[i%2].must(201, "POST", useAcme+"/users", map[string]any{"email": email, "entitlement_country": "DE"})
		}
		// Two machines in pooled use from 08:00, one recorded on each
		// ledger: over the threshold, and both alerters see it.
		for i, tl := range ledgers {
			rec := useR(fmt.Sprintf("d%d-use%d", d, i), c.Now().Truncate(24*time.Hour).Add(8*time.Hour), time.Hour).
				set("email", fmt.Sprintf("d%d-u%d@x.example", d, i)).set("machine_id", fmt.Sprintf("m%d", i))
			tl.must(200, "POST", usePath, useBatch(rec))
		}
		for i := range n {
			want = append(want, fmt.Sprintf("L%d@%s", i, day))
		}
		wantAlerts = append(wantAlerts, day)
		waitReminders(t, a, len(want))
		eventually(t, 20*time.Second, "the alert of "+day, func() bool { return len(exceeded(a)) >= len(wantAlerts) })
	}
	a.waitReady()
	b.waitReady()
	count := map[string]int{}
	for _, r := range reminderEvents(a) {
		count[r.LicenseID+"@"+r.Day]++
	}
	for _, k := range want {
		if count[k] != 1 {
			t.Errorf("reminder %s appended %d times, want once", k, count[k])
		}
		delete(count, k)
	}
	for k, n := range count {
		t.Errorf("reminder %s appended %d times, want none", k, n)
	}
	var alerted []string
	for _, e := range exceeded(a) {
		alerted = append(alerted, e.Day)
	}
	if got, want := strings.Join(alerted, " "), strings.Join(wantAlerts, " "); got != want {
		t.Errorf("alerts of the days %s, want one of each day %s", got, want)
	}
	for {
		select {
		case w := <-warnings:
			if strings.Contains(w, "reminder") || strings.Contains(w, "alert") || strings.Contains(w, "request failed") {
				t.Errorf("warning: %s", w)
			}
		default:
			return
		}
	}
}

// waitReminders waits until the stream holds n reminders.
func waitReminders(t *testing.T, tl *testLedger, n int) {
	t.Helper()
	eventually(t, 20*time.Second, fmt.Sprintf("%d reminders", n), func() bool { return len(reminderEvents(tl)) >= n })
}
