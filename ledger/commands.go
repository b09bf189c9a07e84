package ledger

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/entledger/ledger/checkout"
	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
)

// Result is a command's answer.
type Result[T any] struct {
	// State is the primary aggregate right after the command.
	State T
	// DecidedAt is the ledger's clock when the command was decided (its
	// events' recordedat). Answers that depend on the time, such as a
	// licence's reassignable_now, are given as of it, so a replayed request
	// gets the first answer again.
	DecidedAt time.Time
}

// run executes a command and decodes its primary aggregate's state.
func run[T any](ctx context.Context, l *Ledger, meta Meta, c command) (Result[T], error) {
	var res Result[T]
	ans, err := l.execute(ctx, meta, c)
	if err != nil {
		return res, err
	}
	res.DecidedAt = ans.decidedAt
	if len(ans.state) == 0 {
		return res, nil // an aggregate without events, left unchanged: its zero state
	}
	if err := json.Unmarshal(ans.state, &res.State); err != nil {
		return res, fmt.Errorf("ledger: %s: decode state: %w", c.name, err)
	}
	return res, nil
}

// requireAccount answers account_not_found for a command in an account that
// does not exist, before anything else about the command is checked, so
// that every entry point gives that answer first (the decision checks it
// again on the state it decides on; see decide). An account the
// projections do not show may have been created by another ledger process
// sharing the stream: the answer stands once they have applied what the
// stream holds on the account's subject (rule H5, onstream.go). A keyed
// request keeps the answer, so its replay answers the same once the account
// exists.
func (l *Ledger) requireAccount(ctx context.Context, meta Meta, account string) error {
	if err := commands.AccountID("account", account); err != nil {
		return err
	}
	applied := l.store.Checkpoint()
	acct, _, err := l.store.Account(account)
	if err == nil && !acct.Exists() {
		var behind bool
		if behind, err = l.catchUpOn(ctx, []string{events.AccountSubject(account)}, applied); behind && err == nil {
			acct, _, err = l.store.Account(account)
		}
	}
	if err != nil {
		return err
	}
	return l.keepRejection(ctx, meta, commands.AccountMustExist(acct, account))
}

// loadSession loads a user's session for a decision, with the user's latest
// usage on its machine counted as activity (D3). A command that calls it
// sets command.readsUsage.
func (l *Ledger) loadSession(ld *loader, account, email string) commands.Session {
	sess := load[commands.Session](ld, events.SessionSubject(account, email))
	if sess.MachineID == "" {
		return sess
	}
	last, err := l.store.LastUsage(account, email, sess.MachineID)
	ld.fail(err)
	return sess.SeenUsing(last)
}

// loadAssignee loads the user a licence is assigned to (the zero user when
// it is unassigned).
func loadAssignee(ld *loader, lic commands.License) commands.User {
	if lic.Assignee == "" {
		return commands.User{}
	}
	return load[commands.User](ld, events.UserSubject(lic.Account, lic.Assignee))
}

// CreateAccount opens an account (A1).
func (l *Ledger) CreateAccount(ctx context.Context, meta Meta, c commands.CreateAccount) (Result[commands.Account], error) {
	c, err := c.Normalize()
	if err != nil {
		return Result[commands.Account]{}, err
	}
	subj := events.AccountSubject(c.ID)
	return run[commands.Account](ctx, l, meta, command{name: "create_account", account: c.ID, createsAccount: true, primary: subj,
		decide: func(ld *loader, now time.Time) ([]events.Event, error) {
			return c.Decide(load[commands.Account](ld, subj), now)
		}})
}

