package ledger_test

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/entledger/ledger/commands"
)

// rule H4: a user and an account can be asked "as of" a past business
// time, as a licence can: their events up to and including T, folded. A
// user removed since is shown as they were; before their registration, or
// from their removal on, they are not found. As of T, session is null.
func TestRuleH4UserAndAccountAsOf(t *testing.T) {
	tl := startLedger(t, "", newClock(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)))
	tl.must(201, "POST", "/v1/accounts", map[string]any{"id": "acme", "name": "Acme", "fulfillment_contact": "ops@acme.example",
		"at": "2025-12-01T00:00:00Z"})
	const user = "/v1/accounts/acme/users/a@x.example"
	tl.must(201, "POST", "/v1/accounts/acme/users", map[string]any{"email": "a@x.example", "entitlement_country": "DE",
		"at": "2025-12-10T00:00:00Z"})
	tl.must(200, "PATCH", user, map[string]any{"entitlement_country": "FR", "at": "2026-01-10T00:00:00Z"})
	tl.must(201, "POST", "/v1/accounts/acme/licenses", map[string]any{"id": "W1", "kind": "practitioner",
		"products": []string{"microstation"}, "valid_from": "2025-01-01T00:00:00Z", "valid_until": "2028-01-01T00:00:00Z",
		"at": "2026-01-01T00:00:00Z"})
	tl.must(200, "POST", "/v1/accounts/acme/licenses/W1/assign", map[string]any{"email": "a@x.example", "at": "2026-01-15T00:00:00Z"})
	tl.must(204, "DELETE", user, map[string]any{"at": "2026-02-01T00:00:00Z"})
	// b is signed in now; as of a past time no session is shown.
	tl.must(201, "POST", "/v1/accounts/acme/users", map[string]any{"email": "b@x.example", "at": "2025-12-10T00:00:00Z"})
	tl.must(201, "POST", "/v1/accounts/acme/sessions", map[string]any{"email": "b@x.example", "machine_id": "m1",
		"client_version": "10.00.18", "client_time": "2026-03-01T00:00:00Z"})
	if r := tl.must(200, "GET", "/v1/accounts/acme/users/b@x.example", nil); r.Body["session"] == nil {
		t.Errorf("b now: %s, want the live session", r.Raw)
	}
	if r := tl.must(200, "GET", "/v1/accounts/acme/users/b@x.example?as_of=2026-03-01T00:00:00Z", nil); r.Body["session"] != nil {
		t.Errorf("b as of now: %s, want session null", r.Raw)
	}

	for _, tc := range []struct{ asOf, country, licence string }{
		{"2025-12-10T00:00:00Z", "DE", ""},
		{"2026-01-09T23:59:59.999999999Z", "DE", ""},
		{"2026-01-10T00:00:00Z", "FR", ""},
		{"2026-01-15T00:00:00Z", "FR", "W1"},
		{"2026-01-31T23:59:59Z", "FR", "W1"},
	} {
		r := tl.must(200, "GET", "/v1/accounts/acme/users/A@x.example?as_of="+url.QueryEscape(tc.asOf), nil)
		licence, _ := r.Body["license_id"].(string)
		if r.Body["email"] != "a@x.example" || r.Body["entitlement_country"] != tc.country || licence != tc.licence ||
			r.Body["session"] != nil || r.Body["registered_at"] != "2025-12-10T00:00:00Z" {
			t.Errorf("user as of %s: %s; want country %s, licence %q, session null", tc.asOf, r.Raw, tc.country, tc.licence)
		}
	}
	for _, asOf := range []string{"2025-12-09T23:59:59Z", "2026-02-01T00:00:00Z"} {
		if r := tl.do("GET", user+"?as_of="+url.QueryEscape(asOf), nil); r.Status != 404 || r.code() != commands.CodeUserNotFound {
			t.Errorf("user as of %s (not registered then): %d %s, want 404 user_not_found", asOf, r.Status, r.Raw)
		}
	}
	if r := tl.do("GET", user, nil); r.Status != 404 || r.code() != commands.CodeUserNotFound {
		t.Errorf("the removed user now: %d %s, want 404 user_not_found", r.Status, r.Raw)
	}

	// The account: not yet before its creation, then as created.
	now := tl.must(200, "GET", "/v1/accounts/acme", nil)
	if r := tl.must(200, "GET", "/v1/accounts/acme?as_of=2025-12-01T00:00:00Z", nil); fmt.Sprint(r.Body) != fmt.Sprint(now.Body) {
		t.Errorf("account as of its creation: %s, want %s", r.Raw, now.Raw)
	}
	if r := tl.do("GET", "/v1/accounts/acme?as_of=2025-11-30T23:59:59Z", nil); r.Status != 404 || r.code() != commands.CodeAccountNotFound {
		t.Errorf("account as of before its creation: %d %s, want 404 account_not_found", r.Status, r.Raw)
	}
	for _, path := range []string{"/v1/accounts/acme", user} {
		for _, bad := range []string{"yesterday", ""} {
			if r := tl.do("GET", path+"?as_of="+bad, nil); r.Status != 400 || r.details()["field"] != "as_of" {
				t.Errorf("GET %s?as_of=%s: %d %s, want 400 naming as_of", path, bad, r.Status, r.Raw)
			}
		}
	}
	if r := tl.do("GET", "/v1/accounts/ghost?as_of=2026-01-01T00:00:00Z", nil); r.Status != 404 || r.code() != commands.CodeAccountNotFound {
		t.Errorf("an unknown account as of T: %d %s, want 404 account_not_found", r.Status, r.Raw)
	}
}
