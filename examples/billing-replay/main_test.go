package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"go/parser"
	"go/token"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/entledger/ledger/server"
)

// The ledger's clock stands on 1 November 2026, so that October's usage is
// inside the 35-day late-arrival horizon; everything before it is
// back-dated with "at".
var now = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func day(d, h, m int) time.Time { return time.Date(2026, 10, d, h, m, 0, 0, time.UTC) }

// testLedger is a ledger whose embedded NATS listens, as a billing team
// would reach it.
type testLedger struct {
	t          *testing.T
	srv        *server.Server
	base       string
	token      string            // the admin token the first start wrote
	subscriber map[string]string // read-all NATS credentials (see creds)
}

func startLedger(t *testing.T) *testLedger {
	t.Helper()
	srv, err := server.Start(context.Background(), server.Config{
		DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", NATSListen: "127.0.0.1:0",
		SyncInterval: time.Minute, // a test need not fsync every write
		Now:          func() time.Time { return now },
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		// The test asks a new report after every change, faster than a
		// tenant may (S9): its limits are not what it tests.
		ReportRate: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(server.AdminTokenFile(srv.DataDir()))
	if err != nil {
		t.Fatal(err)
	}
	tl := &testLedger{t: t, srv: srv, base: "http://" + srv.Addr(), token: strings.TrimSpace(string(raw))}
	t.Cleanup(func() {
		http.DefaultClient.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Close(ctx)
	})
	for deadline := time.Now().Add(30 * time.Second); ; {
		if resp, err := http.Get(tl.base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("ledger not ready after 30s")
		}
		// Wait for the projections to move, or a short bound: no fixed sleep.
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		srv.Store().WaitFor(ctx, srv.Store().Checkpoint()+1)
		cancel()
	}
	return tl
}

// must sends a request and wants the status; it returns the body.
func (tl *testLedger) must(want int, method, path string, body any) []byte {
	tl.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			tl.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, tl.base+path, rd)
	if err != nil {
		tl.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tl.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tl.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		tl.t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, out, want)
	}
	return out
}

// lastSeq is the stream's last sequence.
func (tl *testLedger) lastSeq() uint64 {
	tl.t.Helper()
	info, err := tl.srv.Conn().Stream.Info(context.Background())
	if err != nil {
		tl.t.Fatal(err)
	}
	return info.State.LastSeq
}

type usage map[string]any

func use(id, email, product, machine string, from, to time.Time) usage {
	return usage{"usage_id": id, "email": email, "product": product, "machine_id": machine,
		"client_version": "10.00.18", "started_at": ts(from), "ended_at": ts(to), "offline": false}
}

// record sends recs in batches of at most 1000 and wants them all new.
func (tl *testLedger) record(account string, recs []usage, batch int) {
	tl.t.Helper()
	for len(recs) > 0 {
		n := min(batch, len(recs), 1000)
		var ans struct{ Accepted int }
		if err := json.Unmarshal(tl.must(200, "POST", "/v1/accounts/"+account+"/usage", map[string]any{"records": recs[:n]}), &ans); err != nil {
			tl.t.Fatal(err)
		}
		if ans.Accepted != n {
			tl.t.Fatalf("%d of %d records accepted", ans.Accepted, n)
		}
		recs = recs[n:]
	}
}

