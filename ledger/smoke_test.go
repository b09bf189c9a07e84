package ledger_test

import "testing"

func TestHarnessSmoke(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	r := tl.must(200, "POST", "/v1/accounts/acme/licenses/P1/assign", map[string]any{"email": "a@x.example"})
	if r.Body["assignee"] != "a@x.example" {
		t.Fatalf("assignee %v", r.Body["assignee"])
	}
	if n := len(tl.checkStream()); n == 0 {
		t.Fatal("no events")
	}
}
