package ledger_test

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
)

// cpStart is a ledger in 2026-Q4 with account acme, users in Germany
// (de1..de3@x.example), France (fr1, fr2@x.example) and none
// (none@x.example), and two commercial licences for microstation: CDE, 2
// seats serving Germany, and CG, 1 global seat.
func cpStart(t *testing.T) *testLedger {
	t.Helper()
	tl := startLedger(t, "", newClock(time.Date(2026, 9, 30, 0, 0, 0, 0, time.UTC)))
	tl.must(201, "POST", "/v1/accounts", map[string]any{"id": "acme", "name": "Acme", "fulfillment_contact": "ops@acme.example"})
	for _, u := range []struct{ email, country string }{{"de1", "DE"}, {"de2", "DE"}, {"de3", "DE"}, {"fr1", "FR"}, {"fr2", "FR"}, {"none", ""}} {
		body := map[string]any{"email": u.email + "@x.example"}
		if u.country != "" {
			body["entitlement_country"] = u.country
		}
		tl.must(201, "POST", "/v1/accounts/acme/users", body)
	}
	q4, q1 := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	de := e2eLicense("CDE", "commercial", 2, q4, q1, "microstation")
	de["country"] = "de" // normalised to upper case
	r := tl.must(201, "POST", "/v1/accounts/acme/licenses", de)
	if r.Body["country"] != "DE" {
		t.Errorf("licence CDE: country %v, want DE", r.Body["country"])
	}
	r = tl.must(201, "POST", "/v1/accounts/acme/licenses", e2eLicense("CG", "commercial", 1, q4, q1, "microstation"))
	if v, ok := r.Body["country"]; !ok || v != nil {
		t.Errorf("licence CG: country %v (present %v), want null", v, ok)
	}
	tl.clock.Set(bilNow)
	return tl
}

// cpUse is pooled use of microstation by email on machine in [from, from+d).
func cpUse(id, email, machine string, from time.Time, d time.Duration) useRec {
	return useR(id, from, d).set("email", email+"@x.example").set("machine_id", machine)
}

// rules G9, G2, G6: per country the distinct machines, the country's own
// seats and its over at the peak; global seats serve what is over; usage
// without a country is a pool of its own, listed last. The report as of a
// sequence stays the same after a user's country changes and more usage
// arrives.
func TestRuleG9CountryPoolsReport(t *testing.T) {
	tl := cpStart(t)
	useAccepted(tl, 6, 0,
		cpUse("d1", "de1", "m-de1", bilPeak, time.Hour), cpUse("d2", "de2", "m-de2", bilPeak, time.Hour),
		cpUse("d3", "de3", "m-de3", bilPeak, time.Hour),
		cpUse("f1", "fr1", "m-fr1", bilPeak, time.Hour), cpUse("f2", "fr2", "m-fr2", bilPeak, 20*time.Minute),
		cpUse("n1", "none", "m-n1", bilPeak.Add(20*time.Minute), 10*time.Minute))
	// At 10:00 and 10:10: DE 3 over its 2 seats by 1, FR 2 over none by 2:
	// 3 short, less 1 global seat, 2 units. At 10:20: DE 3 (1 over), FR 1
	// (1), null 1 (1): 2 units too, with 5 machines over 3 seats. The peak
	// is 10:00, the earliest of the three.
	r := tl.must(200, "GET", bilQTL, nil)
	seq := uint64(r.Body["as_of_seq"].(float64))
	want := fmt.Sprintf(`{"account":"acme","quarter":"2026-Q4","as_of_seq":%d,"products":[`+
		`{"product":"microstation","peak_interval":"2026-10-05T10:00:00Z","peak_count":5,"seats":3,"units":2,`+
		`"machines":["m-de1","m-de2","m-de3","m-fr1","m-fr2"],`+
		`"countries":[{"country":"DE","count":3,"seats":2,"over":1},{"country":"FR","count":2,"seats":0,"over":2}]}]}`+"\n", seq)
	if string(r.Raw) != want {
		t.Errorf("report:\n%s\nwant\n%s", r.Raw, want)
	}
	// The evidence of the peak, and the series, break it down alike (G7).
	ev := tl.must(200, "GET", "/v1/accounts/acme/peaks/microstation/2026-10-05T10:20:00Z", nil)
	wantEv := `{"start":"2026-10-05T10:20:00Z","count":5,"seats":3,"over":2,"machines":[` +
		`{"machine_id":"m-de1","usage_ids":["d1"]},{"machine_id":"m-de2","usage_ids":["d2"]},{"machine_id":"m-de3","usage_ids":["d3"]},` +
		`{"machine_id":"m-fr1","usage_ids":["f1"]},{"machine_id":"m-n1","usage_ids":["n1"]}],"countries":[` +
		`{"country":"DE","count":3,"seats":2,"over":1,"machines":["m-de1","m-de2","m-de3"]},` +
		`{"country":"FR","count":1,"seats":0,"over":1,"machines":["m-fr1"]},` +
		`{"country":null,"count":1,"seats":0,"over":1,"machines":["m-n1"]}]}` + "\n"
	if string(ev.Raw) != wantEv {
		t.Errorf("evidence:\n%s\nwant\n%s", ev.Raw, wantEv)
	}
	series := tl.must(200, "GET", "/v1/accounts/acme/peaks?product=microstation&from=2026-10-05T10:00:00Z&to=2026-10-05T11:00:00Z", nil)
	if !strings.Contains(string(series.Raw), `{"start":"2026-10-05T10:30:00Z","count":4,"seats":3,"over":1,"countries":[{"country":"DE","count":3,"seats":2,"over":1},{"country":"FR","count":1,"seats":0,"over":1}]}`) {
		t.Errorf("series: %s", series.Raw)
	}
	// The billing run's line is the same report.
	all := tl.must(200, "GET", "/v1/qtl?quarter=2026-Q4", nil)
	line, _, _ := bufio.NewReader(bytes.NewReader(all.Raw)).ReadLine()
	if !strings.Contains(string(line), `"countries":[{"country":"DE","count":3,"seats":2,"over":1},{"country":"FR","count":2,"seats":0,"over":2}]`) {
		t.Errorf("billing run: %s", all.Raw)
	}

	// A later change of fr1's country, even back-dated, changes no
	// recorded usage; more French use at the peak raises the live report
	// and leaves the one as of seq alone (G6).
	tl.must(200, "PATCH", "/v1/accounts/acme/users/fr1@x.example", map[string]any{"entitlement_country": "DE", "at": e2eTS(bilNow)})
	useAccepted(tl, 1, 0, cpUse("f3", "fr2", "m-fr3", bilPeak, time.Hour))
	if again := tl.must(200, "GET", fmt.Sprintf("%s&as_of_seq=%d", bilQTL, seq), nil); string(again.Raw) != want {
		t.Errorf("as of %d after more usage:\n%s\nwant\n%s", seq, again.Raw, want)
	}
	live := tl.must(200, "GET", bilQTL, nil)
	if !strings.Contains(string(live.Raw), `"units":3`) || !strings.Contains(string(live.Raw), `{"country":"FR","count":3,"seats":0,"over":3}`) {
		t.Errorf("live report after French use: %s", live.Raw)
	}
}

