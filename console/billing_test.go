package console_test

import (
	"strings"
	"testing"
	"time"
)

// rule G9: the billing page shows, under a product whose licences name a
// country, each country's pool at the peak: its machines, its own seats and
// what it is above them.
func TestBillingCountryPools(t *testing.T) {
	tl := startLedger(t)
	tl.seed("acme")
	tl.api(tl.token, "POST", "/v1/accounts/acme/licenses", map[string]any{"id": "C-DE", "kind": "commercial", "seats": 1,
		"country": "DE", "products": []string{"openroads"}, "valid_from": "2025-01-01T00:00:00Z", "valid_until": "2027-01-01T00:00:00Z"}, 201)
	recs := []map[string]any{}
	for i, u := range []struct{ email, machine string }{{"ada", "m1"}, {"bob", "m2"}, {"bob", "m3"}} {
		recs = append(recs, map[string]any{"usage_id": "u" + string(rune('1'+i)), "email": u.email + "@acme.example", "product": "openroads",
			"machine_id": u.machine, "client_version": "10.00.18.25", "started_at": "2026-01-05T08:00:00Z", "ended_at": "2026-01-05T08:30:00Z"})
	}
	tl.api(tl.token, "POST", "/v1/accounts/acme/usage", map[string]any{"records": recs}, 200)
	b := tl.browser()
	b.signIn(tl.token)
	p := b.get("/accounts/acme/billing?quarter=2026-Q1")
	for _, want := range []string{
		`<tr class="country-pool" data-pool-of="openroads" data-country="DE">`,
		`<td>openroads in DE</td>`, `<td data-field="over">within its own seats</td>`,
		`<td>openroads in FR</td>`, `<td data-field="over">2 above its own seats</td>`,
		"the units billed are what each country",
	} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("the billing page lacks %s", want)
		}
	}
}

// rule G10: the billing page reports a month for monthly terms, chosen
// with the one period select (or month= in the address).
func TestBillingMonth(t *testing.T) {
	tl := startLedger(t)
	tl.seed("acme")
	b := tl.browser()
	b.signIn(tl.token)
	for _, path := range []string{"/accounts/acme/billing?period=2026-01", "/accounts/acme/billing?month=2026-01"} {
		p := b.get(path)
		for _, want := range []string{`<table id="qtl-table" data-month="2026-01"`, "Monthly term licences of 2026-01",
			`<option selected>2026-01</option>`, `<h2 id="qtl-h">QTL of 2026-01</h2>`} {
			if !strings.Contains(p.Body, want) {
				t.Errorf("%s lacks %s", path, want)
			}
		}
	}
	if p := b.get("/accounts/acme/billing?month=2026-13"); !strings.Contains(p.Body, "is not a month") {
		t.Errorf("a bad month is not explained:\n%s", p.Body)
	}
}

// rule G11: the billing page says, in words an administrator acts on, whom
// to give the free practitioner licences and what it would have saved, and
// what old clients of licence holders cost.
func TestBillingAdviceInWords(t *testing.T) {
	tl := startLedger(t)
	tl.seed("acme") // P-1, P-2 for microstation, free; C-1: 2 seats of openroads
	tl.api(tl.token, "POST", "/v1/accounts/acme/licenses", map[string]any{"id": "C-2", "kind": "commercial", "seats": 1,
		"products": []string{"microstation"}, "valid_from": "2025-01-01T00:00:00Z", "valid_until": "2027-01-01T00:00:00Z"}, 201)
	tl.api(tl.token, "POST", "/v1/accounts/acme/users", map[string]any{"email": "cy@acme.example", "entitlement_country": "DE"}, 201)
	tl.api(tl.token, "POST", "/v1/accounts/acme/licenses/P-1/assign", map[string]any{"email": "cy@acme.example"}, 200)
	tl.clock.Advance(3 * time.Hour)
	var recs []map[string]any
	for i, u := range []struct{ email, machine, version string }{
		{"ada", "m1", "10.00.18.25"}, {"bob", "m2", "10.00.18.25"}, {"bob", "m3", "10.00.18.25"}, {"cy", "m4", "10.00.17.2"},
	} {
		recs = append(recs, map[string]any{"usage_id": "w" + string(rune('1'+i)), "email": u.email + "@acme.example", "product": "microstation",
			"machine_id": u.machine, "client_version": u.version, "started_at": "2026-01-05T10:10:00Z", "ended_at": "2026-01-05T10:40:00Z"})
	}
	tl.api(tl.token, "POST", "/v1/accounts/acme/usage", map[string]any{"records": recs}, 200)
	b := tl.browser()
	b.signIn(tl.token)
	p := b.get("/accounts/acme/billing?quarter=2026-Q1")
	// 4 machines over 1 seat: 3 units. bob alone 2 (m2, m3), ada 1, cy 1
	// (on an old client while she holds P-1). One licence free (P-2).
	for _, want := range []string{
		"<h3>microstation: 3 units billed</h3>",
		"Assign your 1 unassigned practitioner licence to bob@acme.example: the quarter would have cost 1 unit instead of 3.",
		"1 session by practitioners on clients older than 10.00.18 was billed as pooled: 1 unit.",
		"<tr><th scope=\"row\">bob@acme.example</th><td>2</td><td>1</td></tr>",
	} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("the billing page lacks %q", want)
		}
	}
}
