package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/entledger/ledger/internal/ledgertest"
)

// rule C8: the assignee is notified of an assignment and a reassignment,
// each once: a second run after a restart notifies only what is new.
func TestNotifyAssignee(t *testing.T) {
	l := ledgertest.Start(t)
	l.Post("/v1/accounts", map[string]string{"id": "acme", "name": "Acme", "fulfillment_contact": "it@acme.example"})
	for _, u := range []string{"ada", "bob"} {
		l.Post("/v1/accounts/acme/users", map[string]string{"email": u + "@acme.example", "entitlement_country": "DE"})
	}
	l.Post("/v1/accounts/acme/licenses", map[string]any{"id": "P-1", "kind": "practitioner", "products": []string{"microstation"},
		"valid_from": "2020-01-01T00:00:00Z", "valid_until": "2099-01-01T00:00:00Z"})
	l.Post("/v1/accounts/acme/licenses/P-1/assign", map[string]string{"email": "ada@acme.example"})
	args := []string{"--nats-url", l.Srv.NATSURL(), "--creds", l.Subscriber("acme", "notify"), "--key", l.KeyFile(),
		"--seen", filepath.Join(t.TempDir(), "seen.txt"), "--exit-when-idle"}
	var out bytes.Buffer
	if err := run(context.Background(), args, &out); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); strings.Count(got, "\n") != 1 || !strings.HasPrefix(got, "notify ada@acme.example: practitioner licence P-1") {
		t.Fatalf("first run:\n%s", got)
	}
	l.Post("/v1/accounts/acme/licenses/P-1/reassign", map[string]string{"email": "bob@acme.example"})
	out.Reset()
	if err := run(context.Background(), args, &out); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); strings.Count(got, "\n") != 1 || !strings.HasPrefix(got, "notify bob@acme.example:") {
		t.Fatalf("second run, after the reassignment:\n%s", got)
	}
}
