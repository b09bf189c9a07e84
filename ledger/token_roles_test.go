package ledger_test

import (
	"context"
	"errors"
	"testing"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/ledger"
)

// rule S1, issue 19: POST /v1/tokens issues the documented roles only. A
// token of role subscriber made there was a second live subscriber of the
// same name, sharing another's durable consumer; it is refused, through
// HTTP and the Go API (which `ledger token create` uses) alike, and the
// subscribers API still makes subscribers.
func TestRuleS1TokensOnlyOfDocumentedRoles(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	for _, body := range []map[string]any{
		{"name": "notify", "role": "subscriber", "account": "acme"},
		{"name": "notify", "role": "subscriber"},
		{"name": "x", "role": "superuser"},
	} {
		r := e2eReject(tl, 400, "invalid_argument", "POST", "/v1/tokens", body)
		e2eDetail(t, r, "field", "role")
	}
	_, err := tl.srv.Ledger().CreateToken(context.Background(), ledger.Meta{Actor: "test"}, "notify", "subscriber", "acme")
	var rej *commands.Error
	if !errors.As(err, &rej) || rej.Code != commands.CodeInvalidArgument {
		t.Errorf("Go API: %v, want invalid_argument", err)
	}
	r := tl.must(201, "POST", "/v1/accounts/acme/subscribers", map[string]any{"name": "notify"})
	if r.Body["durable"] == nil {
		t.Errorf("the subscribers API: %s", r.Raw)
	}
	for _, role := range []string{"account_admin", "ingest", "auditor"} {
		tl.must(201, "POST", "/v1/tokens", map[string]any{"name": role, "role": role, "account": "acme"})
	}
}
