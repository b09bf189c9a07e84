package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/entledger/ledger/internal/ledgertest"
)

// A read model of its own, from the stream alone: who holds each
// practitioner licence (C1–C5), kept across runs with its position.
func TestReadModel(t *testing.T) {
	l := ledgertest.Start(t)
	l.Post("/v1/accounts", map[string]string{"id": "acme", "name": "Acme", "fulfillment_contact": "it@acme.example"})
	for _, u := range []string{"ada", "bob"} {
		l.Post("/v1/accounts/acme/users", map[string]string{"email": u + "@acme.example", "entitlement_country": "DE"})
	}
	for _, id := range []string{"P-1", "P-2"} {
		l.Post("/v1/accounts/acme/licenses", map[string]any{"id": id, "kind": "practitioner", "products": []string{"microstation"},
			"valid_from": "2020-01-01T00:00:00Z", "valid_until": "2099-01-01T00:00:00Z"})
	}
	l.Post("/v1/accounts/acme/licenses", map[string]any{"id": "C-1", "kind": "commercial", "products": []string{"microstation"},
		"seats": 5, "valid_from": "2020-01-01T00:00:00Z", "valid_until": "2099-01-01T00:00:00Z"})
	l.Post("/v1/accounts/acme/licenses/P-1/assign", map[string]string{"email": "ada@acme.example"})
	args := []string{"--nats-url", l.Srv.NATSURL(), "--creds", l.Subscriber("acme", "model"), "--key", l.KeyFile(),
		"--state", filepath.Join(t.TempDir(), "state.json"), "--exit-when-idle"}
	model := func() state {
		t.Helper()
		var out bytes.Buffer
		if err := run(context.Background(), args, &out); err != nil {
			t.Fatal(err)
		}
		var st state
		if err := json.Unmarshal(out.Bytes(), &st); err != nil {
			t.Fatalf("%v: %s", err, out.Bytes())
		}
		return st
	}
	if st := model(); st.Licences != 2 || st.Holders["P-1"] != "ada@acme.example" || st.Holders["P-2"] != "" {
		t.Fatalf("model %+v", st)
	}
	l.Post("/v1/accounts/acme/licenses/P-1/reassign", map[string]string{"email": "bob@acme.example"})
	if st := model(); st.Licences != 2 || st.Holders["P-1"] != "bob@acme.example" {
		t.Fatalf("after the reassignment, resumed: %+v", st)
	}
}
