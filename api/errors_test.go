package api

import (
	"net/http"
	"testing"

	"github.com/entledger/ledger/commands"
)

// Every error code has an HTTP status in the one table, and the table holds
// no code that is not in the one list: a code missing here would be answered
// 500.
func TestEveryCodeHasAStatus(t *testing.T) {
	listed := map[string]bool{}
	for _, code := range commands.Codes {
		if listed[code] {
			t.Errorf("code %q listed twice", code)
		}
		listed[code] = true
		status, ok := statusFor(code)
		if !ok {
			t.Errorf("code %q has no HTTP status", code)
		}
		if status >= 500 && code != commands.CodeInternal && code != commands.CodeUnavailable {
			t.Errorf("code %q answers %d: only internal and unavailable are the ledger's fault", code, status)
		}
	}
	for code := range statusOf {
		if !listed[code] {
			t.Errorf("the status table has %q, which commands.Codes does not list", code)
		}
	}
	if status, ok := statusFor("no_such_code"); ok || status != http.StatusInternalServerError {
		t.Errorf("an unknown code: %d, %v; want 500 and not found", status, ok)
	}
}
