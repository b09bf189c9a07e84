package ledger_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/entledger/ledger/events"
)

// End-to-end tests of rules F1–F5 (usage recording and the usage summary)
// through the HTTP API of a real server:
//
//	POST /v1/accounts/{account}/usage {records: [...]}
//	GET  /v1/accounts/{account}/usage/summary?from=&to=
//
// Every test ends with checkStream.

const (
	useAcme    = "/v1/accounts/acme"
	usePath    = useAcme + "/usage"
	useSummary = useAcme + "/usage/summary"
	useNewCli  = "10.00.18.25" // a client that may use a practitioner licence
	useOldCli  = "10.00.17.99" // one that may not (F4, D4)
)

// useNow is the ledger's clock when most tests record usage: 15 days after
// T0, when the world was set up.
var useNow = T0.Add(15*24*time.Hour + 12*time.Hour) // 2026-01-20T12:00Z

// useStart starts a ledger whose clock stands at T0 and sets up, at T0,
// account acme with the users a, b, c and alt.a (a second email of a's
// person) @x.example, all DE, and these licences, each over
// [2025-01-01, 2028-01-01):
//
//	P1 practitioner microstation      C1 commercial (5 seats) microstation
//	C2 commercial (5 seats) revit     T2 trial revit
//	T1 trial openroads                (autocad: no licence at all)
//
// It leaves the clock at useNow.
func useStart(t *testing.T) *testLedger {
	t.Helper()
	tl := startLedger(t, "", newClock(T0))
	useWorld(tl)
	tl.clock.Set(useNow)
	return tl
}

func useWorld(tl *testLedger) {
	tl.tb.Helper()
	from, until := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC)
	tl.must(201, "POST", "/v1/accounts", map[string]any{"id": "acme", "name": "Acme", "fulfillment_contact": "ops@acme.example"})
	for _, u := range []string{"a", "b", "c", "alt.a"} {
		tl.must(201, "POST", useAcme+"/users", map[string]any{"email": u + "@x.example", "entitlement_country": "DE"})
	}
	for _, l := range []map[string]any{
		e2eLicense("P1", "practitioner", 0, from, until, "microstation"),
		e2eLicense("C1", "commercial", 5, from, until, "microstation"),
		e2eLicense("C2", "commercial", 5, from, until, "revit"),
		e2eLicense("T2", "trial", 0, from, until, "revit"),
		e2eLicense("T1", "trial", 0, from, until, "openroads"),
	} {
		tl.must(201, "POST", useAcme+"/licenses", l)
	}
}

// useRec is a record of a@x.example on microstation from machine m1 with a
// new client, started at start and lasting d. Change it with the setters.
type useRec map[string]any

func useR(id string, start time.Time, d time.Duration) useRec {
	return useRec{"usage_id": id, "email": "a@x.example", "product": "microstation", "machine_id": "m1",
		"client_version": useNewCli, "started_at": e2eTS(start), "ended_at": e2eTS(start.Add(d)), "offline": false}
}

// set returns a copy of r with k set to v (nil: k removed).
func (r useRec) set(k string, v any) useRec {
	out := useRec{}
	for key, val := range r {
		out[key] = val
	}
	if v == nil {
		delete(out, k)
	} else {
		out[k] = v
	}
	return out
}

func useBatch(recs ...any) map[string]any { return map[string]any{"records": recs} }

// useAccepted posts recs, wants 200 with accepted and duplicates as given and
// one result per record naming its usage id, and returns the results.
func useAccepted(tl *testLedger, accepted, duplicates int, recs ...useRec) []map[string]any {
	tl.tb.Helper()
	batch := make([]any, len(recs))
	for i, r := range recs {
		batch[i] = r
	}
	r := tl.must(200, "POST", usePath, useBatch(batch...))
	return useCheckAnswer(tl.tb, r.Body, accepted, duplicates, recs...)
}