// rule G9: only a commercial licence names a country, and only a country
// ISO 3166-1 knows.
func TestRuleG9LicenceCountryRejected(t *testing.T) {
	tl := cpStart(t)
	q4, q1 := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	p := e2eLicense("P9", "practitioner", 0, q4, q1, "microstation")
	p["country"] = "DE"
	e2eDetail(t, e2eReject(tl, 400, "invalid_argument", "POST", "/v1/accounts/acme/licenses", p), "field", "country")
	c := e2eLicense("C9", "commercial", 1, q4, q1, "microstation")
	c["country"] = "XX"
	e2eDetail(t, e2eReject(tl, 400, "invalid_argument", "POST", "/v1/accounts/acme/licenses", c), "field", "country")
}

// rules G4, G9: a threshold stays per product over every country: six
// machines in three pools, none over 5 on its own, raise the alert over 5.
func TestRuleG4ThresholdOverAllCountries(t *testing.T) {
	tl := cpStart(t)
	tl.must(200, "PUT", "/v1/accounts/acme/thresholds/microstation", map[string]any{"max_machines": 5})
	useAccepted(tl, 6, 0,
		cpUse("d1", "de1", "m1", bilPeak, time.Hour), cpUse("d2", "de2", "m2", bilPeak, time.Hour),
		cpUse("d3", "de3", "m3", bilPeak, time.Hour), cpUse("f1", "fr1", "m4", bilPeak, time.Hour),
		cpUse("f2", "fr2", "m5", bilPeak, time.Hour), cpUse("n1", "none", "m6", bilPeak, time.Hour))
	got := alerts(tl, 1)[0].(map[string]any)
	if got["count"] != float64(6) || got["interval_start"] != "2026-10-05T10:00:00Z" {
		t.Errorf("alert %v, want 6 machines at 10:00", got)
	}
}

// rules G2, G9: an account whose licences name no country gets G2's report,
// byte for byte, whatever its users' countries.
func TestRuleG9NoCountryLicencesIsG2(t *testing.T) {
	tl := bilStart(t, "")
	tl.must(201, "POST", "/v1/accounts/acme/users", map[string]any{"email": "fr@x.example", "entitlement_country": "FR"})
	tl.must(201, "POST", "/v1/accounts/acme/users", map[string]any{"email": "none@x.example"})
	useAccepted(tl, 4, 0,
		bilUse("p1", "m1", bilPeak, time.Hour), cpUse("p2", "fr", "m2", bilPeak, time.Hour),
		cpUse("p3", "none", "m3", bilPeak.Add(3*time.Minute), time.Hour), bilUse("p4", "m4", bilPeak.Add(10*time.Minute), 30*time.Minute))
	r := tl.must(200, "GET", bilQTL, nil)
	want := `{"account":"acme","quarter":"2026-Q4","as_of_seq":%d,"products":[` +
		`{"product":"microstation","peak_interval":"2026-10-05T10:10:00Z","peak_count":4,"seats":2,"units":2,"machines":["m1","m2","m3","m4"]},` +
		`{"product":"revit","peak_interval":null,"peak_count":0,"seats":2,"units":0,"machines":[]}]}` + "\n"
	if got := string(r.Raw); got != fmt.Sprintf(want, uint64(r.Body["as_of_seq"].(float64))) {
		t.Errorf("report:\n%s\nwant G2's\n%s", got, want)
	}
	ev := tl.must(200, "GET", "/v1/accounts/acme/peaks/microstation/2026-10-05T10:10:00Z", nil)
	if strings.Contains(string(ev.Raw), "countries") {
		t.Errorf("evidence without country licences breaks down by country: %s", ev.Raw)
	}
}
