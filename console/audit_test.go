package console_test

import (
	"strings"
	"testing"
)

// The integrity status is the API's answer for the token: for a token of
// every account it is the whole ledger's, and the account's pages say so.
func TestIntegrityScopeIsLabelled(t *testing.T) {
	tl := startLedger(t)
	tl.seed("acme")
	admin, scoped := tl.browser(), tl.browser()
	admin.signIn(tl.token)
	scoped.signIn(tl.tokenFor("account_admin", "acme"))
	for _, c := range []struct {
		b          *browser
		who, label string
	}{
		{admin, "admin", "Integrity, ledger-wide (every account)"},
		{scoped, "account_admin", "Integrity of this account's events"},
	} {
		if p := c.b.get("/accounts/acme"); !strings.Contains(p.Body, `<dt id="integrity-label">`+c.label+`</dt>`) {
			t.Errorf("%s: the overview does not label the integrity status %q", c.who, c.label)
		}
	}
	if p := admin.get("/accounts/acme/audit"); !strings.Contains(p.Body, "Integrity of the whole ledger") ||
		!strings.Contains(p.Body, "ledger-wide status") {
		t.Error("admin: the audit page does not say its integrity status is the whole ledger's")
	}
	if p := scoped.get("/accounts/acme/audit"); !strings.Contains(p.Body, "Integrity of this account's events") {
		t.Error("account_admin: the audit page does not say its integrity status is the account's")
	}
}