func useCheckAnswer(tb testing.TB, body map[string]any, accepted, duplicates int, recs ...useRec) []map[string]any {
	tb.Helper()
	if got := body["accepted"]; got != float64(accepted) {
		tb.Errorf("accepted: got %v, want %d: %v", got, accepted, body)
	}
	if got := body["duplicates"]; got != float64(duplicates) {
		tb.Errorf("duplicates: got %v, want %d: %v", got, duplicates, body)
	}
	list, _ := body["results"].([]any)
	if len(list) != len(recs) {
		tb.Fatalf("results: got %d, want %d: %v", len(list), len(recs), body)
	}
	out := make([]map[string]any, len(list))
	for i, x := range list {
		out[i], _ = x.(map[string]any)
		if out[i]["usage_id"] != recs[i]["usage_id"] {
			tb.Errorf("result %d: usage_id got %v, want %v", i, out[i]["usage_id"], recs[i]["usage_id"])
		}
	}
	return out
}

// useClass checks a result's classification, licence id (nil: null) and
// duplicate flag.
func useClass(tb testing.TB, res map[string]any, class string, licenseID any, duplicate bool) {
	tb.Helper()
	if res["classification"] != class || res["license_id"] != licenseID || res["duplicate"] != duplicate {
		tb.Errorf("%v: got %v %v duplicate %v, want %s %v duplicate %v", res["usage_id"],
			res["classification"], res["license_id"], res["duplicate"], class, licenseID, duplicate)
	}
}

// useBad is what error.details.records must say about one bad record.
type useBad struct {
	index   int
	usageID any
	code    string
	field   string // "": the record names no field
}

// useReject posts body (a batch, or raw JSON), wants it rejected with
// status and code and the stream unchanged, and checks error.details.records.
func useReject(tl *testLedger, status int, code string, body any, want ...useBad) response {
	tl.tb.Helper()
	r := e2eReject(tl, status, code, "POST", usePath, body)
	list, ok := r.details()["records"].([]any)
	if !ok {
		tl.tb.Errorf("error.details.records: got %v, want an array: %s", r.details()["records"], r.Raw)
		return r
	}
	if len(list) != len(want) {
		tl.tb.Errorf("error.details.records: got %d records, want %d %+v: %s", len(list), len(want), want, r.Raw)
		return r
	}
	for i, w := range want {
		g, _ := list[i].(map[string]any)
		wantRec := map[string]any{"index": float64(w.index), "usage_id": w.usageID, "code": w.code}
		if w.field != "" {
			wantRec["field"] = w.field
		} else if f, ok := g["field"]; ok {
			tl.tb.Errorf("bad record %d: field %v, want none", i, f)
		}
		for k, v := range wantRec {
			if !reflect.DeepEqual(g[k], v) {
				tl.tb.Errorf("bad record %d: %s got %v, want %v: %s", i, k, g[k], v, r.Raw)
			}
		}
		if m, _ := g["message"].(string); m == "" {
			tl.tb.Errorf("bad record %d: no message a person can act on: %s", i, r.Raw)
		}
	}
	return r
}

// useRecorded returns the stream's usage.recorded events by usage id, after
// checking the whole stream (signatures, schemas, hash chains).
func useRecorded(tl *testLedger) map[string][]events.UsageRecorded {
	tl.tb.Helper()
	out := map[string][]events.UsageRecorded{}
	for _, e := range tl.checkStream() {
		if u, ok := e.Data.(events.UsageRecorded); ok {
			out[u.UsageID] = append(out[u.UsageID], u)
		}
	}
	return out
}

