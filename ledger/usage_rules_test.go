package ledger_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/entledger/ledger/server"
)

// rule F2: duplicates are known forever: across a restart and a rebuild of
// the projections, and the summary counts them once.
func TestUsageF2RestartAndRebuild(t *testing.T) {
	clk := newClock(T0)
	tl := startLedger(t, "", clk)
	useWorld(tl)
	clk.Set(useNow)
	start := useNow.Add(-3 * time.Hour)
	batch := []useRec{useR("r1", start, 90*time.Minute), useR("r2", start, time.Hour).set("email", "b@x.example").set("machine_id", "m2")}
	first := useAccepted(tl, 2, 0, batch...)
	q := "?from=2026-01-20&to=2026-01-20"
	sum := tl.must(200, "GET", useSummary+q, nil)
	n := len(tl.streamEvents())
	dir := tl.dir

	check := func(tl *testLedger, what string) {
		t.Helper()
		again := useAccepted(tl, 0, 2, batch...)
		for i := range again {
			useClass(t, again[i], first[i]["classification"].(string), first[i]["license_id"], true)
		}
		useReject(tl, 409, "usage_id_conflict", useBatch(batch[0].set("machine_id", "m9")), useBad{0, "r1", "usage_id_conflict", ""})
		if got := len(tl.streamEvents()); got != n {
			t.Errorf("%s: the stream grew from %d to %d", what, n, got)
		}
		if s := tl.must(200, "GET", useSummary+q, nil); !reflect.DeepEqual(s.Body, sum.Body) {
			t.Errorf("%s: summary %s, want %s", what, s.Raw, sum.Raw)
		}
		tl.checkStream()
	}

	tl.stop()
	tl = startLedger(t, dir, clk)
	check(tl, "after a restart")

	tl.stop()
	clk.Advance(24 * time.Hour) // a day later: still duplicates
	if _, err := server.RebuildProjections(context.Background(), server.Config{DataDir: dir}); err != nil {
		t.Fatalf("rebuild: %v", err)
	}
	tl = startLedger(t, dir, clk)
	check(tl, "after a rebuild")
}

// rule F2: racing requests with the same records record each once.
func TestUsageF2ConcurrentSameBatch(t *testing.T) {
	tl := useStart(t)
	const racers, n = 8, 20
	recs := make([]any, n)
	for i := range recs {
		r := useR(fmt.Sprintf("c%02d", i), useNow.Add(-time.Hour), time.Minute).set("machine_id", fmt.Sprintf("m%d", i))
		if i%2 == 1 {
			r = r.set("product", "revit")
		}
		recs[i] = r
	}
	body, err := json.Marshal(useBatch(recs...))
	if err != nil {
		t.Fatal(err)
	}
	before := len(tl.streamEvents())
	type answer struct {
		status int
		body   map[string]any
		raw    []byte
		err    error
	}
	answers := make([]answer, racers)
	var wg sync.WaitGroup
	startGun := make(chan struct{})
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-startGun
			resp := tl.send("POST", usePath, body)
			defer resp.Body.Close()
			answers[i].status = resp.StatusCode
			answers[i].raw, answers[i].err = io.ReadAll(resp.Body)
			if answers[i].err == nil {
				answers[i].err = json.Unmarshal(answers[i].raw, &answers[i].body)
			}
		}()
	}
	close(startGun)
	wg.Wait()
	accepted, dups := 0, 0
	for i, a := range answers {
		if a.err != nil || a.status != 200 {
			t.Errorf("racer %d: status %d, err %v: %s", i, a.status, a.err, a.raw)
			continue
		}
		acc, _ := a.body["accepted"].(float64)
		dup, _ := a.body["duplicates"].(float64)
		if int(acc+dup) != n {
			t.Errorf("racer %d: accepted %v + duplicates %v, want %d", i, acc, dup, n)
		}
		accepted += int(acc)
		dups += int(dup)
	}
	if accepted != n || dups != (racers-1)*n {
		t.Errorf("accepted %d and duplicates %d over all racers, want %d and %d", accepted, dups, n, (racers-1)*n)
	}
	if got := len(tl.streamEvents()) - before; got != n {
		t.Errorf("the stream grew by %d events, want %d", got, n)
	}
	// How often the racers collided (for the log: how hard the race was).
	if resp, err := http.Get(tl.base + "/metrics"); err == nil {
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, line := range strings.Split(string(raw), "\n") {
			if strings.HasPrefix(line, "ledger_append_conflicts_total") {
				t.Logf("%s", line)
			}
		}
	}
	rec := useRecorded(tl)
	for _, r := range recs {
		id := r.(useRec)["usage_id"].(string)
		if len(rec[id]) != 1 {
			t.Errorf("%s: %d usage.recorded events, want exactly 1", id, len(rec[id]))
		}
	}
}

