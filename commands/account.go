package commands

import (
	"time"

	"github.com/entledger/ledger/events"
)

// CreateAccount opens an account with its first fulfillment contact (A1).
type CreateAccount struct {
	ID                 string
	Name               string
	FulfillmentContact string
	At                 time.Time
}

// Normalize validates the command and returns it in canonical form.
func (c CreateAccount) Normalize() (CreateAccount, error) {
	if err := AccountID("id", c.ID); err != nil {
		return c, err
	}
	var err error
	if c.Name, err = Name("name", c.Name); err != nil {
		return c, err
	}
	if c.FulfillmentContact, err = NormalizeEmail("fulfillment_contact", c.FulfillmentContact); err != nil {
		return c, err
	}
	return c, nil
}

// Decide creates the account unless it exists. The first fulfillment contact
// is also its first admin (A1).
func (c CreateAccount) Decide(acct Account, now time.Time) ([]events.Event, error) {
	if acct.Exists() {
		return nil, Reject(CodeAccountExists, "account %q already exists", c.ID).With("account", c.ID)
	}
	at, err := businessTime(c.At, now)
	if err != nil {
		return nil, err
	}
	return []events.Event{event(c.ID, c.ID, at, events.AccountCreated{
		ID: c.ID, Name: c.Name,
		FulfillmentContacts: []string{c.FulfillmentContact},
		Admins:              []string{c.FulfillmentContact},
	})}, nil
}

// AccountMustExist is the rule every command but CreateAccount starts with:
// the account it acts in exists, or the command is rejected
// account_not_found. The write side applies it to every command, so the HTTP
// API, the Go API and the CLI answer an unknown account the same way.
func AccountMustExist(acct Account, id string) error {
	if !acct.Exists() {
		return accountNotFound(id)
	}
	return nil
}
