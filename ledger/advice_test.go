package ledger_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// adStart is cpStart (DE 2 seats, 1 global seat for microstation; users
// de1..de3, fr1, fr2, none) with old@x.example (DE) holding practitioner
// licence P1 for microstation, and free practitioner licences P2 and P3 for
// microstation, P4 for revit only, and P5 for microstation that ended in
// September.
func adStart(t *testing.T) *testLedger {
	t.Helper()
	tl := cpStart(t)
	q4, q1 := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	sep30 := e2eTS(q4.Add(-24 * time.Hour))
	tl.must(201, "POST", "/v1/accounts/acme/users", map[string]any{"email": "old@x.example", "entitlement_country": "DE", "at": sep30})
	for _, l := range []map[string]any{
		e2eLicense("P1", "practitioner", 0, q4, q1, "microstation"), e2eLicense("P2", "practitioner", 0, q4, q1, "microstation"),
		e2eLicense("P3", "practitioner", 0, q4, q1, "microstation"), e2eLicense("P4", "practitioner", 0, q4, q1, "revit"),
		e2eLicense("P5", "practitioner", 0, q4.AddDate(0, -3, 0), q4, "microstation"),
	} {
		l["at"] = sep30
		tl.must(201, "POST", "/v1/accounts/acme/licenses", l)
	}
	tl.must(200, "POST", "/v1/accounts/acme/licenses/P1/assign", map[string]any{"email": "old@x.example", "at": e2eTS(q4)})
	return tl
}

const adPath = "/v1/accounts/acme/qtl/advice?quarter=2026-Q4"

// rule G11: the leak (pooled use of a licence holder's old client), the
// users whose pooled use cost the most, and the greedy plan for the free
// practitioner licences covering the product, reproducible with as_of_seq.
func TestRuleG11Advice(t *testing.T) {
	tl := adStart(t)
	useAccepted(tl, 6, 0,
		cpUse("d1", "de1", "m1", bilPeak, time.Hour), cpUse("d2", "de2", "m2", bilPeak, time.Hour),
		cpUse("d3", "de3", "m3", bilPeak, time.Hour), cpUse("f1", "fr1", "m4", bilPeak, time.Hour),
		cpUse("f2", "fr2", "m5", bilPeak, time.Hour),
		// old holds P1 but uses a client older than 10.00.18: pooled (F4).
		cpUse("o1", "old", "m6", bilPeak, time.Hour).set("client_version", useOldCli))
	// At the peak: DE 4 machines over 2 seats (2), FR 2 over none (2), less
	// 1 global seat: 3 units. Without the leak, or without any one user,
	// 2. The plan takes de1 (the smallest of the ties), then de2 (DE 2 over
	// 2, FR 2: 1 unit, a tie with fr1 and fr2).
	r := tl.must(200, "GET", adPath, nil)
	seq := uint64(r.Body["as_of_seq"].(float64))
	want := fmt.Sprintf(`{"account":"acme","quarter":"2026-Q4","as_of_seq":%d,"products":[{"product":"microstation","units":3,`+
		`"leak":{"records":1,"units_without":2},"users":[`+
		`{"email":"de1@x.example","saves":1,"units_without":2},{"email":"de2@x.example","saves":1,"units_without":2},`+
		`{"email":"de3@x.example","saves":1,"units_without":2},{"email":"fr1@x.example","saves":1,"units_without":2},`+
		`{"email":"fr2@x.example","saves":1,"units_without":2},{"email":"old@x.example","saves":1,"units_without":2}],`+
		`"plan":{"licences_available":2,"assign":["de1@x.example","de2@x.example"],"units_after":1}}]}`+"\n", seq)
	if string(r.Raw) != want {
		t.Errorf("advice:\n%s\nwant\n%s", r.Raw, want)
	}
	// The report it advises on.
	if rep := tl.must(200, "GET", bilQTL, nil); !strings.Contains(string(rep.Raw), `"units":3`) {
		t.Errorf("report: %s", rep.Raw)
	}
	// Follow part of the advice: P2 to fr1. Live, one licence is free and
	// fr1 no longer a candidate; as of seq, the advice is the same bytes.
	tl.must(200, "POST", "/v1/accounts/acme/licenses/P2/assign", map[string]any{"email": "fr1@x.example"})
	useAccepted(tl, 1, 0, cpUse("f3", "fr2", "m7", bilPeak, time.Hour))
	if again := tl.must(200, "GET", fmt.Sprintf("%s&as_of_seq=%d", adPath, seq), nil); string(again.Raw) != want {
		t.Errorf("as of %d:\n%s\nwant\n%s", seq, again.Raw, want)
	}
	live := tl.must(200, "GET", adPath, nil)
	if !strings.Contains(string(live.Raw), `"units":4`) || !strings.Contains(string(live.Raw), `"plan":{"licences_available":1,"assign":["fr2@x.example"]`) {
		t.Errorf("live advice after the assignment and more French use: %s", live.Raw)
	}
	// A month of it too (G10); a product without units has no advice.
	if m := tl.must(200, "GET", "/v1/accounts/acme/qtl/advice?month=2026-10", nil); !strings.HasPrefix(string(m.Raw), `{"account":"acme","month":"2026-10",`) {
		t.Errorf("October: %s", m.Raw)
	}
	if m := tl.must(200, "GET", "/v1/accounts/acme/qtl/advice?month=2026-11", nil); !strings.Contains(string(m.Raw), `"products":[]`) {
		t.Errorf("November, nothing billed: %s", m.Raw)
	}
	for q, field := range map[string]string{"": "quarter", "quarter=2026-Q5": "quarter", "month=2026-10&quarter=2026-Q4": "month",
		"quarter=2026-Q4&as_of_seq=0": "as_of_seq", "quarter=2026-Q4&as_of_seq=999999": "as_of_seq"} {
		e2eDetail(t, e2eReject(tl, 400, "invalid_argument", "GET", "/v1/accounts/acme/qtl/advice?"+q, nil), "field", field)
	}
	e2eReject(tl, 404, "account_not_found", "GET", "/v1/accounts/nope/qtl/advice?quarter=2026-Q4", nil)
}
