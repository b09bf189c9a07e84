package ledger_test

import (
	"net/url"
	"testing"
	"time"
)

// rule H4: the state of a licence can be asked "as of" any past time. The
// worked example of docs/rules.md, asked afterwards about each of its moments.
func TestRuleH4LicenceAsOf(t *testing.T) {
	tl := startLedger(t, "", newClock(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)))
	// An import from an earlier system: everything dated with at.
	tl.must(201, "POST", "/v1/accounts", map[string]any{"id": "acme", "name": "Acme", "fulfillment_contact": "ops@acme.example",
		"at": "2025-12-01T00:00:00Z"})
	for _, u := range []string{"a@x.example", "b@x.example", "c@x.example"} {
		tl.must(201, "POST", "/v1/accounts/acme/users", map[string]any{"email": u, "entitlement_country": "DE",
			"at": "2025-12-01T00:00:00Z"})
	}
	assign := func(email, when string) map[string]any { return map[string]any{"email": email, "at": when} }
	tl.must(201, "POST", "/v1/accounts/acme/licenses", map[string]any{"id": "W1", "kind": "practitioner",
		"products": []string{"microstation"}, "valid_from": "2025-01-01T00:00:00Z", "valid_until": "2028-01-01T00:00:00Z",
		"at": "2026-01-01T00:00:00Z"})
	const w1 = "/v1/accounts/acme/licenses/W1"
	tl.must(200, "POST", w1+"/assign", assign("a@x.example", "2026-01-05T00:00:00Z"))
	tl.must(200, "POST", w1+"/reassign", assign("b@x.example", "2026-01-05T23:59:00Z"))
	tl.must(200, "POST", w1+"/reassign", assign("c@x.example", "2026-02-05T00:00:00Z"))

	for _, tc := range []struct {
		asOf, assignee, closes, locked, lockState string
		reassignable                              bool
	}{
		{"2026-01-04T23:59:59Z", "", "", "", "none", false},
		{"2026-01-05T00:00:00Z", "a@x.example", "2026-01-06T00:00:00Z", "2026-02-05T00:00:00Z", "window_open", true},
		{"2026-01-05T23:59:00Z", "b@x.example", "2026-01-06T00:00:00Z", "2026-02-05T00:00:00Z", "window_open", true},
		{"2026-01-06T00:00:00Z", "b@x.example", "2026-01-06T00:00:00Z", "2026-02-05T00:00:00Z", "locked", false},
		{"2026-02-05T00:00:00Z", "c@x.example", "2026-02-06T00:00:00Z", "2026-03-08T00:00:00Z", "window_open", true},
	} {
		r := tl.must(200, "GET", w1+"?as_of="+url.QueryEscape(tc.asOf), nil)
		got := func(k string) string { s, _ := r.Body[k].(string); return s }
		if got("assignee") != tc.assignee || got("window_closes_at") != tc.closes || got("locked_until") != tc.locked ||
			got("lock_state") != tc.lockState || r.Body["reassignable_now"] != tc.reassignable {
			t.Errorf("as_of %s: assignee %q closes %q locked %q lock_state %q reassignable %v; want %q %q %q %q %v",
				tc.asOf, got("assignee"), got("window_closes_at"), got("locked_until"), got("lock_state"),
				r.Body["reassignable_now"], tc.assignee, tc.closes, tc.locked, tc.lockState, tc.reassignable)
		}
	}
	// Before the licence existed; a malformed time; the present is unchanged.
	if r := tl.do("GET", w1+"?as_of=2025-12-31T00:00:00Z", nil); r.Status != 404 || r.code() != "license_not_found" {
		t.Errorf("as_of before creation: %d %s, want 404 license_not_found", r.Status, r.Raw)
	}
	if r := tl.do("GET", w1+"?as_of=yesterday", nil); r.Status != 400 || r.details()["field"] != "as_of" {
		t.Errorf("malformed as_of: %d %s, want 400 naming as_of", r.Status, r.Raw)
	}
	if r := tl.must(200, "GET", w1, nil); r.Body["assignee"] != "c@x.example" {
		t.Errorf("now: assignee %v, want c@x.example", r.Body["assignee"])
	}
}
