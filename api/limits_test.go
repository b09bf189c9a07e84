package api

import (
	"testing"
	"time"

	"github.com/entledger/ledger/commands"
)

// Item 7 (abuse limits): a token's burst is spent, then it waits for the
// bucket to refill; another token is not slowed; a token with too many
// requests running is refused until one ends.
func TestLimits(t *testing.T) {
	now := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	l := newLimits(2, 3, 1, func() time.Time { return now })
	for i := range 3 {
		if err := l.charge("a"); err != nil {
			t.Fatalf("request %d inside the burst: %v", i, err)
		}
	}
	err := l.charge("a")
	if e, ok := err.(*commands.Error); !ok || e.Code != commands.CodeRateLimited || e.Details["retry_after_seconds"] != 1 {
		t.Fatalf("past the burst: %v, want rate_limited, retry after 1 s", err)
	}
	if err := l.charge("b"); err != nil {
		t.Errorf("another token: %v", err)
	}
	now = now.Add(500 * time.Millisecond) // one request's worth at 2/s
	if err := l.charge("a"); err != nil {
		t.Errorf("after the refill: %v", err)
	}
	if err := l.charge("a"); err == nil {
		t.Error("a second request after one request's worth of refill was accepted")
	}
	leave, err := l.enter("a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.enter("a"); err == nil {
		t.Error("a second request at once was accepted with a cap of 1")
	}
	leave()
	if _, err := l.enter("a"); err != nil {
		t.Errorf("after the first ended: %v", err)
	}
	var off *limits
	if err := off.charge("a"); err != nil {
		t.Errorf("no limits: %v", err)
	}
}