// rule F1
func TestUsageF1FieldValidation(t *testing.T) {
	tl := useStart(t)
	start := useNow.Add(-2 * time.Hour)
	good := useR("u0", start, time.Hour)
	base := useR("u1", start, time.Hour)
	inv, ver := "invalid_argument", "invalid_client_version"
	cases := []struct {
		name        string
		rec         any
		code, field string
	}{
		{"usage_id empty", base.set("usage_id", ""), inv, "usage_id"},
		{"usage_id missing", base.set("usage_id", nil), inv, "usage_id"},
		{"usage_id with space", base.set("usage_id", "u 1"), inv, "usage_id"},
		{"usage_id with tab", base.set("usage_id", "u\t1"), inv, "usage_id"},
		{"usage_id not ASCII", base.set("usage_id", "üsage"), inv, "usage_id"},
		{"usage_id not a string", base.set("usage_id", 17), inv, "usage_id"},
		{"usage_id of 129 chars", base.set("usage_id", strings.Repeat("u", 129)), inv, "usage_id"},
		{"email empty", base.set("email", ""), inv, "email"},
		{"email without @", base.set("email", "a.x.example"), inv, "email"},
		{"product upper case", base.set("product", "MicroStation"), inv, "product"},
		{"product missing", base.set("product", nil), inv, "product"},
		{"machine_id empty", base.set("machine_id", ""), inv, "machine_id"},
		{"machine_id with /", base.set("machine_id", "m/1"), inv, "machine_id"},
		{"client_version with letters", base.set("client_version", "10.x"), ver, "client_version"},
		{"client_version empty", base.set("client_version", ""), ver, "client_version"},
		{"client_version with v", base.set("client_version", "v10.00.18"), ver, "client_version"},
		{"started_at missing", base.set("started_at", nil), inv, "started_at"},
		{"started_at not RFC 3339", base.set("started_at", "2026-01-20 10:00:00"), inv, "started_at"},
		{"started_at without zone", base.set("started_at", "2026-01-20T10:00:00"), inv, "started_at"},
		{"started_at a word", base.set("started_at", "yesterday"), inv, "started_at"},
		{"started_at a number", base.set("started_at", 1768903200), inv, "started_at"},
		{"ended_at not RFC 3339", base.set("ended_at", "20.01.2026 11:00"), inv, "ended_at"},
		{"ended_at missing", base.set("ended_at", nil), inv, "ended_at"},
		{"ended_at before started_at", base.set("ended_at", e2eTS(start.Add(-time.Nanosecond))), inv, "ended_at"},
		{"span of 7 days and 1ns", useR("u1", useNow.Add(-8*24*time.Hour), 7*24*time.Hour+time.Nanosecond), inv, "ended_at"},
		{"offline not a boolean", base.set("offline", "yes"), inv, "offline"},
		{"unknown field", base.set("seats", 3), inv, "seats"},
		{"field in other case", base.set("email", nil).set("EMAIL", "a@x.example"), inv, "EMAIL"},
		{"field also in other case", base.set("Email", "b@x.example"), inv, "Email"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tl.tb = t // the helpers report to the subtest
			defer func(parent testing.TB) { tl.tb = parent }(tl.tb)
			var id any = "u1"
			if m, ok := tc.rec.(useRec); ok {
				id = m["usage_id"]
			}
			if _, ok := id.(string); !ok {
				id = "" // no usage id to echo
			}
			useReject(tl, 400, tc.code, useBatch(good, tc.rec), useBad{index: 1, usageID: id, code: tc.code, field: tc.field})
		})
	}
	tl.tb = t
	// A record that is not an object.
	useReject(tl, 400, "malformed_json", useBatch(good, "u1"), useBad{index: 1, usageID: "", code: "malformed_json"})

	// The boundaries that are allowed: a span of exactly 7 days, a record
	// of no length, the longest ids, times with an offset.
	res := useAccepted(tl, 6, 0,
		useR("-u/1@{x}~", useNow.Add(-time.Hour), time.Minute), // any printable ASCII but space
		useR("span7d", useNow.Add(-7*24*time.Hour), 7*24*time.Hour),
		useR("empty", useNow.Add(-time.Hour), 0),
		useR(strings.Repeat("u", 128), useNow.Add(-time.Hour), time.Minute).set("machine_id", strings.Repeat("m", 128)),
		useR("01JH8XK3V5Q7R9T1W3Y5Z7B9D1", useNow.Add(-time.Hour), time.Minute).set("started_at", "2026-01-20T12:00:00+01:00"),
		useR("case", useNow.Add(-time.Hour), time.Minute).set("email", "A@X.Example").set("offline", true),
	)
	for _, r := range res {
		if r["duplicate"] != false {
			t.Errorf("%v: duplicate %v, want false", r["usage_id"], r["duplicate"])
		}
	}
	rec := useRecorded(tl)
	if u := rec["01JH8XK3V5Q7R9T1W3Y5Z7B9D1"]; len(u) != 1 || !u[0].StartedAt.Equal(useNow.Add(-time.Hour)) {
		t.Errorf("a time with an offset: recorded %+v, want started_at %v", u, useNow.Add(-time.Hour))
	}
	if u := rec["case"]; len(u) != 1 || u[0].Email != "a@x.example" || !u[0].Offline {
		t.Errorf("email in other case: recorded %+v, want a@x.example, offline", u)
	}
}