// RegisterUser adds a user to an account (A2, A3).
func (l *Ledger) RegisterUser(ctx context.Context, meta Meta, c commands.RegisterUser) (Result[commands.User], error) {
	if err := l.requireAccount(ctx, meta, c.Account); err != nil {
		return Result[commands.User]{}, err
	}
	c, err := c.Normalize()
	if err != nil {
		return Result[commands.User]{}, err
	}
	subj := events.UserSubject(c.Account, c.Email)
	return run[commands.User](ctx, l, meta, command{name: "register_user", account: c.Account, primary: subj,
		decide: func(ld *loader, now time.Time) ([]events.Event, error) {
			acct := load[commands.Account](ld, events.AccountSubject(c.Account))
			user := load[commands.User](ld, subj)
			owner := load[commands.EmailOwner](ld, events.EmailSubject(c.Email))
			domain := load[commands.DomainOwner](ld, events.DomainSubject(events.EmailDomain(c.Email)))
			return c.Decide(acct, user, owner, domain, now)
		}})
}

// ChangeUserCountry sets a user's entitlement country (A3).
func (l *Ledger) ChangeUserCountry(ctx context.Context, meta Meta, c commands.ChangeUserCountry) (Result[commands.User], error) {
	if err := l.requireAccount(ctx, meta, c.Account); err != nil {
		return Result[commands.User]{}, err
	}
	c, err := c.Normalize()
	if err != nil {
		return Result[commands.User]{}, err
	}
	subj := events.UserSubject(c.Account, c.Email)
	return run[commands.User](ctx, l, meta, command{name: "change_user_country", account: c.Account, primary: subj,
		decide: func(ld *loader, now time.Time) ([]events.Event, error) {
			return c.Decide(load[commands.User](ld, subj), now)
		}})
}

// RemoveUser removes a user, unassigning the licence they hold (A4).
func (l *Ledger) RemoveUser(ctx context.Context, meta Meta, c commands.RemoveUser) (Result[commands.User], error) {
	if err := l.requireAccount(ctx, meta, c.Account); err != nil {
		return Result[commands.User]{}, err
	}
	c, err := c.Normalize()
	if err != nil {
		return Result[commands.User]{}, err
	}
	subj := events.UserSubject(c.Account, c.Email)
	return run[commands.User](ctx, l, meta, command{name: "remove_user", account: c.Account, primary: subj, readsUsage: true,
		decide: func(ld *loader, now time.Time) ([]events.Event, error) {
			user := load[commands.User](ld, subj)
			owner := load[commands.EmailOwner](ld, events.EmailSubject(c.Email))
			var lic commands.License
			if user.LicenseID != "" {
				lic = load[commands.License](ld, events.LicenseSubject(c.Account, user.LicenseID))
			}
			sess := l.loadSession(ld, c.Account, c.Email)
			if c.At.IsZero() && sess.LastEventAt.After(now) {
				now = sess.LastEventAt // the session's history stays in order too
			}
			evs, err := c.Decide(user, owner, lic, now)
			if err != nil {
				return nil, err
			}
			end, err := c.EndSession(sess, evs[0].OccurredAt)
			return append(evs, end...), err
		}})
}

// CreateLicense records a licence (B1).
func (l *Ledger) CreateLicense(ctx context.Context, meta Meta, c commands.CreateLicense) (Result[commands.License], error) {
	if err := l.requireAccount(ctx, meta, c.Account); err != nil {
		return Result[commands.License]{}, err
	}
	c, err := c.Normalize()
	if err != nil {
		return Result[commands.License]{}, err
	}
	subj := events.LicenseSubject(c.Account, c.ID)
	return run[commands.License](ctx, l, meta, command{name: "create_license", account: c.Account, primary: subj,
		decide: func(ld *loader, now time.Time) ([]events.Event, error) {
			return c.Decide(load[commands.Account](ld, events.AccountSubject(c.Account)), load[commands.License](ld, subj), now)
		}})
}

// RenewLicense extends a licence's term (B2).
func (l *Ledger) RenewLicense(ctx context.Context, meta Meta, c commands.RenewLicense) (Result[commands.License], error) {
	if err := l.requireAccount(ctx, meta, c.Account); err != nil {
		return Result[commands.License]{}, err
	}
	c, err := c.Normalize()
	if err != nil {
		return Result[commands.License]{}, err
	}
	subj := events.LicenseSubject(c.Account, c.ID)
	return run[commands.License](ctx, l, meta, command{name: "renew_license", account: c.Account, primary: subj,
		decide: func(ld *loader, now time.Time) ([]events.Event, error) {
			return c.Decide(load[commands.License](ld, subj), now)
		}})
}

