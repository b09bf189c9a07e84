package ledger

import (
	"context"
	"time"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/projections"
)

// ClaimDomain makes an account the only one in which emails of a domain
// can be registered (A5, S2).
func (l *Ledger) ClaimDomain(ctx context.Context, meta Meta, c commands.ClaimDomain) (Result[commands.DomainOwner], error) {
	if err := l.requireAccount(ctx, meta, c.Account); err != nil {
		return Result[commands.DomainOwner]{}, err
	}
	c, err := c.Normalize()
	if err != nil {
		return Result[commands.DomainOwner]{}, err
	}
	subj := events.DomainSubject(c.Domain)
	return run[commands.DomainOwner](ctx, l, meta, command{name: "claim_domain", account: c.Account, primary: subj,
		decide: func(ld *loader, now time.Time) ([]events.Event, error) {
			return c.Decide(load[commands.Account](ld, events.AccountSubject(c.Account)), load[commands.DomainOwner](ld, subj), now)
		}})
}

// ReleaseDomain ends an account's claim of a domain.
func (l *Ledger) ReleaseDomain(ctx context.Context, meta Meta, c commands.ReleaseDomain) (Result[commands.DomainOwner], error) {
	if err := l.requireAccount(ctx, meta, c.Account); err != nil {
		return Result[commands.DomainOwner]{}, err
	}
	c, err := c.Normalize()
	if err != nil {
		return Result[commands.DomainOwner]{}, err
	}
	subj := events.DomainSubject(c.Domain)
	return run[commands.DomainOwner](ctx, l, meta, command{name: "release_domain", account: c.Account, primary: subj,
		decide: func(ld *loader, now time.Time) ([]events.Event, error) {
			return c.Decide(load[commands.DomainOwner](ld, subj), now)
		}})
}

// Domain returns account's claim of domain, or not_found when the account
// does not hold it (whoever else may).
func (l *Ledger) Domain(account, domain string) (commands.DomainOwner, error) {
	if _, err := l.Account(account); err != nil {
		return commands.DomainOwner{}, err
	}
	d, err := commands.Domain("domain", domain)
	if err != nil {
		return commands.DomainOwner{}, err
	}
	owner, _, err := projections.Load[commands.DomainOwner](l.store, events.DomainSubject(d))
	if err == nil && owner.Account != account {
		err = commands.DomainNotClaimed(account, d)
	}
	return owner, err
}