// rule F1
func TestUsageF1BatchSize(t *testing.T) {
	tl := useStart(t)
	before := len(tl.streamEvents())
	for _, body := range []any{
		map[string]any{"records": []any{}},
		map[string]any{"records": nil},
		map[string]any{},
	} {
		r := e2eReject(tl, 400, "invalid_argument", "POST", usePath, body)
		e2eDetail(t, r, "field", "records")
	}
	e2eDetail(t, e2eReject(tl, 400, "invalid_argument", "POST", usePath,
		map[string]any{"records": []any{useR("u0", useNow.Add(-time.Hour), time.Minute)}, "extra": 1}), "field", "extra")

	recs := make([]useRec, 1001)
	for i := range recs {
		recs[i] = useR(fmt.Sprintf("u%04d", i), useNow.Add(-time.Hour), time.Minute).set("machine_id", fmt.Sprintf("m%d", i%23))
	}
	all := make([]any, len(recs))
	for i, r := range recs {
		all[i] = r
	}
	r := e2eReject(tl, 400, "invalid_argument", "POST", usePath, useBatch(all...))
	e2eDetail(t, r, "field", "records")

	start := time.Now()
	useAccepted(tl, 1000, 0, recs[:1000]...)
	t.Logf("a batch of 1000 records took %s", time.Since(start))
	if got := len(tl.streamEvents()) - before; got != 1000 {
		t.Errorf("a batch of 1000: the stream grew by %d, want 1000", got)
	}
	for id, u := range useRecorded(tl) {
		if len(u) != 1 {
			t.Errorf("%s: %d events, want 1", id, len(u))
		}
	}
}

// rule F1: a batch with bad records is rejected whole, naming each bad
// record with its index and code, and answering with the code and status of
// the first bad record, whatever the mix.
func TestUsageF1WholeBatchRejected(t *testing.T) {
	tl := useStart(t)
	start := useNow.Add(-2 * time.Hour)
	g := func(id string) useRec { return useR(id, start, time.Hour) }

	useReject(tl, 400, "invalid_argument",
		useBatch(g("g0"), g("b1").set("email", "nope"), g("g2"), g("b3").set("client_version", "ten")),
		useBad{1, "b1", "invalid_argument", "email"},
		useBad{3, "b3", "invalid_client_version", "client_version"})

	useReject(tl, 400, "invalid_argument",
		useBatch(g("b0").set("product", "Micro Station"), g("g1"), g("b2").set("machine_id", "")),
		useBad{0, "b0", "invalid_argument", "product"},
		useBad{2, "b2", "invalid_argument", "machine_id"})

	// The rules, too: too old, in the future, unknown user, conflict.
	useAccepted(tl, 1, 0, g("known"))
	// A batch is decided against the records the projections know: one
	// answered a moment ago may not be applied yet, and would then not be
	// named as a conflict in a batch rejected for other reasons.
	tl.waitReady()
	useReject(tl, 409, "usage_too_old",
		useBatch(g("g0"), useR("old", useNow.Add(-40*24*time.Hour), time.Hour), useR("future", useNow.Add(time.Hour), time.Hour),
			g("stranger").set("email", "nobody@x.example"), g("known").set("machine_id", "m2"), g("g5")),
		useBad{1, "old", "usage_too_old", ""},
		useBad{2, "future", "usage_in_future", ""},
		useBad{3, "stranger", "user_not_found", ""},
		useBad{4, "known", "usage_id_conflict", ""})
	// The same bad records in another order: the new first one decides.
	useReject(tl, 404, "user_not_found",
		useBatch(g("stranger").set("email", "nobody@x.example"), useR("old", useNow.Add(-40*24*time.Hour), time.Hour), g("g1")),
		useBad{0, "stranger", "user_not_found", ""},
		useBad{1, "old", "usage_too_old", ""})

	// Nothing of the rejected batches was recorded: their good records are
	// new now.
	for _, r := range useAccepted(tl, 4, 0, g("g0"), g("g1"), g("g2"), g("g5")) {
		useClass(t, r, "pooled", "C1", false)
	}
	tl.checkStream()
}

