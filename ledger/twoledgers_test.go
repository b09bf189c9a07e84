package ledger_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/entledger/ledger/checkout"
	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/internal/testlock"
	"github.com/entledger/ledger/server"
)

// rules H5, C1-C7, F2, F6, G4, G5 (issue 17, "Done means"): two ledgers on
// a three-server cluster of deploy/nats/cluster.conf answer as one ledger
// under mixed load sent to both at once. Licences are created on a and, as
// each is acknowledged, assigned and reassigned on b, then reassigned back
// on a; b also tries to create each licence again and to assign it to a user
// nobody registered (refusals kept for their Idempotency-Keys); usage goes
// to both, some of it the same records to both at once; unassigned licences
// and a threshold make both ledgers race for the daily reminders and
// alerts over three days of a fake clock. /readyz of both is probed all
// along. Then: no answer was 5xx, no refusal contradicts the other
// ledger's acknowledged writes, every kept refusal answers the same on
// replay on both ledgers, each daily event is on the stream once per
// licence (or product) per day, both ledgers publish the same keys and a
// checkout from one verifies with the other's key, /readyz never answered
// 503, and after the load the projections' digests are equal and verify
// passes.
func TestTwoLedgersAnswerAsOne(t *testing.T) {
	if testing.Short() {
		t.Skip("a three-server NATS cluster: not with -short")
	}
	testlock.Heavy(t)
	day1 := T0.Add(20 * time.Hour) // 20:00: the windows of day 1's assignments are open on day 2 at 08:00
	c := newClock(day1)
	warnings := make(chan string, 1000)
	p := startShippedPair(t, c, server.Config{ReminderPoll: 5 * time.Millisecond, Logger: warningLogger(warnings), RateLimit: -1, MaxInFlight: -1})
	a, b := p.a, p.b
	a.must(201, "POST", "/v1/accounts", map[string]any{"id": "acme", "name": "Acme", "fulfillment_contact": "ops@acme.example"})
	a.must(201, "POST", useAcme+"/users", map[string]any{"email": "a@x.example", "entitlement_country": "DE"})
	a.must(200, "PUT", useAcme+"/thresholds/microstation", map[string]any{"max_machines": 1})
	alertSubject := events.AlertSubject("acme", "microstation")
	alertsBefore := subjectCount(t, a, alertSubject)
	from, until := T0.Add(-24*time.Hour), T0.Add(365*24*time.Hour)
	const idle = 8 // licences never assigned: both ledgers remind of each every day
	for i := range idle {
		[]*testLedger{a, b}[i%2].must(201, "POST", useAcme+"/licenses", e2eLicense(fmt.Sprintf("R%d", i), "practitioner", 0, from, until, "microstation"))
	}
	b.waitReady()

	ld := &e2eLoad{t: t, http: &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}},
		usage: map[string]bool{}, created: map[string]bool{}}
	stop := make(chan struct{})
	var probes, usage sync.WaitGroup
	var stopOnce sync.Once
	halt := func() {
		stopOnce.Do(func() { close(stop) })
		usage.Wait()
		probes.Wait()
	}
	t.Cleanup(halt) // before the ledgers stop, also when the test fails
	for _, tl := range []*testLedger{a, b} {
		probes.Add(1)
		go func() { defer probes.Done(); ld.probeReady(tl, stop) }()
	}
	for i, tl := range []*testLedger{a, b} {
		usage.Add(1)
		go func() { defer usage.Done(); ld.sendUsage(tl, fmt.Sprintf("m%d", i), c, stop) }()
	}
	usage.Add(1)
	go func() { defer usage.Done(); ld.sendUsageToBoth(a, b, c, stop) }()

	const pipelines, perPipeline = 6, 150
	var done atomic.Int64
	var wg sync.WaitGroup
	for pl := range pipelines {
		wg.Add(1)
		go func() { defer wg.Done(); ld.pipeline(a, b, fmt.Sprintf("p%d", pl), perPipeline, from, until, &done) }()
	}
	// Day 2 begins while the pipelines run; day 3 once they are done.
	day2 := T0.Add(24*time.Hour + 8*time.Hour)
	eventually(t, 60*time.Second, "half of the licences through", func() bool { return done.Load() >= pipelines*perPipeline/2 || t.Failed() })
	c.Set(day2)
	wg.Wait()
	day3 := T0.Add(48*time.Hour + 12*time.Hour)
	c.Set(day3)
	days := []string{day1.Format(time.DateOnly), day2.Format(time.DateOnly), day3.Format(time.DateOnly)}
	var missing string
	t.Cleanup(func() {
		if t.Failed() && missing != "" {
			t.Logf("last missing: %s", missing)
		}
	})
	eventually(t, 30*time.Second, "day 3's reminders and alert", func() bool {
		missing = ""
		if n := ld.usageDays.Load(); n < 3 {
			missing += fmt.Sprintf(" usage acknowledged on %d days;", n)
		}
		if n := subjectCount(t, a, alertSubject); n < alertsBefore+uint64(len(days)) {
			missing += fmt.Sprintf(" %d alert events (%d before the load);", n, alertsBefore)
		}
		for i := range idle {
			if n := subjectCount(t, a, events.ReminderSubject("acme", fmt.Sprintf("R%d", i))); n < uint64(len(days)) {
				missing += fmt.Sprintf(" R%d reminded %d times;", i, n)
			}
		}
		return missing == ""
	})
	halt()
	t.Logf("%d requests: %s; %d /readyz probes", ld.requests.Load(), ld.statusSummary(), ld.probes.Load())

	ld.mu.Lock()
	for _, w := range ld.mu.fivexx {
		t.Errorf("5xx: %s", w)
	}
	for _, w := range ld.mu.wrong {
		t.Errorf("refused against the other ledger's acknowledged write, or answered wrong: %s", w)
	}
	for _, w := range ld.mu.notReady {
		t.Errorf("/readyz of a healthy ledger: %s", w)
	}
	kept := ld.mu.kept
	ld.mu.Unlock()

	// Every kept refusal answers the same on replay, on both ledgers.
	for _, k := range kept {
		for _, tl := range []*testLedger{a, b} {
			r := tl.do(k.method, k.path, k.body, "Idempotency-Key", k.key)
			if r.Status != k.status || r.code() != k.code {
				t.Errorf("replay of %s %s (key %s) on %s: %d %s, first answered %d %s", k.method, k.path, k.key, tl.base, r.Status, r.code(), k.status, k.code)
			}
		}
	}
	if len(kept) != 2*pipelines*perPipeline {
		t.Errorf("%d refusals kept, want %d (a second creation and an assignment to a stranger per licence)", len(kept), 2*pipelines*perPipeline)
	}

	// One set of keys: the same public keys, and a token of one ledger
	// verifies with the other's checkout key.
	for _, path := range []string{"/v1/keys/events", "/v1/keys/checkout"} {
		if ka, kb := a.must(200, "GET", path, nil).Raw, b.must(200, "GET", path, nil).Raw; !bytes.Equal(ka, kb) {
			t.Errorf("GET %s: a %s, b %s", path, ka, kb)
		}
	}
	a.must(201, "POST", useAcme+"/licenses", e2eLicense("CO", "practitioner", 0, from, until, "microstation"))
	b.must(200, "POST", useAcme+"/licenses/CO/assign", e2eAssign("a@x.example"))
	tok := coCheckout(a, "CO", "a@x.example", "WS-1", day3.Add(48*time.Hour))
	if got, err := checkout.Verify(coKey(b), tok, day3); err != nil || got.LicenseID != "CO" {
		t.Errorf("a checkout from a with b's key: %+v %v", got, err)
	}

	// Each daily event once per licence (or product) per day; every
	// acknowledged write on the stream once.
	evs := a.checkStream()
	reminded, alerted := map[string]int{}, map[string]int{}
	seen := map[string]int{}
	for _, e := range evs {
		switch d := e.Data.(type) {
		case events.UnassignedReminder:
			reminded[d.LicenseID+"@"+d.Day]++
		case events.ThresholdExceeded:
			alerted[d.Product+"@"+d.Day]++
		case events.UsageRecorded:
			seen["usage:"+d.UsageID]++
		case events.LicenseCreated:
			seen["license:"+d.ID]++
		}
	}
	for k, n := range reminded {
		if n != 1 {
			t.Errorf("reminder %s appended %d times, want once", k, n)
		}
	}
	for _, d := range days {
		for i := range idle {
			if k := fmt.Sprintf("R%d@%s", i, d); reminded[k] != 1 {
				t.Errorf("reminder %s appended %d times, want once", k, reminded[k])
			}
		}
		if k := "microstation@" + d; alerted[k] != 1 {
			t.Errorf("alert %s appended %d times, want once", k, alerted[k])
		}
	}
	for k, n := range alerted {
		if n != 1 {
			t.Errorf("alert %s appended %d times, want once", k, n)
		}
	}
	ld.mu.Lock()
	for id := range ld.usage {
		if seen["usage:"+id] != 1 {
			t.Errorf("acknowledged usage %s is on the stream %d times, want once", id, seen["usage:"+id])
		}
	}
	for id := range ld.created {
		if seen["license:"+id] != 1 {
			t.Errorf("acknowledged licence %s is on the stream %d times, want once", id, seen["license:"+id])
		}
	}
	ld.mu.Unlock()
	for done := false; !done; {
		select {
		case w := <-warnings:
			if strings.Contains(w, "reminder") || strings.Contains(w, "alert") || strings.Contains(w, "request failed") {
				t.Errorf("warning: %s", w)
			}
		default:
			done = true
		}
	}

	// Both ledgers' projections hold the same, and the stream verifies.
	var da, db string
	eventually(t, 30*time.Second, "equal projection digests", func() bool {
		da, db = a.digest(), b.digest()
		return da == db
	})
	checkVerify(t, a)
}

