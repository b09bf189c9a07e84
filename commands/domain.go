package commands

import (
	"strings"
	"time"

	"github.com/entledger/ledger/events"
)

// DomainOwner is the _global record of which account claimed an email
// domain (A5, S2). Account is empty while no account holds it.
type DomainOwner struct {
	Domain      string    `json:"domain"`
	Account     string    `json:"account"`
	ClaimedAt   time.Time `json:"claimed_at"`
	LastEventAt time.Time `json:"last_event_at"`
}

// Apply folds one event of the domain's subject into the state.
func (o *DomainOwner) Apply(e events.Event) {
	o.LastEventAt = e.OccurredAt
	switch d := e.Data.(type) {
	case events.DomainClaimed:
		o.Domain, o.Account, o.ClaimedAt = d.Domain, d.Account, e.OccurredAt
	case events.DomainReleased:
		o.Domain, o.Account, o.ClaimedAt = d.Domain, "", time.Time{}
	}
}

// Domain validates an email domain a client names: two or more labels of
// a-z, 0-9 and '-' (an internationalised domain in its xn-- form), compared
// and stored in lower case.
func Domain(field, d string) (string, error) {
	d = strings.ToLower(strings.TrimSpace(d))
	if err := visible(field, d); err != nil {
		return "", err
	}
	if !events.ValidDomain(d) || len(d) > events.MaxEmailBytes {
		return "", Invalid(field, "%q is not an email domain: two or more labels of a-z, 0-9 and '-' (xn-- for an internationalised one)", d)
	}
	return d, nil
}

// ClaimDomain makes Account the only account in which emails of Domain can
// be registered from then on (S2: no other account can squat them).
// Users of the domain registered elsewhere before stay where they are.
type ClaimDomain struct {
	Account string
	Domain  string
	At      time.Time
}

// Normalize validates the command.
func (c ClaimDomain) Normalize() (ClaimDomain, error) {
	if err := AccountID("account", c.Account); err != nil {
		return c, err
	}
	var err error
	c.Domain, err = Domain("domain", c.Domain)
	return c, err
}

// Decide claims the domain; claiming it again changes nothing. A domain
// another account holds is domain_claimed: that claim must be released
// first (the route is the admin's, who sees every account).
func (c ClaimDomain) Decide(acct Account, owner DomainOwner, now time.Time) ([]events.Event, error) {
	if !acct.Exists() {
		return nil, accountNotFound(c.Account)
	}
	switch owner.Account {
	case c.Account:
		return nil, nil
	case "":
	default:
		return nil, Reject(CodeDomainClaimed, "the domain %s is claimed by account %q; release that claim first", c.Domain, owner.Account).
			With("domain", c.Domain)
	}
	at, err := businessTime(c.At, now, owner.LastEventAt)
	if err != nil {
		return nil, err
	}
	return []events.Event{event(events.GlobalAccount, c.Domain, at, events.DomainClaimed{Domain: c.Domain, Account: c.Account})}, nil
}

// ReleaseDomain ends Account's claim of Domain.
type ReleaseDomain struct {
	Account string
	Domain  string
	At      time.Time
}

// Normalize validates the command.
func (c ReleaseDomain) Normalize() (ReleaseDomain, error) {
	claim, err := ClaimDomain(c).Normalize()
	return ReleaseDomain(claim), err
}

// Decide releases the claim; a domain the account does not hold is
// not_found.
func (c ReleaseDomain) Decide(owner DomainOwner, now time.Time) ([]events.Event, error) {
	if owner.Account != c.Account {
		return nil, DomainNotClaimed(c.Account, c.Domain)
	}
	at, err := businessTime(c.At, now, owner.LastEventAt)
	if err != nil {
		return nil, err
	}
	return []events.Event{event(events.GlobalAccount, c.Domain, at, events.DomainReleased{Domain: c.Domain, Account: c.Account})}, nil
}

// DomainNotClaimed is the answer for a domain the account has not claimed.
func DomainNotClaimed(account, domain string) *Error {
	return Reject(CodeNotFound, "account %q has not claimed the domain %s", account, domain).With("domain", domain)
}

// mayRegister refuses an email of a domain another account claimed. It
// says only that the address cannot be registered here (S2): not which
// account claimed it, nor whether the address is a user anywhere.
func mayRegister(account, email string, domain DomainOwner) error {
	if domain.Account == "" || domain.Account == account {
		return nil
	}
	return Reject(CodeEmailNotRegistrable, "%s cannot be registered in this account", email).With("email", email)
}