// setup is account acme as a billing team meets it: users a to e; P1, a
// practitioner licence for microstation held by a (whose use is never
// billed); C1, 3 seats of microstation and revit for the quarter; C2, 2 more
// seats of microstation from 15 October, renewed past the end of October;
// C0, a licence that ends as the quarter starts; T1, a trial of openroads
// for the first half of October. A second account, globex, uses the same
// products at the same times, and must not leak into acme's report.
func (tl *testLedger) setup() {
	tl.t.Helper()
	sep20 := ts(time.Date(2026, 9, 20, 0, 0, 0, 0, time.UTC))
	q4, q1 := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	lic := func(account, id, kind string, seats int, from, until time.Time, at string, products ...string) {
		tl.t.Helper()
		b := map[string]any{"id": id, "kind": kind, "products": products, "valid_from": ts(from), "valid_until": ts(until), "at": at}
		if seats > 0 {
			b["seats"] = seats
		}
		tl.must(201, "POST", "/v1/accounts/"+account+"/licenses", b)
	}
	for _, a := range []string{"acme", "globex"} {
		tl.must(201, "POST", "/v1/accounts", map[string]any{"id": a, "name": a, "fulfillment_contact": "ops@" + a + ".example", "at": sep20})
	}
	for _, u := range []string{"a", "b", "c", "d", "e"} {
		tl.must(201, "POST", "/v1/accounts/acme/users", map[string]any{"email": u + "@acme.example", "entitlement_country": "DE", "at": sep20})
	}
	tl.must(201, "POST", "/v1/accounts/globex/users", map[string]any{"email": "g@globex.example", "entitlement_country": "FR", "at": sep20})
	lic("acme", "P1", "practitioner", 0, q4.AddDate(0, -1, 0), q1.AddDate(0, 9, 0), sep20, "microstation")
	lic("acme", "C1", "commercial", 3, q4, q1, sep20, "microstation", "revit")
	lic("acme", "C0", "commercial", 4, q4.AddDate(0, -3, 0), q4, sep20, "microstation", "navigator")
	lic("acme", "T1", "trial", 0, q4, day(16, 0, 0), sep20, "openroads")
	lic("globex", "G1", "commercial", 1, q4, q1, sep20, "microstation")
	tl.must(200, "POST", "/v1/accounts/acme/licenses/P1/assign", map[string]any{"email": "a@acme.example", "at": ts(time.Date(2026, 9, 25, 0, 0, 0, 0, time.UTC))})
	lic("acme", "C2", "commercial", 2, day(15, 0, 0), day(25, 0, 0), ts(day(10, 0, 0)), "microstation")
	tl.must(200, "POST", "/v1/accounts/acme/licenses/C2/renew", map[string]any{"valid_until": ts(time.Date(2026, 11, 15, 0, 0, 0, 0, time.UTC)), "at": ts(day(20, 0, 0))})
}

// quarterOfUsage is a few hundred records over October on 20 machines:
// random (seeded) starts and lengths, many on interval boundaries, some of
// zero length or with fractions of a second, some across the quarter's
// start; and one busy morning where the first partial interval decides the
// peak, with practitioner and trial use beside it that must not count.
func quarterOfUsage() []usage {
	rng := rand.New(rand.NewPCG(8, 2026))
	var recs []usage
	emails := []string{"b", "c", "d", "e"}
	for i := range 400 {
		start := time.Date(2026, 9, 30, 18, 0, 0, 0, time.UTC).Add(time.Duration(rng.IntN(31*24*60)) * time.Minute)
		switch rng.IntN(4) {
		case 0: // on a boundary
			start = start.Truncate(interval)
		case 1: // a fraction of a second after one
			start = start.Truncate(interval).Add(time.Duration(rng.IntN(1e9)))
		default:
			start = start.Add(time.Duration(rng.IntN(60)) * time.Second)
		}
		var d time.Duration
		switch rng.IntN(6) {
		case 0:
			d = 0
		case 1:
			d = time.Duration(1+rng.IntN(30)) * interval
		case 2:
			d = time.Duration(rng.IntN(9)) * time.Minute
		default:
			d = time.Duration(rng.IntN(8*3600)) * time.Second
		}
		end := start.Add(d)
		if end.After(now) {
			end = now
		}
		product, email, version := "microstation", emails[rng.IntN(len(emails))], "10.00.18"
		switch rng.IntN(10) {
		case 0, 1: // pooled once the trial has ended, trial before
			product = "openroads"
		case 2: // a's use of microstation is practitioner use...
			email = "a"
		case 3: // ...unless the client is too old for it (F4)
			email, version = "a", "10.00.17"
		}
		r := use(fmt.Sprintf("r%03d", i), email+"@acme.example", product, fmt.Sprintf("m%02d", 1+rng.IntN(20)), start, end)
		r["client_version"] = version
		recs = append(recs, r)
	}
	// The busy morning of 7 October: at 09:00 m01-m09 and m13 count; at
	// 09:10 m01-m12 count (m10-m12 started at 09:03) and m13 has ended; m14
	// is of zero length. Five more machines run under a's practitioner
	// licence and six under openroads' trial.
	busy := day(7, 9, 0)
	for m := 1; m <= 12; m++ {
		from := busy
		if m >= 10 {
			from = busy.Add(3 * time.Minute)
		}
		recs = append(recs, use(fmt.Sprintf("busy-%02d", m), "b@acme.example", "microstation", fmt.Sprintf("m%02d", m), from, busy.Add(time.Hour)))
	}
	recs = append(recs,
		use("busy-13", "c@acme.example", "microstation", "m13", busy, busy.Add(interval)),
		use("busy-14", "c@acme.example", "microstation", "m14", busy.Add(interval), busy.Add(interval)))
	for m := 15; m <= 20; m++ {
		if m < 20 {
			recs = append(recs, use(fmt.Sprintf("busy-pr-%02d", m), "a@acme.example", "microstation", fmt.Sprintf("m%02d", m), busy, busy.Add(time.Hour)))
		}
		recs = append(recs, use(fmt.Sprintf("busy-tr-%02d", m), "d@acme.example", "openroads", fmt.Sprintf("m%02d", m), busy, busy.Add(time.Hour)))
	}
	rng.Shuffle(len(recs), func(i, j int) { recs[i], recs[j] = recs[j], recs[i] })
	return recs
}