// CancelLicense cancels a licence from an effective time (H1).
func (l *Ledger) CancelLicense(ctx context.Context, meta Meta, c commands.CancelLicense) (Result[commands.License], error) {
	if err := l.requireAccount(ctx, meta, c.Account); err != nil {
		return Result[commands.License]{}, err
	}
	c, err := c.Normalize()
	if err != nil {
		return Result[commands.License]{}, err
	}
	subj := events.LicenseSubject(c.Account, c.ID)
	return run[commands.License](ctx, l, meta, command{name: "cancel_license", account: c.Account, primary: subj,
		decide: func(ld *loader, now time.Time) ([]events.Event, error) {
			return c.Decide(load[commands.License](ld, subj), now)
		}})
}

// Assign assigns a practitioner licence (C1, C2).
func (l *Ledger) Assign(ctx context.Context, meta Meta, c commands.Assign) (Result[commands.License], error) {
	if err := l.requireAccount(ctx, meta, c.Account); err != nil {
		return Result[commands.License]{}, err
	}
	c, err := c.Normalize()
	if err != nil {
		return Result[commands.License]{}, err
	}
	subj := events.LicenseSubject(c.Account, c.LicenseID)
	return run[commands.License](ctx, l, meta, command{name: "assign", account: c.Account, primary: subj,
		decide: func(ld *loader, now time.Time) ([]events.Event, error) {
			lic := load[commands.License](ld, subj)
			user := load[commands.User](ld, events.UserSubject(c.Account, c.Email))
			return c.Decide(lic, user, now)
		}})
}

// Reassign moves a practitioner licence to another user (C3–C6).
func (l *Ledger) Reassign(ctx context.Context, meta Meta, c commands.Reassign) (Result[commands.License], error) {
	if err := l.requireAccount(ctx, meta, c.Account); err != nil {
		return Result[commands.License]{}, err
	}
	c, err := c.Normalize()
	if err != nil {
		return Result[commands.License]{}, err
	}
	subj := events.LicenseSubject(c.Account, c.LicenseID)
	return run[commands.License](ctx, l, meta, command{name: "reassign", account: c.Account, primary: subj,
		decide: func(ld *loader, now time.Time) ([]events.Event, error) {
			lic := load[commands.License](ld, subj)
			prev := loadAssignee(ld, lic)
			user := load[commands.User](ld, events.UserSubject(c.Account, c.Email))
			return c.Decide(lic, prev, user, now)
		}})
}

// Unassign takes a practitioner licence from its assignee (C3, C4).
func (l *Ledger) Unassign(ctx context.Context, meta Meta, c commands.Unassign) (Result[commands.License], error) {
	if err := l.requireAccount(ctx, meta, c.Account); err != nil {
		return Result[commands.License]{}, err
	}
	c, err := c.Normalize()
	if err != nil {
		return Result[commands.License]{}, err
	}
	subj := events.LicenseSubject(c.Account, c.LicenseID)
	return run[commands.License](ctx, l, meta, command{name: "unassign", account: c.Account, primary: subj,
		decide: func(ld *loader, now time.Time) ([]events.Event, error) {
			lic := load[commands.License](ld, subj)
			prev := loadAssignee(ld, lic)
			return c.Decide(lic, prev, now)
		}})
}

// SignIn signs a user in on a machine, or refreshes their session (D1–D4).
func (l *Ledger) SignIn(ctx context.Context, meta Meta, c commands.SignIn) (Result[commands.Session], error) {
	if err := l.requireAccount(ctx, meta, c.Account); err != nil {
		return Result[commands.Session]{}, err
	}
	c, err := c.Normalize()
	if err != nil {
		return Result[commands.Session]{}, err
	}
	subj := events.SessionSubject(c.Account, c.Email)
	return run[commands.Session](ctx, l, meta, command{name: "sign_in", account: c.Account, primary: subj, readsUsage: true,
		decide: func(ld *loader, now time.Time) ([]events.Event, error) {
			user := load[commands.User](ld, events.UserSubject(c.Account, c.Email))
			return c.Decide(user, l.loadSession(ld, c.Account, c.Email), now, l.sessionTTL)
		}})
}