// rule F3
func TestUsageF3HorizonFutureAndUser(t *testing.T) {
	tl := useStart(t)
	tl.must(201, "POST", "/v1/accounts", map[string]any{"id": "globex", "name": "Globex", "fulfillment_contact": "ops@globex.example"})
	tl.must(201, "POST", "/v1/accounts/globex/users", map[string]any{"email": "g@x.example", "entitlement_country": "DE"})

	edge := useNow.Add(-35 * 24 * time.Hour)
	useAccepted(tl, 1, 0, useR("edge-old", edge, time.Hour))
	useReject(tl, 409, "usage_too_old", useBatch(useR("too-old", edge.Add(-time.Nanosecond), time.Hour)),
		useBad{0, "too-old", "usage_too_old", ""})

	limit := useNow.Add(5 * time.Minute)
	useAccepted(tl, 1, 0, useR("edge-future", useNow.Add(-time.Hour), limit.Sub(useNow.Add(-time.Hour))))
	useReject(tl, 409, "usage_in_future",
		useBatch(useR("future", useNow.Add(-time.Hour), limit.Add(time.Second).Sub(useNow.Add(-time.Hour)))),
		useBad{0, "future", "usage_in_future", ""})
	useReject(tl, 409, "usage_in_future", useBatch(useR("future2", limit.Add(time.Second), time.Minute)),
		useBad{0, "future2", "usage_in_future", ""})

	for _, email := range []string{"nobody@x.example", "g@x.example"} {
		useReject(tl, 404, "user_not_found", useBatch(useR("who", useNow.Add(-time.Hour), time.Minute).set("email", email)),
			useBad{0, "who", "user_not_found", ""})
	}
	e2eReject(tl, 404, "account_not_found", "POST", "/v1/accounts/nope/usage", useBatch(useR("x", useNow.Add(-time.Hour), time.Minute)))
	tl.checkStream()
}

