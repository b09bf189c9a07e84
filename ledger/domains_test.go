package ledger_test

import (
	"strings"
	"testing"
)

// rules A5, S2 (issue 19): once an admin claims a domain for an account,
// an email of that domain registers only there. Another account is told
// only that the address cannot be registered here, the same bytes whether
// the address is a user somewhere or nowhere; before the claim a squatter
// could take an address of the domain first.
func TestRuleS2DomainClaim(t *testing.T) {
	tl := startLedger(t, "", nil)
	for _, id := range []string{"alpha", "beta"} {
		tl.must(201, "POST", "/v1/accounts", map[string]any{"id": id, "name": id, "fulfillment_contact": "it@" + id + ".example"})
	}
	tl.must(201, "POST", "/v1/accounts/beta/users", map[string]any{"email": "bob@beta.example"})
	// Before the claim, alpha learns that bob exists elsewhere (A2 requires it).
	e2eReject(tl, 409, "user_in_other_account", "POST", "/v1/accounts/alpha/users", map[string]any{"email": "bob@beta.example"})

	r := tl.must(200, "PUT", "/v1/accounts/beta/domains/Beta.Example", nil)
	if r.Body["domain"] != "beta.example" || r.Body["account"] != "beta" {
		t.Fatalf("claim: %s", r.Raw)
	}
	tl.must(200, "PUT", "/v1/accounts/beta/domains/beta.example", nil) // again: nothing changes
	e2eReject(tl, 409, "domain_claimed", "PUT", "/v1/accounts/alpha/domains/beta.example", nil)

	known := e2eReject(tl, 409, "email_not_registrable", "POST", "/v1/accounts/alpha/users", map[string]any{"email": "bob@beta.example"})
	unknown := e2eReject(tl, 409, "email_not_registrable", "POST", "/v1/accounts/alpha/users", map[string]any{"email": "eve@beta.example"})
	strip := func(s, email string) string { return strings.ReplaceAll(s, email, "<email>") }
	if strip(string(known.Raw), "bob@beta.example") != strip(string(unknown.Raw), "eve@beta.example") {
		t.Errorf("a registered and an unknown address are told apart:\n%s\n%s", known.Raw, unknown.Raw)
	}
	tl.must(201, "POST", "/v1/accounts/beta/users", map[string]any{"email": "eve@beta.example"})
	tl.must(201, "POST", "/v1/accounts/alpha/users", map[string]any{"email": "eve@sub.beta.example"}) // the exact domain only

	// Only an admin claims; a scoped token sees its own claims only.
	tok := tl.must(201, "POST", "/v1/tokens", map[string]any{"name": "alpha admin", "role": "account_admin", "account": "alpha"}).Body["token"].(string)
	e2eReject(tl, 403, "forbidden", "PUT", "/v1/accounts/alpha/domains/alpha.example", nil, "Authorization", "Bearer "+tok)
	e2eReject(tl, 404, "account_not_found", "GET", "/v1/accounts/beta/domains/beta.example", nil, "Authorization", "Bearer "+tok)
	e2eReject(tl, 404, "not_found", "GET", "/v1/accounts/alpha/domains/beta.example", nil, "Authorization", "Bearer "+tok)
	tl.must(200, "GET", "/v1/accounts/beta/domains/beta.example", nil)

	tl.must(204, "DELETE", "/v1/accounts/beta/domains/beta.example", nil)
	e2eReject(tl, 404, "not_found", "DELETE", "/v1/accounts/beta/domains/beta.example", nil)
	tl.must(201, "POST", "/v1/accounts/alpha/users", map[string]any{"email": "carol@beta.example"})
	tl.checkStream()
}