// e2eLoad sends TestTwoLedgersAnswerAsOne's load and keeps what it saw.
type e2eLoad struct {
	t         *testing.T
	http      *http.Client
	requests  atomic.Int64
	probes    atomic.Int64
	usageDays atomic.Int64 // days on which both machines' usage was acknowledged

	mu struct {
		sync.Mutex
		statuses map[int]int
		fivexx   []string
		wrong    []string      // answers other than the one the stream's state called for
		notReady []string      // /readyz answers other than 200
		kept     []keptRefusal // refusals of keyed requests
	}
	usage   map[string]bool // usage ids acknowledged; guarded by mu
	created map[string]bool // licences acknowledged; guarded by mu
}

// keptRefusal is a keyed request answered with a refusal.
type keptRefusal struct {
	method, path, key string
	body              any
	status            int
	code              string
}

// send sends a request with an Idempotency-Key (none if key is "") and
// returns its status, error code and body; it records a 5xx, and a status
// other than want as wrong.
func (ld *e2eLoad) send(tl *testLedger, want int, method, path, key string, body any) (int, string, map[string]any) {
	raw, err := json.Marshal(body)
	if err != nil {
		ld.t.Error(err)
		return 0, "", nil
	}
	req, err := http.NewRequest(method, tl.base+path, bytes.NewReader(raw))
	if err != nil {
		ld.t.Error(err)
		return 0, "", nil
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tl.token)
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	ld.requests.Add(1)
	resp, err := ld.http.Do(req)
	if err != nil {
		ld.t.Errorf("%s %s: %v", method, path, err)
		return 0, "", nil
	}
	defer resp.Body.Close()
	ans, _ := io.ReadAll(resp.Body)
	var out map[string]any
	json.Unmarshal(ans, &out)
	r := response{Status: resp.StatusCode, Body: out, Raw: ans}
	ld.mu.Lock()
	defer ld.mu.Unlock()
	if ld.mu.statuses == nil {
		ld.mu.statuses = map[int]int{}
	}
	ld.mu.statuses[r.Status]++
	what := fmt.Sprintf("%s %s%s (key %q): %d %s", method, tl.base, path, key, r.Status, bytes.TrimSpace(ans))
	if r.Status >= 500 {
		ld.mu.fivexx = append(ld.mu.fivexx, what)
	} else if r.Status != want {
		ld.mu.wrong = append(ld.mu.wrong, fmt.Sprintf("%s, want %d", what, want))
	}
	if key != "" && r.Status >= 400 && r.Status < 500 {
		ld.mu.kept = append(ld.mu.kept, keptRefusal{method: method, path: path, key: key, body: body, status: r.Status, code: r.code()})
	}
	return r.Status, r.code(), out
}

