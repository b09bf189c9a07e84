package ledger_test

import (
	"net/url"
	"testing"
	"time"
)

// awkwardEmails are valid emails that are awkward in a URL path: slashes,
// dots beside them, characters a path or a query gives a meaning to,
// percent signs, and letters beyond ASCII (one decomposed, stored in NFC).
var awkwardEmails = []string{
	"a/b@x.example",
	"a/.b@x.example",
	"a./b@x.example",
	"a/b/c/d@x.example",
	"a.b.c@x.example",
	"a%2Fb@x.example",
	"a%41@x.example",
	"a?b=c@x.example",
	"a#b@x.example",
	"a&b+c@x.example",
	"~!$*'{|}`^=@x.example",
	"jose\u0301@x.example",
	"müller@x.example",
	"иван@x.example",
	"山田@x.example",
}

// rule A5: every email the ledger accepts is reachable through every route
// that names it: registered, read, changed, signed in and out, given a
// heartbeat, removed, and its history read after removal. Before issue 19,
// "a/./b@x.example" was registered and then answered 400 invalid_path
// everywhere.
func TestRuleA5EveryAcceptedEmailIsReachable(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.must(201, "POST", "/v1/accounts", map[string]any{"id": "acme", "name": "Acme", "fulfillment_contact": "ops@acme.example"})
	const users = "/v1/accounts/acme/users/"
	for _, email := range awkwardEmails {
		r := tl.must(201, "POST", "/v1/accounts/acme/users", map[string]any{"email": email})
		stored, _ := r.Body["email"].(string)
		p := url.PathEscape(stored)
		if got := tl.must(200, "GET", users+p, nil).Body["email"]; got != stored {
			t.Errorf("%q: GET answers %v, want %q", email, got, stored)
		}
		if got := tl.must(200, "PATCH", users+p, map[string]any{"entitlement_country": "DE"}).Body["entitlement_country"]; got != "DE" {
			t.Errorf("%q: PATCH answers country %v", email, got)
		}
		tl.must(201, "POST", "/v1/accounts/acme/sessions", map[string]any{"email": stored, "machine_id": "m1",
			"client_version": "10.00.18", "client_time": tl.clock.Now().Format(time.RFC3339)})
		tl.must(200, "POST", "/v1/accounts/acme/sessions/"+p+"/heartbeat", map[string]any{"machine_id": "m1"})
		tl.must(204, "DELETE", "/v1/accounts/acme/sessions/"+p, nil)
		tl.must(204, "DELETE", users+p, nil)
		if evs := e2eHistory(tl, users+p+"/history"); len(evs) < 2 {
			t.Errorf("%q: history after removal has %d events, want registration and removal", email, len(evs))
		}
		tl.must(404, "GET", users+p, nil)
	}
}

// rule A5: the emails no path could reach and the look-alikes of issue 19
// are refused at registration, invalid_argument naming the field, and
// nothing is appended.
func TestRuleA5UnreachableAndLookAlikeEmailsAreRefused(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.must(201, "POST", "/v1/accounts", map[string]any{"id": "acme", "name": "Acme", "fulfillment_contact": "ops@acme.example"})
	for _, email := range []string{"a/./b@x.example", "/lead@x.example", "a//b@x.example", "a/../b@x.example",
		"b\u043eb@x.example", "\uff42\uff4f\uff42@x.example", "\U0001d41bob@x.example", "b\u0131ll@x.example",
		"bob\u3164@x.example"} {
		r := e2eReject(tl, 400, "invalid_argument", "POST", "/v1/accounts/acme/users", map[string]any{"email": email})
		e2eDetail(t, r, "field", "email")
	}
}