// rule F1: records the decoder refuses (an unparsable time, an unknown
// field) and records the validation refuses (a bad email) are all bad
// input, and each one is named, not only those of the first kind
// (README: "A bad batch is rejected with the index and reason of each bad
// record"; docs/design.md: "first every record's fields, which reports all
// bad records").
func TestUsageF1EveryBadFieldNamed(t *testing.T) {
	tl := useStart(t)
	g := func(id string) useRec { return useR(id, useNow.Add(-2*time.Hour), time.Hour) }
	useReject(tl, 400, "invalid_argument",
		useBatch(g("g0"), g("b1").set("started_at", "yesterday"), g("b2").set("email", "nope"), g("b3").set("EMAIL", "x")),
		useBad{1, "b1", "invalid_argument", "started_at"},
		useBad{2, "b2", "invalid_argument", "email"},
		useBad{3, "b3", "invalid_argument", "EMAIL"})
	useReject(tl, 400, "invalid_client_version",
		useBatch(g("b0").set("client_version", "x"), g("b1").set("offline", "no")),
		useBad{0, "b0", "invalid_client_version", "client_version"},
		useBad{1, "b1", "invalid_argument", "offline"})
	tl.checkStream()
}

// rule F2
func TestUsageF2Duplicates(t *testing.T) {
	tl := useStart(t)
	tl.must(200, "POST", useAcme+"/licenses/P1/assign", e2eAssign("a@x.example", T0.Add(time.Hour)))
	start := T0.Add(2 * time.Hour)
	batch := []useRec{
		useR("u1", start, time.Hour),
		useR("u2", start, time.Hour).set("email", "b@x.example"),
		useR("u3", start, time.Hour).set("product", "openroads"),
	}
	first := useAccepted(tl, 3, 0, batch...)
	useClass(t, first[0], "practitioner", "P1", false)
	useClass(t, first[1], "pooled", "C1", false)
	useClass(t, first[2], "trial", "T1", false)
	n := len(tl.streamEvents())

	// Resent: all duplicates, nothing appended, the same classification.
	again := useAccepted(tl, 0, 3, batch...)
	for i := range again {
		useClass(t, again[i], first[i]["classification"].(string), first[i]["license_id"], true)
	}
	// Resent in another order, with a new record, written differently.
	cet := batch[0].set("started_at", "2026-01-05T03:00:00+01:00").set("email", "A@X.EXAMPLE")
	mixed := useAccepted(tl, 1, 2, batch[2], useR("u4", start, time.Hour), cet)
	useClass(t, mixed[0], "trial", "T1", true)
	useClass(t, mixed[1], "practitioner", "P1", false)
	useClass(t, mixed[2], "practitioner", "P1", true)
	if got := len(tl.streamEvents()); got != n+1 {
		t.Errorf("stream: got %d events, want %d (only u4 is new)", got, n+1)
	}

	// The same usage_id with other content: usage_id_conflict, naming it.
	for _, c := range []struct{ k, v string }{{"machine_id", "m2"}, {"email", "c@x.example"}, {"ended_at", e2eTS(start.Add(time.Hour + time.Second))}} {
		r := useReject(tl, 409, "usage_id_conflict", useBatch(useR("u5", start, time.Minute), batch[0].set(c.k, c.v)),
			useBad{1, "u1", "usage_id_conflict", ""})
		if m, _ := r.Body["error"].(map[string]any)["message"].(string); !strings.Contains(m, "u1") {
			t.Errorf("conflict on %s: message %q does not name u1", c.k, m)
		}
	}
	useReject(tl, 409, "usage_id_conflict", useBatch(batch[1].set("offline", true)), useBad{0, "u2", "usage_id_conflict", ""})

	// The same id twice in one batch: with the same content the second is a
	// duplicate; with other content the batch is rejected.
	twice := useAccepted(tl, 2, 1, useR("t1", start, time.Hour).set("email", "b@x.example"), useR("t2", start, time.Hour),
		useR("t1", start, time.Hour).set("email", "b@x.example"))
	useClass(t, twice[0], "pooled", "C1", false)
	useClass(t, twice[1], "practitioner", "P1", false)
	useClass(t, twice[2], "pooled", "C1", true)
	useReject(tl, 409, "usage_id_conflict", useBatch(useR("t3", start, time.Hour), useR("t3", start, 2*time.Hour)),
		useBad{1, "t3", "usage_id_conflict", ""})
	// t3 was not recorded by the rejected batch.
	useAccepted(tl, 1, 0, useR("t3", start, 2*time.Hour))

	// A replayed Idempotency-Key answers the first answer again.
	body := useBatch(useR("k1", start, time.Hour), batch[0])
	r1 := tl.must(200, "POST", usePath, body, "Idempotency-Key", "usage-k")
	n = len(tl.streamEvents())
	r2 := tl.must(200, "POST", usePath, body, "Idempotency-Key", "usage-k")
	if !reflect.DeepEqual(r1.Body, r2.Body) {
		t.Errorf("replayed Idempotency-Key: got %s, want the first answer %s", r2.Raw, r1.Raw)
	}
	if got := len(tl.streamEvents()); got != n {
		t.Errorf("replayed Idempotency-Key appended %d events", got-n)
	}

	// usage_id is unique per account: another account may use the same id.
	tl.must(201, "POST", "/v1/accounts", map[string]any{"id": "globex", "name": "Globex", "fulfillment_contact": "ops@globex.example"})
	tl.must(201, "POST", "/v1/accounts/globex/users", map[string]any{"email": "g@x.example", "entitlement_country": "DE"})
	r := tl.must(200, "POST", "/v1/accounts/globex/usage", useBatch(useR("u1", start, time.Hour).set("email", "g@x.example")))
	useClass(t, useCheckAnswer(t, r.Body, 1, 0, useR("u1", start, time.Hour))[0], "pooled", nil, false)

	n = 0
	for _, e := range tl.checkStream() {
		if u, ok := e.Data.(events.UsageRecorded); ok {
			if u.UsageID == "u1" {
				n++
			}
			if e.Account == "acme" {
				continue
			}
			if e.Account != "globex" || u.Email != "g@x.example" {
				t.Errorf("usage %s of %s recorded on %s", u.UsageID, u.Email, e.Subject())
			}
		}
	}
	if n != 2 {
		t.Errorf("u1: %d usage.recorded events, want 2 (one per account)", n)
	}
	for id, u := range useRecorded(tl) {
		if len(u) != 1 && id != "u1" {
			t.Errorf("%s: %d usage.recorded events, want 1", id, len(u))
		}
	}
}
