package api

import (
	"testing"
	"time"

	"github.com/entledger/ledger/commands"
)

func wantLimited(t *testing.T, err error, limit, scope string) {
	t.Helper()
	e, ok := err.(*commands.Error)
	if !ok || e.Code != commands.CodeRateLimited || e.Details["limit"] != limit || e.Details["scope"] != scope ||
		e.Details["retry_after_seconds"].(int) < 1 {
		t.Fatalf("%v, want rate_limited on %s of the %s with a retry", err, limit, scope)
	}
}

// rule S9: limits count cost, per token and per account. A token has half
// its account's rate; usage is counted in records, so one batch of 1000
// records weighs 1000 commands; another token of the account shares the
// account's bucket, another account does not; the buckets refill on the
// clock they are given (the wall clock, in the ledger).
func TestRuleS9LimitsCountCost(t *testing.T) {
	now := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	var r rates
	r[costUsageRecords], r[costReports] = 2000, 2
	l := newLimits(r, 0, func() time.Time { return now })

	// A token: 1000 records a second, a bucket of 2000.
	for i := range 2 {
		if err := l.charge("t1", "alpha", costUsageRecords, 1000); err != nil {
			t.Fatalf("batch %d inside the token's burst: %v", i, err)
		}
	}
	wantLimited(t, l.charge("t1", "alpha", costUsageRecords, 1), "usage_records", "token")
	// Another token of alpha: the account's 4000 are half spent.
	if err := l.charge("t2", "alpha", costUsageRecords, 1000); err != nil {
		t.Fatal(err)
	}
	if err := l.charge("t2", "alpha", costUsageRecords, 1000); err != nil {
		t.Fatal(err)
	}
	wantLimited(t, l.charge("t3", "alpha", costUsageRecords, 1000), "usage_records", "account")
	// Another account is not slowed.
	if err := l.charge("t4", "beta", costUsageRecords, 1000); err != nil {
		t.Errorf("another account: %v", err)
	}
	// A refused charge takes nothing: after half a second t1 has 500.
	now = now.Add(500 * time.Millisecond)
	if err := l.charge("t1", "alpha", costUsageRecords, 500); err != nil {
		t.Errorf("after the refill: %v", err)
	}
	// Reports: 1 a second per token, a burst of reportSession (what one
	// asks at once); commands unlimited here.
	for range reportSession {
		if err := l.charge("t1", "alpha", costReports, 1); err != nil {
			t.Fatal(err)
		}
	}
	wantLimited(t, l.charge("t1", "alpha", costReports, 1), "report_computations", "token")
	if err := l.charge("t1", "alpha", costCommands, 1_000_000); err != nil {
		t.Errorf("an unlimited cost: %v", err)
	}
	var off *limits
	if err := off.charge("t1", "alpha", costUsageRecords, 1); err != nil {
		t.Errorf("no limits: %v", err)
	}
}

// rule S9: the requests running at once are capped for the process, and a
// token may hold an eighth of them and an account a quarter: not 256.
func TestRuleS9InFlightShares(t *testing.T) {
	l := newLimits(rates{}, 16, nil)
	var leaves []func()
	for range 2 {
		leave, err := l.enter("t1", "alpha")
		if err != nil {
			t.Fatal(err)
		}
		leaves = append(leaves, leave)
	}
	_, err := l.enter("t1", "alpha")
	wantLimited(t, err, "in_flight", "token")
	for range 2 {
		leave, err := l.enter("t2", "alpha")
		if err != nil {
			t.Fatal(err)
		}
		leaves = append(leaves, leave)
	}
	_, err = l.enter("t3", "alpha")
	wantLimited(t, err, "in_flight", "account")
	leaves[0]()
	if _, err := l.enter("t1", "alpha"); err != nil {
		t.Errorf("after one ended: %v", err)
	}
	for i := range 12 {
		if _, err := l.enter("admin"+string(rune('a'+i)), ""); err != nil && i < 11 {
			t.Fatalf("request %d of the process: %v", i, err)
		}
	}
	_, err = l.enter("other", "")
	wantLimited(t, err, "in_flight", "ledger")
}