// rule F4: each record is classified as of its started_at and the
// classification is written into its event.
func TestUsageF4Classification(t *testing.T) {
	tl := useStart(t)
	// A trial for navis that ended yesterday, and a commercial licence for
	// navis that starts in an hour: licences count as active at started_at.
	tl.must(201, "POST", useAcme+"/licenses", e2eLicense("T3", "trial", 0, T0, useNow.Add(-24*time.Hour), "navis"))
	tl.must(201, "POST", useAcme+"/licenses", e2eLicense("C3", "commercial", 1, useNow.Add(time.Hour), useNow.Add(9*24*time.Hour), "navis"))
	assignAt, reassignAt := T0.Add(time.Hour), T0.Add(3*time.Hour)
	tl.must(200, "POST", useAcme+"/licenses/P1/assign", e2eAssign("a@x.example", assignAt))
	// a's usage from while a held P1 arrives only after P1 went to b.
	tl.must(200, "POST", useAcme+"/licenses/P1/reassign", e2eAssign("b@x.example", reassignAt))

	as := func(r useRec, email string) useRec { return r.set("email", email) }
	later := useNow.Add(-time.Hour)
	cases := []struct {
		rec   useRec
		class string
		lic   any
	}{
		{useR("a-before", assignAt.Add(-time.Nanosecond), time.Hour), "pooled", "C1"},
		{useR("a-at", assignAt, time.Hour), "practitioner", "P1"},
		{useR("a-while", assignAt.Add(time.Hour), 4*time.Hour), "practitioner", "P1"},
		{useR("a-after", reassignAt, time.Hour), "pooled", "C1"},
		{as(useR("b-while-a", assignAt.Add(time.Hour), time.Hour), "b@x.example"), "pooled", "C1"},
		{as(useR("b-at", reassignAt, time.Hour), "b@x.example"), "practitioner", "P1"},
		{as(useR("b-old-client", later, time.Hour), "b@x.example").set("client_version", useOldCli), "pooled", "C1"},
		{as(useR("b-10.00.18", later, time.Hour), "b@x.example").set("client_version", "10.00.18"), "practitioner", "P1"},
		{as(useR("b-case", later, time.Hour), "B@X.Example"), "practitioner", "P1"},
		// P1 covers microstation only: revit has commercial and trial.
		{as(useR("b-revit", later, time.Hour), "b@x.example").set("product", "revit"), "pooled", "C2"},
		{as(useR("b-openroads", later, time.Hour), "b@x.example").set("product", "openroads"), "trial", "T1"},
		{as(useR("b-autocad", later, time.Hour), "b@x.example").set("product", "autocad"), "pooled", nil},
		{as(useR("navis-trial", useNow.Add(-24*time.Hour-time.Nanosecond), time.Hour), "c@x.example").set("product", "navis"), "trial", "T3"},
		{as(useR("navis-ended", useNow.Add(-24*time.Hour), time.Hour), "c@x.example").set("product", "navis"), "pooled", nil},
		// The email is the identity: a second email of a's person.
		{as(useR("alt-a", assignAt.Add(time.Hour), time.Hour), "alt.a@x.example"), "pooled", "C1"},
	}
	recs := make([]useRec, len(cases))
	for i, c := range cases {
		recs[i] = c.rec
	}
	res := useAccepted(tl, len(cases), 0, recs...)
	for i, c := range cases {
		useClass(t, res[i], c.class, c.lic, false)
	}
	rec := useRecorded(tl)
	for _, c := range cases {
		id := c.rec["usage_id"].(string)
		u := rec[id]
		if len(u) != 1 {
			t.Errorf("%s: %d events, want 1", id, len(u))
			continue
		}
		lic, _ := c.lic.(string)
		if u[0].Classification != c.class || u[0].LicenseID != lic {
			t.Errorf("%s: the event says %s %q, want %s %q", id, u[0].Classification, u[0].LicenseID, c.class, lic)
		}
	}

	// Nothing that happens later changes a recorded class: b is removed
	// (which unassigns P1), a resend answers what was recorded.
	tl.must(204, "DELETE", useAcme+"/users/b@x.example", nil)
	again := useAccepted(tl, 0, 5, recs[:5]...)
	for i, c := range cases[:5] {
		useClass(t, again[i], c.class, c.lic, true)
	}
	tl.checkStream()
}