// creds are read-all subscriber credentials, made once per ledger.
func (tl *testLedger) creds() map[string]string {
	tl.t.Helper()
	if tl.subscriber == nil {
		var c map[string]any
		if err := json.Unmarshal(tl.must(201, "POST", "/v1/subscribers", map[string]string{"name": "billing"}), &c); err != nil {
			tl.t.Fatal(err)
		}
		tl.subscriber = map[string]string{}
		for _, k := range []string{"nats_user", "nats_password", "inbox_prefix", "durable"} {
			tl.subscriber[k], _ = c[k].(string)
		}
	}
	return tl.subscriber
}

// replay runs the example against the ledger's NATS for 2026-Q4 and
// returns its output.
func (tl *testLedger) replay(args ...string) string {
	tl.t.Helper()
	return tl.replayPeriod([]string{"--quarter", "2026-Q4"}, args...)
}

// replayPeriod runs the example for the period its flags name.
func (tl *testLedger) replayPeriod(period []string, args ...string) string {
	tl.t.Helper()
	var out bytes.Buffer
	creds := tl.creds()
	args = append(append([]string{"--nats-url", tl.srv.NATSURL(), "--account", "acme"}, period...), append([]string{
		"--nats-user", creds["nats_user"], "--nats-password", creds["nats_password"], "--inbox-prefix", creds["inbox_prefix"],
		"--durable", creds["durable"]}, args...)...)
	if err := run(context.Background(), args, &out); err != nil {
		tl.t.Fatalf("billing-replay %s: %v", strings.Join(args, " "), err)
	}
	return out.String()
}

// same wants the example's report of 2026-Q4 and the ledger's, byte for
// byte.
func (tl *testLedger) same(query string, replayArgs ...string) string {
	tl.t.Helper()
	return tl.samePeriod("quarter", "2026-Q4", query, replayArgs...)
}

// samePeriod wants the example's report of a quarter or a month (field
// "quarter" or "month", rule G10) and the ledger's, byte for byte.
func (tl *testLedger) samePeriod(field, period, query string, replayArgs ...string) string {
	tl.t.Helper()
	want := string(tl.must(200, "GET", "/v1/accounts/acme/qtl?"+field+"="+period+query, nil))
	if got := tl.replayPeriod([]string{"--" + field, period}, replayArgs...); got != want {
		tl.t.Fatalf("billing-replay --%s %s %s:\n%s\nGET .../qtl?%s=%s%s:\n%s", field, period, strings.Join(replayArgs, " "), got,
			field, period, query, want)
	}
	return want
}

