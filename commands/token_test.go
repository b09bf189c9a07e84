package commands_test

import (
	"testing"
	"time"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
)

// rule S1: a token's role decides which account it may name: admin none,
// account_admin and ingest exactly one, auditor one or none; a name must be
// printable (no bidi or zero-width characters that make it read as another).
func TestRuleS1TokenRolesAndScope(t *testing.T) {
	hash := events.Hash([]byte("secret"))
	for _, c := range []struct {
		role, account, name string
		field               string // "" accepted, else the field named by the rejection
	}{
		{events.RoleAdmin, "", "ops", ""},
		{events.RoleAdmin, "acme", "ops", "account"},
		{events.RoleAccountAdmin, "acme", "it", ""},
		{events.RoleAccountAdmin, "", "it", "account"},
		{events.RoleIngest, "acme", "agent", ""},
		{events.RoleIngest, "", "agent", "account"},
		{events.RoleIngest, "Acme!", "agent", "account"},
		{events.RoleAuditor, "", "audit", ""},
		{events.RoleAuditor, "acme", "audit", ""},
		{"root", "", "x", "role"},
		{events.RoleAdmin, "", "", "name"},
		{events.RoleAdmin, "", "ops\u202egnp.exe", "name"},
		{events.RoleAdmin, "", "ops\u200b", "name"},
	} {
		_, err := commands.CreateToken{ID: "01jgz8y0000000000000000042", Name: c.name, Role: c.role, Account: c.account,
			SecretHash: hash}.Normalize()
		if c.field == "" {
			if err != nil {
				t.Errorf("%s %q %q: got %v, want accepted", c.role, c.account, c.name, err)
			}
			continue
		}
		e, ok := err.(*commands.Error)
		if !ok || e.Code != commands.CodeInvalidArgument || e.Details["field"] != c.field {
			t.Errorf("%s %q %q: got %v, want invalid %s", c.role, c.account, c.name, err, c.field)
		}
	}
}

// rule S3: revocation is an event once; revoking again appends nothing, and
// an unknown token is not_found.
func TestRuleS3RevokeOnce(t *testing.T) {
	at := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	c := commands.CreateToken{ID: "01jgz8y0000000000000000042", Name: "ci", Role: events.RoleAdmin, SecretHash: events.Hash([]byte("s"))}
	evs, err := c.Decide(commands.Token{}, at)
	if err != nil || len(evs) != 1 {
		t.Fatalf("create: %v %v", evs, err)
	}
	var tok commands.Token
	tok.Apply(evs[0])
	if _, err := c.Decide(tok, at); err == nil {
		t.Error("creating a token id twice was accepted")
	}
	r := commands.RevokeToken{ID: tok.ID, Reason: "left"}
	evs, err = r.Decide(tok, at.Add(time.Hour))
	if err != nil || len(evs) != 1 {
		t.Fatalf("revoke: %v %v", evs, err)
	}
	tok.Apply(evs[0])
	if !tok.Revoked || !tok.RevokedAt.Equal(at.Add(time.Hour)) {
		t.Errorf("revoked state %+v", tok)
	}
	if evs, err := r.Decide(tok, at.Add(2*time.Hour)); err != nil || len(evs) != 0 {
		t.Errorf("revoking again: %v %v, want nothing", evs, err)
	}
	if _, err := r.Decide(commands.Token{}, at); err == nil || err.(*commands.Error).Code != commands.CodeNotFound {
		t.Errorf("revoking an unknown token: %v, want not_found", err)
	}
}