// rule F5 (the summary): pooled, practitioner and trial usage apart per
// product and UTC day of started_at; duplicates counted once.
func TestUsageF5Summary(t *testing.T) {
	tl := useStart(t)
	tl.must(200, "POST", useAcme+"/licenses/P1/assign", e2eAssign("a@x.example", T0.Add(time.Hour)))
	d0 := time.Date(2026, 1, 17, 0, 0, 0, 0, time.UTC)
	d1, d2 := d0.Add(24*time.Hour), d0.Add(48*time.Hour)
	h := time.Hour
	on := func(r useRec, email, machine string) useRec { return r.set("email", email).set("machine_id", machine) }
	batch := []useRec{
		// d1, microstation, practitioner: a on m1 and m2.
		on(useR("p1", d1.Add(10*h), 90*time.Minute), "a@x.example", "m1"),
		on(useR("p2", d1.Add(12*h), 30*time.Minute), "a@x.example", "m2"),
		// d1, microstation, pooled: b and c on m3, a with an old client on
		// m1, b across midnight on m4 (counts on d1, the day it started).
		on(useR("q1", d1.Add(10*h), 2*h), "b@x.example", "m3"),
		on(useR("q2", d1.Add(13*h), h), "c@x.example", "m3"),
		on(useR("q3", d1.Add(15*h), 15*time.Minute), "a@x.example", "m1").set("client_version", useOldCli),
		on(useR("q4", d1.Add(23*h+30*time.Minute), 90*time.Minute), "b@x.example", "m4"),
		// d1, openroads, trial.
		on(useR("t1", d1.Add(9*h), h), "c@x.example", "m5").set("product", "openroads"),
		// d2, microstation, pooled.
		on(useR("q5", d2.Add(8*h), h), "b@x.example", "m3"),
		// d0, revit, pooled.
		on(useR("r1", d0.Add(8*h), 3*h), "c@x.example", "m6").set("product", "revit"),
		// The same record twice in the batch counts once.
		on(useR("p1", d1.Add(10*h), 90*time.Minute), "a@x.example", "m1"),
	}
	useAccepted(tl, len(batch)-1, 1, batch...)

	zero := map[string]any{"sessions": 0, "hours": 0, "users": 0, "machines": 0}
	tot := func(sessions int, hours float64, users, machines int) map[string]any {
		return map[string]any{"sessions": sessions, "hours": hours, "users": users, "machines": machines}
	}
	row := func(product string, day time.Time, pooled, practitioner, trial map[string]any) map[string]any {
		return map[string]any{"product": product, "day": day.Format(time.DateOnly),
			"pooled": pooled, "practitioner": practitioner, "trial": trial}
	}
	msD1 := row("microstation", d1, tot(4, 4.75, 3, 3), tot(2, 2, 1, 2), zero)
	msD2 := row("microstation", d2, tot(1, 1, 1, 1), zero, zero)
	orD1 := row("openroads", d1, zero, zero, tot(1, 1, 1, 1))
	rvD0 := row("revit", d0, tot(1, 3, 1, 1), zero, zero)

	want := func(from, to time.Time, rows ...map[string]any) {
		t.Helper()
		q := "?from=" + from.Format(time.DateOnly) + "&to=" + to.Format(time.DateOnly)
		r := tl.must(200, "GET", useSummary+q, nil)
		if rows == nil {
			rows = []map[string]any{}
		}
		e2eFields(t, "summary"+q, r.Body, map[string]any{"account": "acme", "from": from.Format(time.DateOnly),
			"to": to.Format(time.DateOnly), "days": rows})
	}
	want(d0, d2, msD1, msD2, orD1, rvD0)
	want(d1, d1, msD1, orD1)
	want(d2, d2, msD2)
	want(d0, d0, rvD0)
	want(d1, d2, msD1, msD2, orD1)
	want(d2.Add(24*h), d2.Add(48*h))

	// Resent (as one batch and record by record): counted once.
	tl.must(200, "POST", usePath, useBatch(func() []any {
		out := make([]any, len(batch))
		for i, r := range batch {
			out[i] = r
		}
		return out
	}()...))
	useAccepted(tl, 0, 1, batch[3])
	want(d0, d2, msD1, msD2, orD1, rvD0)

	// Bad from and to.
	for _, q := range []string{"from=2026-1-17", "to=2026-01-18T00:00", "from=yesterday", "to=18.01.2026",
		"from=2026-02-30", "from=2026-01-19&to=2026-01-18"} {
		field := strings.SplitN(q, "=", 2)[0]
		r := e2eReject(tl, 400, "invalid_argument", "GET", useSummary+"?"+q, nil)
		e2eDetail(t, r, "field", field)
	}
	// An RFC 3339 time stands for its UTC day.
	if r := tl.must(200, "GET", useSummary+"?from=2026-01-17T23:00:00%2B02:00&to=2026-01-18T23:59:59Z", nil); r.Body["from"] != "2026-01-17" || r.Body["to"] != "2026-01-18" {
		t.Errorf("summary between two times: from %v to %v, want the UTC days 2026-01-17 and 2026-01-18", r.Body["from"], r.Body["to"])
	}
	e2eReject(tl, 404, "account_not_found", "GET", "/v1/accounts/nope/usage/summary", nil)
	// Another account's summary holds none of acme's usage.
	tl.must(201, "POST", "/v1/accounts", map[string]any{"id": "acme-2", "name": "Acme 2", "fulfillment_contact": "ops@acme2.example"})
	r := tl.must(200, "GET", "/v1/accounts/acme-2/usage/summary?from=2026-01-17&to=2026-01-19", nil)
	e2eFields(t, "acme-2 summary", r.Body, map[string]any{"account": "acme-2", "days": []any{}})
	tl.checkStream()
}
