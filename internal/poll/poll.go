// Package poll waits in tests for a condition to hold, checking it every
// few milliseconds, instead of sleeping a fixed time. It is for tests only.
package poll

import (
	"testing"
	"time"
)

// Every is how often Until checks its condition.
const Every = 10 * time.Millisecond

// Until checks cond until it holds, and fails tb, naming what, if it does
// not within d.
func Until(tb testing.TB, d time.Duration, what string, cond func() bool) {
	tb.Helper()
	if !Within(d, cond) {
		tb.Fatalf("not within %s: %s", d, what)
	}
}

// Within checks cond until it holds (true) or d passes (false).
func Within(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	tick := time.NewTicker(Every)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
	return true
}
