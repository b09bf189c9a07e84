package ledger_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// rules G10, G6: a report covers a calendar month as it covers a quarter
// (month=YYYY-MM), names the month, is reproducible with as_of_seq, and the
// billing run takes a month too. Exactly one of quarter and month.
func TestRuleG10MonthlyTerms(t *testing.T) {
	tl := bilStart(t, "")
	oct, nov := time.Date(2026, 10, 5, 10, 0, 0, 0, time.UTC), time.Date(2026, 10, 31, 23, 50, 0, 0, time.UTC)
	// October: 3 machines on the 5th. The last interval of October runs
	// into November; a record across midnight counts in both months.
	useAccepted(tl, 5, 0, bilUse("o1", "m1", oct, time.Hour), bilUse("o2", "m2", oct, time.Hour), bilUse("o3", "m3", oct, time.Hour),
		bilUse("e1", "m4", nov, 30*time.Minute), bilUse("e2", "m5", nov, 30*time.Minute))
	r := tl.must(200, "GET", "/v1/accounts/acme/qtl?month=2026-10", nil)
	seq := uint64(r.Body["as_of_seq"].(float64))
	want := fmt.Sprintf(`{"account":"acme","month":"2026-10","as_of_seq":%d,"products":[`+
		`{"product":"microstation","peak_interval":"2026-10-05T10:00:00Z","peak_count":3,"seats":2,"units":1,"machines":["m1","m2","m3"]},`+
		`{"product":"revit","peak_interval":null,"peak_count":0,"seats":2,"units":0,"machines":[]}]}`+"\n", seq)
	if string(r.Raw) != want {
		t.Errorf("October:\n%s\nwant\n%s", r.Raw, want)
	}
	novRep := tl.must(200, "GET", "/v1/accounts/acme/qtl?month=2026-11", nil)
	if !strings.Contains(string(novRep.Raw), `"month":"2026-11"`) ||
		!strings.Contains(string(novRep.Raw), `"peak_interval":"2026-11-01T00:00:00Z","peak_count":2,"seats":2,"units":0,"machines":["m4","m5"]`) {
		t.Errorf("November: %s", novRep.Raw)
	}
	// Later usage in October changes the live report, not the one as of seq.
	useAccepted(tl, 1, 0, bilUse("o4", "m6", oct, time.Hour))
	if again := tl.must(200, "GET", fmt.Sprintf("/v1/accounts/acme/qtl?month=2026-10&as_of_seq=%d", seq), nil); string(again.Raw) != want {
		t.Errorf("as of %d:\n%s\nwant\n%s", seq, again.Raw, want)
	}
	if live := tl.must(200, "GET", "/v1/accounts/acme/qtl?month=2026-10", nil); !strings.Contains(string(live.Raw), `"units":2`) {
		t.Errorf("live October after more use: %s", live.Raw)
	}
	// The billing run of a month: one line per account, naming the month.
	all := tl.must(200, "GET", "/v1/qtl?month=2026-10", nil)
	if lines := strings.Split(strings.TrimSpace(string(all.Raw)), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], `{"account":"acme","month":"2026-10",`) {
		t.Errorf("billing run of October: %s", all.Raw)
	}
	for q, field := range map[string]string{
		"month=2026-13": "month", "month=2026-1": "month", "month=26-10": "month", "month=": "quarter",
		"quarter=2026-Q4&month=2026-10": "month", "": "quarter",
	} {
		e2eDetail(t, e2eReject(tl, 400, "invalid_argument", "GET", "/v1/accounts/acme/qtl?"+q, nil), "field", field)
		e2eDetail(t, e2eReject(tl, 400, "invalid_argument", "GET", "/v1/qtl?"+q, nil), "field", field)
	}
}
