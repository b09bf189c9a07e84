package commands_test

import (
	"slices"
	"testing"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
)

// rule A1: an account has an id, a name and a fulfillment contact.
func TestCreateAccountNormalize(t *testing.T) {
	valid := commands.CreateAccount{ID: "acme", Name: "Acme GmbH", FulfillmentContact: "ops@acme.com", At: t0}
	tests := []struct {
		name      string
		edit      func(*commands.CreateAccount)
		want      commands.CreateAccount
		wantField string // "" means accepted
	}{
		{"valid", func(*commands.CreateAccount) {}, valid, ""},
		{"contact lower-cased and name trimmed", func(c *commands.CreateAccount) {
			c.FulfillmentContact, c.Name = " Ops@ACME.com ", "  Acme GmbH "
		}, valid, ""},
		{"invalid id", func(c *commands.CreateAccount) { c.ID = "Acme" }, commands.CreateAccount{}, "id"},
		{"empty id", func(c *commands.CreateAccount) { c.ID = "" }, commands.CreateAccount{}, "id"},
		{"empty name", func(c *commands.CreateAccount) { c.Name = " " }, commands.CreateAccount{}, "name"},
		{"missing contact", func(c *commands.CreateAccount) { c.FulfillmentContact = "" }, commands.CreateAccount{}, "fulfillment_contact"},
		{"invalid contact", func(c *commands.CreateAccount) { c.FulfillmentContact = "ops" }, commands.CreateAccount{}, "fulfillment_contact"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid
			tt.edit(&c)
			got, err := c.Normalize()
			if tt.wantField != "" {
				wantInvalid(t, err, tt.wantField)
				return
			}
			if err != nil {
				t.Fatalf("Normalize: got %v, want nil", err)
			}
			if got != tt.want {
				t.Errorf("Normalize: got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// rule A1: the first fulfillment contact is also an admin.
func TestCreateAccountDecide(t *testing.T) {
	w := newWorld()
	c := commands.CreateAccount{ID: acct, Name: "Acme GmbH", FulfillmentContact: "ops@acme.com", At: t0}
	evs := w.must(t)(c.Decide(w.account(acct), t0))
	if len(evs) != 1 {
		t.Fatalf("events: got %v, want [account.created]", types(evs))
	}
	e, d := only[events.AccountCreated](t, evs)
	if e.Account != acct || e.AggregateID != acct || !e.OccurredAt.Equal(t0) {
		t.Errorf("event: got account %q, aggregate %q, at %v; want %q, %q, %v", e.Account, e.AggregateID, e.OccurredAt, acct, acct, t0)
	}
	if d.ID != acct || d.Name != "Acme GmbH" {
		t.Errorf("data: got id %q, name %q; want %q, %q", d.ID, d.Name, acct, "Acme GmbH")
	}
	want := []string{"ops@acme.com"}
	if !slices.Equal(d.FulfillmentContacts, want) || !slices.Equal(d.Admins, want) {
		t.Errorf("contacts and admins: got %q and %q, want %q both", d.FulfillmentContacts, d.Admins, want)
	}

	got := w.account(acct)
	if !got.Exists() || got.Name != "Acme GmbH" || !slices.Equal(got.Admins, want) || !slices.Equal(got.FulfillmentContacts, want) {
		t.Errorf("state: got %+v, want the created account with contact and admin %q", got, want)
	}

	// The same id again.
	e2 := rejected(t, commands.CodeAccountExists)(c.Decide(w.account(acct), t0.Add(1)))
	wantDetail(t, e2, "account", acct)
}