// An outside billing consumer computes QTL from the CloudEvents on the stream
// alone, and gets the ledger's report, byte for byte: now, and as of earlier
// stream sequences after late usage and licence changes (rules G1, G2, G6,
// F2, F4, F5).
func TestReplayEqualsLedgerQTL(t *testing.T) {
	tl := startLedger(t)
	tl.setup()
	recs := quarterOfUsage()
	half := len(recs) / 2
	tl.record("acme", recs[:half], 100)
	var gx []usage
	for m := 1; m <= 20; m++ {
		gx = append(gx, use(fmt.Sprintf("g%02d", m), "g@globex.example", "microstation", fmt.Sprintf("m%02d", m), day(7, 9, 0), day(7, 11, 0)))
	}
	tl.record("globex", gx, 1000)
	mid := tl.lastSeq() // an event of globex, not of acme
	tl.record("acme", recs[half:], 100)
	// A resent batch is all duplicates and appends nothing (F2).
	tl.must(200, "POST", "/v1/accounts/acme/usage", map[string]any{"records": recs[:50]})
	// Pooled use of revit in September, before C1 began: it belongs to the
	// quarter before, even the record that ends as this one starts.
	sep30 := time.Date(2026, 9, 30, 20, 0, 0, 0, time.UTC)
	tl.record("acme", []usage{
		use("sep-1", "b@acme.example", "revit", "m01", sep30, sep30.Add(3*time.Hour)),
		use("sep-2", "c@acme.example", "revit", "m02", sep30.Add(3*time.Hour), sep30.Add(4*time.Hour)),
	}, 1000)

	first := tl.same("")
	var rep report
	if err := json.Unmarshal([]byte(first), &rep); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range rep.Products {
		names = append(names, p.Product)
	}
	if strings.Join(names, ",") != "microstation,openroads,revit" || rep.Products[0].PeakInterval == nil ||
		*rep.Products[0].PeakInterval != "2026-10-07T09:10:00Z" || rep.Products[0].Units == 0 || rep.Products[2].PeakInterval != nil {
		t.Fatalf("the generated quarter does not test what it should:\n%s", first)
	}
	t.Logf("report: %s", first)

	tl.same(fmt.Sprintf("&as_of_seq=%d", mid), "--as-of-seq", strconv.FormatUint(mid, 10))
	// rule G10: the months of the quarter too, now and as of mid; September
	// holds the records across the quarter's start.
	for _, month := range []string{"2026-09", "2026-10", "2026-11"} {
		tl.samePeriod("month", month, "")
		tl.samePeriod("month", month, fmt.Sprintf("&as_of_seq=%d", mid), "--as-of-seq", strconv.FormatUint(mid, 10))
	}

	// Late usage of a Wednesday afternoon, when C1 and the renewed C2 give
	// 5 seats, and a licence sold and one renewed since the first report.
	var late []usage
	for m := 1; m <= 19; m++ {
		late = append(late, use(fmt.Sprintf("late-%02d", m), "c@acme.example", "microstation", fmt.Sprintf("m%02d", m), day(28, 14, 0), day(28, 16, m)))
	}
	tl.record("acme", late, 1000)
	tl.must(201, "POST", "/v1/accounts/acme/licenses", map[string]any{"id": "C5", "kind": "commercial", "seats": 2,
		"products": []string{"revit"}, "valid_from": ts(day(1, 0, 0)), "valid_until": ts(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))})
	tl.must(200, "POST", "/v1/accounts/acme/licenses/C1/renew", map[string]any{"valid_until": ts(time.Date(2027, 4, 1, 0, 0, 0, 0, time.UTC))})

	later := tl.same("")
	if later == first || !strings.Contains(later, `"peak_interval":"2026-10-28T14:00:00Z"`) {
		t.Fatalf("late usage did not change the report as it should:\n%s", later)
	}
	// A licence sold by mistake, cancelled from its first day (H1): its
	// seats never count, and the replay agrees.
	tl.must(200, "POST", "/v1/accounts/acme/licenses/C5/cancel", map[string]any{"effective_at": ts(day(1, 0, 0)),
		"reason": "sold to the wrong account"})
	if cancelled := tl.same(""); cancelled == later {
		t.Fatalf("cancelling C5 did not change the report:\n%s", cancelled)
	}
	// Mis-recorded usage voided (H1): the replay leaves it out too.
	tl.must(200, "POST", "/v1/accounts/acme/usage/void", map[string]any{"usage_ids": []string{"late-01", "late-02", "late-03"},
		"reason": "recorded by a broken client"})
	if voided := tl.same(""); !strings.Contains(voided, `"peak_interval"`) {
		t.Fatalf("after the void:\n%s", voided)
	}
	asOf := fmt.Sprintf("%d", rep.AsOfSeq)
	if again := tl.same("&as_of_seq="+asOf, "--as-of-seq", asOf); again != first {
		t.Fatalf("as of %s:\n%s\nwant the first report:\n%s", asOf, again, first)
	}

	var out bytes.Buffer
	beyond := strconv.FormatUint(tl.lastSeq()+1, 10)
	if err := run(context.Background(), []string{"--nats-url", tl.srv.NATSURL(), "--account", "acme", "--quarter", "2026-Q4", "--as-of-seq", beyond}, &out); err == nil {
		t.Errorf("--as-of-seq %s beyond the stream: no error, printed %s", beyond, out.String())
	}
}