// Heartbeat keeps a live session alive (D3).
func (l *Ledger) Heartbeat(ctx context.Context, meta Meta, c commands.Heartbeat) (Result[commands.Session], error) {
	if err := l.requireAccount(ctx, meta, c.Account); err != nil {
		return Result[commands.Session]{}, err
	}
	c, err := c.Normalize()
	if err != nil {
		return Result[commands.Session]{}, err
	}
	subj := events.SessionSubject(c.Account, c.Email)
	return run[commands.Session](ctx, l, meta, command{name: "heartbeat", account: c.Account, primary: subj, readsUsage: true,
		decide: func(ld *loader, now time.Time) ([]events.Event, error) {
			return c.Decide(l.loadSession(ld, c.Account, c.Email), now, l.sessionTTL)
		}})
}

// SignOut ends a user's session (D3).
func (l *Ledger) SignOut(ctx context.Context, meta Meta, c commands.SignOut) (Result[commands.Session], error) {
	if err := l.requireAccount(ctx, meta, c.Account); err != nil {
		return Result[commands.Session]{}, err
	}
	c, err := c.Normalize()
	if err != nil {
		return Result[commands.Session]{}, err
	}
	subj := events.SessionSubject(c.Account, c.Email)
	return run[commands.Session](ctx, l, meta, command{name: "sign_out", account: c.Account, primary: subj, readsUsage: true,
		decide: func(ld *loader, now time.Time) ([]events.Event, error) {
			return c.Decide(l.loadSession(ld, c.Account, c.Email), now, l.sessionTTL)
		}})
}

// SetAccess sets the access control of pooled use of a product (E2).
func (l *Ledger) SetAccess(ctx context.Context, meta Meta, c commands.SetAccess) (Result[commands.Access], error) {
	if err := l.requireAccount(ctx, meta, c.Account); err != nil {
		return Result[commands.Access]{}, err
	}
	c, err := c.Normalize()
	if err != nil {
		return Result[commands.Access]{}, err
	}
	subj := events.AccessSubject(c.Account, c.Product)
	return run[commands.Access](ctx, l, meta, command{name: "set_access", account: c.Account, primary: subj,
		decide: func(ld *loader, now time.Time) ([]events.Event, error) {
			return c.Decide(load[commands.Account](ld, events.AccountSubject(c.Account)), load[commands.Access](ld, subj), now)
		}})
}

// Check answers an entitlement check and records it (E1–E3). The answer is
// the recorded check, given once JetStream holds it: nothing the ledger
// decides reads checks, so a check never waits for the projections to apply
// the usage stored before it.
func (l *Ledger) Check(ctx context.Context, meta Meta, c commands.Check) (Result[events.CheckRecorded], error) {
	if err := l.requireAccount(ctx, meta, c.Account); err != nil {
		return Result[events.CheckRecorded]{}, err
	}
	c, err := c.Normalize()
	if err != nil {
		return Result[events.CheckRecorded]{}, err
	}
	subj := events.CheckSubject(c.Account, c.Product)
	defer l.checkQueues.join(subj)()
	ans, err := l.execute(ctx, meta, command{name: "check", account: c.Account, primary: subj, answeredOnAppend: true,
		decide: func(ld *loader, now time.Time) ([]events.Event, error) {
			acct := load[commands.Account](ld, events.AccountSubject(c.Account))
			user := load[commands.User](ld, events.UserSubject(c.Account, c.Email))
			var held commands.License
			if user.LicenseID != "" {
				held = load[commands.License](ld, events.LicenseSubject(c.Account, user.LicenseID))
			}
			pooled, err := l.store.Pooled(c.Account, c.Product)
			if err != nil {
				return nil, err
			}
			access := load[commands.Access](ld, events.AccessSubject(c.Account, c.Product))
			log := load[commands.CheckLog](ld, subj)
			log.LastEventAt = l.lastAppendedAt(ld, subj, log.LastEventAt)
			return c.Decide(acct, user, held, pooled, access, log, now)
		}})
	if err != nil {
		return Result[events.CheckRecorded]{}, err
	}
	// The answer is the check this call recorded; a replay's is the check
	// its command recorded: the product's check log as of the command.
	out := Result[events.CheckRecorded]{DecidedAt: ans.decidedAt}
	if len(ans.landed) > 0 {
		out.State = ans.landed[0].Data.(events.CheckRecorded)
		return out, nil
	}
	var log commands.CheckLog
	if len(ans.state) > 0 {
		if err := json.Unmarshal(ans.state, &log); err != nil {
			return out, fmt.Errorf("ledger: check: decode state: %w", err)
		}
	}
	out.State = log.Last
	return out, nil
}

