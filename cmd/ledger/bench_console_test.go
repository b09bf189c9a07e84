package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// The console phase of ledger bench works end to end on a small account:
// it signs in and prints the medians of both pages and of the API's
// reminders. (How fast is for the bench itself, never a test.)
func TestBenchConsolePhaseRuns(t *testing.T) {
	var out bytes.Buffer
	bc := benchConfig{clients: 4, consoleLicences: 20, consoleRequests: 2, dir: t.TempDir()}
	if err := benchConsole(context.Background(), bc, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"console: licences, first page", "console: the account's first page", "API: GET …/reminders"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the console phase printed no %q:\n%s", want, out.String())
		}
	}
}