// statusSummary counts the answers by status.
func (ld *e2eLoad) statusSummary() string {
	ld.mu.Lock()
	defer ld.mu.Unlock()
	var parts []string
	for s, n := range ld.mu.statuses {
		parts = append(parts, fmt.Sprintf("%d×%d", n, s))
	}
	return strings.Join(parts, " ")
}

// pipeline creates n licences and two users each on a; b, as soon as each
// is acknowledged, tries to create it again and to assign it to a stranger
// (refusals, kept), assigns it to the first user and reassigns it to the
// second; a then reassigns it back to the first, as soon as b's reassignment
// is acknowledged. The three steps run at once, on different licences.
func (ld *e2eLoad) pipeline(a, b *testLedger, name string, n int, from, until time.Time, done *atomic.Int64) {
	type lic struct{ id, u, v string }
	created, moved := make(chan lic), make(chan lic)
	go func() {
		defer close(created)
		for i := range n {
			l := lic{id: fmt.Sprintf("%s-L%d", name, i), u: fmt.Sprintf("%s-u%d@x.example", name, i), v: fmt.Sprintf("%s-v%d@x.example", name, i)}
			ld.send(a, 201, "POST", useAcme+"/users", "user-"+l.u, map[string]any{"email": l.u, "entitlement_country": "DE"})
			ld.send(a, 201, "POST", useAcme+"/users", "user-"+l.v, map[string]any{"email": l.v, "entitlement_country": "DE"})
			if s, _, _ := ld.send(a, 201, "POST", useAcme+"/licenses", "create-"+l.id, e2eLicense(l.id, "practitioner", 0, from, until, "microstation")); s == 201 {
				ld.mu.Lock()
				ld.created[l.id] = true
				ld.mu.Unlock()
			}
			created <- l
		}
	}()
	go func() {
		defer close(moved)
		for l := range created {
			path := useAcme + "/licenses/" + l.id
			ld.send(b, 409, "POST", useAcme+"/licenses", "again-"+l.id, e2eLicense(l.id, "practitioner", 0, from, until, "microstation"))
			ld.send(b, 404, "POST", path+"/assign", "stranger-"+l.id, e2eAssign("stranger-"+l.u))
			ld.send(b, 200, "POST", path+"/assign", "assign-"+l.id, e2eAssign(l.u))
			ld.send(b, 200, "POST", path+"/reassign", "reassign-"+l.id, e2eAssign(l.v))
			moved <- l
		}
	}()
	for l := range moved {
		ld.send(a, 200, "POST", useAcme+"/licenses/"+l.id+"/reassign", "back-"+l.id, e2eAssign(l.u))
		done.Add(1)
	}
}

