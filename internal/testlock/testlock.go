// Package testlock keeps the suite's heaviest tests from running at the same
// time when `go test ./...` runs packages in parallel: the three-node
// cluster test and the SIGKILL tests each time elections, restarts and
// kills, and two of them on two cores at once make each other's timeouts.
// It is for tests only.
package testlock

import "testing"

// Heavy waits until no other heavy test of this machine runs, and holds
// the lock until t ends.
func Heavy(t testing.TB) {
	t.Helper()
	release, err := lock()
	if err != nil {
		t.Fatalf("testlock: %v", err)
	}
	t.Cleanup(release)
}
