package ledger_test

import (
	"fmt"
	"testing"

	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/server"
)

// rule S9: usage is counted in records, not requests: one batch of 600
// records takes most of a token's 1000, and the second is refused 429
// naming usage_records, with Retry-After. Before issue 19, 211 batches of
// 1000 records in 20 s were all accepted (the limit counted requests).
func TestRuleS9UsageCountedInRecords(t *testing.T) {
	tl := startConfigured(t, server.Config{HTTPAddr: "127.0.0.1:0", NoReminders: true, UsageRate: 1000}, nil)
	tl.setup()
	ingest := authToken(tl, events.RoleIngest, "acme")
	batch := func(from int) map[string]any {
		recs := make([]map[string]any, 600)
		for i := range recs {
			recs[i] = map[string]any{"usage_id": fmt.Sprintf("u%d", from+i), "email": "a@x.example", "product": "microstation",
				"machine_id": "m1", "client_version": "10.00.18", "started_at": "2026-01-04T10:00:00Z",
				"ended_at": "2026-01-04T11:00:00Z", "offline": false}
		}
		return map[string]any{"records": recs}
	}
	tl.must(200, "POST", "/v1/accounts/acme/usage", batch(0), "Authorization", "Bearer "+ingest)
	r := tl.do("POST", "/v1/accounts/acme/usage", batch(600), "Authorization", "Bearer "+ingest)
	if r.Status != 429 || r.details()["limit"] != "usage_records" || r.details()["scope"] != "token" {
		t.Fatalf("the second batch: %d %s, want 429 on usage_records of the token", r.Status, r.Raw)
	}
}

// rule S9: reports are counted in computations; a report as of a sequence
// already computed comes from the cache and is free, a new one is not.
// Before issue 19 reads were not metered: 16 new as_of_seq reports at once
// took another account's reads from 1.3 ms to 86 ms.
func TestRuleS9ReportsCountedInComputations(t *testing.T) {
	tl := startConfigured(t, server.Config{HTTPAddr: "127.0.0.1:0", NoReminders: true, ReportRate: 0.5}, nil)
	tl.setup()
	auditor := authToken(tl, events.RoleAuditor, "acme")
	as := []string{"Authorization", "Bearer " + auditor}
	seq := e2eStreamLen(t, tl.srv)
	path := fmt.Sprintf("/v1/accounts/acme/qtl?quarter=2026-Q1&as_of_seq=%d", seq)
	first := tl.must(200, "GET", path, nil, as...)
	for range 3 {
		if again := tl.must(200, "GET", path, nil, as...); string(again.Raw) != string(first.Raw) {
			t.Fatalf("the cached report differs: %s", again.Raw)
		}
	}
	// The token's bucket holds 10 computations (at 0.25 a second, half the
	// account's): the first report took one, the cached ones none, so 9
	// more pass (10 if a refill came meanwhile; 6 had the cached ones been
	// charged), then 429 on report_computations.
	passed := 0
	for day := 1; day <= 20; day++ {
		p := fmt.Sprintf("/v1/accounts/acme/peaks?product=microstation&from=2026-01-%02dT00:00:00Z&to=2026-01-%02dT01:00:00Z", day, day)
		r := tl.do("GET", p, nil, as...)
		if r.Status == 429 {
			if r.details()["limit"] != "report_computations" {
				t.Errorf("GET %s past the rate: %s, want 429 on report_computations", p, r.Raw)
			}
			break
		}
		passed++
	}
	if passed < 9 || passed > 10 {
		t.Errorf("%d report computations passed before a 429, want 9 (the bucket of 10 less the first report; cached reports are free)", passed)
	}
	if r := tl.do("GET", "/v1/accounts/acme/usage/export", nil, as...); r.Status != 429 || r.details()["limit"] != "report_computations" {
		t.Errorf("an export past the rate: %d %s, want 429 on report_computations", r.Status, r.Raw)
	}
}
