package ledger_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// Issue 19, strict input through HTTP: two Authorization headers are
// ambiguous (400, not the first one's answer); a lone surrogate is 400, not
// U+FFFD; integer fields take 1e2 as 100 and refuse 1.5; lower-case RFC 3339
// is RFC 3339; and the years outside [2000, 9000) are refused in bodies,
// paths and queries alike.
func TestStrictInputThroughHTTP(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()

	req, _ := http.NewRequest("GET", tl.base+"/v1/accounts/acme", nil)
	req.Header.Add("Authorization", "Bearer "+tl.token)
	req.Header.Add("Authorization", "Bearer ledger_x_y")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(raw), `"field":"Authorization"`) {
		t.Errorf("two Authorization headers: %d %s, want 400 naming Authorization", resp.StatusCode, raw)
	}

	e2eReject(tl, 400, "malformed_json", "POST", "/v1/accounts/acme/users", `{"email":"a\ud800@x.example"}`)

	lic := `{"id":"C1","kind":"commercial","products":["openroads"],"seats":1e2,` +
		`"valid_from":"2026-01-01t00:00:00z","valid_until":"2027-01-01T00:00:00Z"}`
	r := tl.must(201, "POST", "/v1/accounts/acme/licenses", lic)
	if r.Body["seats"] != float64(100) || r.Body["valid_from"] != "2026-01-01T00:00:00Z" {
		t.Errorf("seats 1e2 and a lower-case valid_from: %s", r.Raw)
	}
	r = e2eReject(tl, 400, "invalid_argument", "PUT", "/v1/accounts/acme/thresholds/openroads", `{"max_machines":1.5}`)
	e2eDetail(t, r, "field", "max_machines")
	tl.must(200, "PUT", "/v1/accounts/acme/thresholds/openroads", `{"max_machines":4E0}`)

	for _, path := range []string{
		"/v1/accounts/acme/usage/summary?from=1999-12-31",
		"/v1/accounts/acme/usage/summary?from=0001-01-01T00:00:00Z",
		"/v1/accounts/acme/alerts?from=1999-01-01",
		"/v1/accounts/acme/peaks/openroads/0001-01-01T00:00:00Z",
		"/v1/accounts/acme/peaks?product=openroads&from=1999-01-01T00:00:00Z&to=2026-01-01T00:00:00Z",
		"/v1/accounts/acme/licenses/P1?as_of=1999-12-31T00:00:00Z",
		"/v1/accounts/acme/qtl?quarter=1999-Q4",
		"/v1/qtl?quarter=1999-Q4",
	} {
		e2eReject(tl, 400, "invalid_argument", "GET", path, nil)
	}
	tl.must(200, "GET", "/v1/accounts/acme/peaks/openroads/2026-01-05t10:00:00z", nil)
	tl.must(200, "GET", "/v1/accounts/acme/usage/summary?from=2026-01-01t00:00:00z", nil)
}