// usageRecord is a record of a@x.example's pooled use on machine, in slot k
// of the clock's day: 2 s long, from 01:00 on.
func usageRecord(id, machine string, now time.Time, k int) useRec {
	start := now.Truncate(24 * time.Hour).Add(time.Hour + time.Duration(k)*2*time.Second)
	return useR(id, start, time.Second).set("machine_id", machine)
}

// sendUsage records batches of usage of machine on tl until stop; each day
// of the clock from slot 0 on, so that the other machine's overlap it, over
// the threshold of one machine.
func (ld *e2eLoad) sendUsage(tl *testLedger, machine string, c *clock, stop <-chan struct{}) {
	batches := map[string]int{} // by day
	for {
		select {
		case <-stop:
			return
		default:
		}
		now := c.Now()
		day := now.Format(time.DateOnly)
		k := batches[day]
		batches[day]++
		var recs []any
		var ids []string
		for j := range 4 {
			id := fmt.Sprintf("%s-%s-%d", machine, day, 4*k+j)
			recs = append(recs, usageRecord(id, machine, now, (4*k+j)%1500))
			ids = append(ids, id)
		}
		if s, _, ans := ld.send(tl, 200, "POST", usePath, "", useBatch(recs...)); s == 200 && ans["accepted"].(float64)+ans["duplicates"].(float64) == 4 {
			ld.mu.Lock()
			for _, id := range ids {
				ld.usage[id] = true
			}
			ld.mu.Unlock()
		}
	}
}

// sendUsageToBoth sends the same usage records to a and b at once until
// stop: each is recorded once, and both answer it.
func (ld *e2eLoad) sendUsageToBoth(a, b *testLedger, c *clock, stop <-chan struct{}) {
	days := map[string]bool{}
	for k := 0; ; k++ {
		select {
		case <-stop:
			return
		default:
		}
		now := c.Now()
		day := now.Format(time.DateOnly)
		id := fmt.Sprintf("both-%s-%d", day, k)
		batch := useBatch(usageRecord(id, "m-both", now, k%1500))
		var wg sync.WaitGroup
		var answered atomic.Int64
		for _, tl := range []*testLedger{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if s, _, ans := ld.send(tl, 200, "POST", usePath, "", batch); s == 200 && ans["accepted"].(float64)+ans["duplicates"].(float64) == 1 {
					answered.Add(1)
				}
			}()
		}
		wg.Wait()
		if answered.Load() == 2 {
			ld.mu.Lock()
			ld.usage[id] = true
			ld.mu.Unlock()
			if !days[day] {
				days[day] = true
				ld.usageDays.Add(1)
			}
		}
	}
}

// probeReady asks tl's /readyz every 100 ms until stop, and records every
// answer other than 200.
func (ld *e2eLoad) probeReady(tl *testLedger, stop <-chan struct{}) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		ld.probes.Add(1)
		resp, err := ld.http.Get(tl.base + "/readyz")
		if err != nil {
			ld.mu.Lock()
			ld.mu.notReady = append(ld.mu.notReady, err.Error())
			ld.mu.Unlock()
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			ld.mu.Lock()
			ld.mu.notReady = append(ld.mu.notReady, fmt.Sprintf("%s: %d %s", tl.base, resp.StatusCode, bytes.TrimSpace(body)))
			ld.mu.Unlock()
		}
	}
}

// subjectCount is how many messages the stream holds on subject.
func subjectCount(t *testing.T, tl *testLedger, subject string) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	info, err := tl.srv.Conn().Stream.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		t.Fatalf("stream info of %s: %v", subject, err)
	}
	return info.State.Subjects[subject]
}