// CheckoutResult is a checkout's answer: the signed token and its end.
type CheckoutResult struct {
	Token string
	Until time.Time
}

// Checkout takes a practitioner licence offline (F6) and returns its signed
// token.
func (l *Ledger) Checkout(ctx context.Context, meta Meta, c commands.Checkout) (CheckoutResult, error) {
	if err := l.requireAccount(ctx, meta, c.Account); err != nil {
		return CheckoutResult{}, err
	}
	if l.checkoutKey == nil {
		return CheckoutResult{}, commands.Reject(commands.CodeNotFound, "this ledger has no checkout key")
	}
	c, err := c.Normalize()
	if err != nil {
		return CheckoutResult{}, err
	}
	subj := events.LicenseSubject(c.Account, c.LicenseID)
	meta = meta.withDefaults() // the token is read back by the command id
	if _, err := run[commands.License](ctx, l, meta, command{name: "checkout", account: c.Account, primary: subj, readsUsage: true,
		decide: func(ld *loader, now time.Time) ([]events.Event, error) {
			lic := load[commands.License](ld, subj)
			return c.Decide(lic, l.loadSession(ld, c.Account, c.Email), now, l.sessionTTL)
		}}); err != nil {
		return CheckoutResult{}, err
	}
	// The token is made from the licence as of this command, as a replay
	// would make it, never from a later change.
	rec, ok, err := l.store.Command(meta.CommandID)
	if err != nil {
		return CheckoutResult{}, err
	}
	if !ok {
		return CheckoutResult{}, fmt.Errorf("ledger: checkout %s recorded but not found", meta.CommandID)
	}
	var lic commands.License
	if err := json.Unmarshal(rec.State, &lic); err != nil {
		return CheckoutResult{}, fmt.Errorf("ledger: checkout: %w", err)
	}
	token, err := checkout.Sign(l.checkoutKey, checkout.ForLicense(lic))
	return CheckoutResult{Token: token, Until: lic.CheckoutUntil}, err
}

// Checkin ends a licence's offline checkout (F6).
func (l *Ledger) Checkin(ctx context.Context, meta Meta, c commands.Checkin) (Result[commands.License], error) {
	if err := l.requireAccount(ctx, meta, c.Account); err != nil {
		return Result[commands.License]{}, err
	}
	c, err := c.Normalize()
	if err != nil {
		return Result[commands.License]{}, err
	}
	subj := events.LicenseSubject(c.Account, c.LicenseID)
	return run[commands.License](ctx, l, meta, command{name: "checkin", account: c.Account, primary: subj,
		decide: func(ld *loader, now time.Time) ([]events.Event, error) {
			lic := load[commands.License](ld, subj)
			var sess commands.Session
			if lic.CheckoutEmail != "" {
				sess = load[commands.Session](ld, events.SessionSubject(c.Account, lic.CheckoutEmail))
			}
			return c.Decide(lic, sess, now)
		}})
}