// Country pools (rule G9): with users in Germany, France, the United States
// and none, and seats for Germany and the United States besides the global
// ones, the replay computes every country's pool from the events alone and
// agrees with the ledger byte for byte: before the country licences (no
// countries in the report), after them, as of earlier sequences, and for
// the quarter's months (G10). A later change of a user's country changes
// no recorded usage.
func TestReplayEqualsLedgerCountryPools(t *testing.T) {
	tl := startLedger(t)
	tl.setup()
	sep20 := ts(time.Date(2026, 9, 20, 0, 0, 0, 0, time.UTC))
	for _, u := range []struct{ email, country string }{{"f", "FR"}, {"u", "US"}, {"n", ""}} {
		body := map[string]any{"email": u.email + "@acme.example", "at": sep20}
		if u.country != "" {
			body["entitlement_country"] = u.country
		}
		tl.must(201, "POST", "/v1/accounts/acme/users", body)
	}
	recs := quarterOfUsage()
	for i, r := range recs { // b, c, d and e stay in Germany; a quarter of their use moves to each other pool
		if r["email"] != "a@acme.example" {
			r["email"] = []string{r["email"].(string), "f@acme.example", "u@acme.example", "n@acme.example"}[i%4]
		}
	}
	half := len(recs) / 2
	tl.record("acme", recs[:half], 100)
	before := tl.lastSeq()
	if first := tl.same(""); strings.Contains(first, "countries") {
		t.Fatalf("no licence names a country, yet the report breaks down by country:\n%s", first)
	}
	q4, q1 := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, l := range []map[string]any{
		{"id": "CDE", "kind": "commercial", "seats": 2, "country": "DE", "products": []string{"microstation"}},
		{"id": "CUS", "kind": "commercial", "seats": 1, "country": "US", "products": []string{"microstation", "revit"}},
	} {
		l["valid_from"], l["valid_until"] = ts(q4), ts(q1)
		tl.must(201, "POST", "/v1/accounts/acme/licenses", l)
	}
	tl.record("acme", recs[half:], 100)
	after := tl.lastSeq()
	now := tl.same("")
	if !strings.Contains(now, `"countries":[{"country":"DE",`) || !strings.Contains(now, `{"country":null,`) {
		t.Fatalf("the report does not test country pools:\n%s", now)
	}
	t.Logf("report: %s", now)
	tl.must(200, "PATCH", "/v1/accounts/acme/users/f@acme.example", map[string]any{"entitlement_country": "US"})
	if again := tl.same(""); again != now {
		t.Errorf("a user's new country changed recorded usage:\n%s\nwas\n%s", again, now)
	}
	for _, seq := range []uint64{before, after} {
		q := fmt.Sprintf("&as_of_seq=%d", seq)
		tl.same(q, "--as-of-seq", strconv.FormatUint(seq, 10))
		for _, month := range []string{"2026-09", "2026-10"} {
			tl.samePeriod("month", month, q, "--as-of-seq", strconv.FormatUint(seq, 10))
		}
	}
	tl.samePeriod("month", "2026-10", "")
}

// The example only reads what an outside team has: the stream, through a
// plain NATS client. It must not use a package of the ledger.
func TestReplayImportsNothingOfTheLedger(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "main.go", nil, parser.ImportsOnly)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range f.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		if strings.Contains(path, ".") && !strings.HasPrefix(path, "github.com/nats-io/nats.go") {
			t.Errorf("main.go imports %s; an outside consumer has only the standard library and nats.go", path)
		}
	}
}
