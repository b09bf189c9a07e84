package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

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
func run[T any](ctx context.Context, l *Ledger, name string, meta Meta, primary string, decide decideFunc) (Result[T], error) {
	var res Result[T]
	raw, at, err := l.execute(ctx, name, meta, primary, decide)
	if err != nil {
		return res, err
	}
	res.DecidedAt = at
	if len(raw) == 0 {
		return res, nil // an aggregate without events, left unchanged: its zero state
	}
	if err := json.Unmarshal(raw, &res.State); err != nil {
		return res, fmt.Errorf("ledger: %s: decode state: %w", name, err)
	}
	return res, nil
}

func accountSubject(id string) string { return events.Subject(id, events.AggregateAccount, id) }

func userSubject(account, email string) string {
	return events.Subject(account, events.AggregateUser, email)
}

func emailSubject(email string) string {
	return events.Subject(events.GlobalAccount, events.AggregateEmail, email)
}

// loadSession loads a user's session for a decision, with the user's latest
// usage on its machine counted as activity (D3).
func (l *Ledger) loadSession(ld *loader, account, email string) commands.Session {
	sess := load[commands.Session](ld, sessionSubject(account, email))
	if sess.MachineID == "" {
		return sess
	}
	last, err := l.store.LastUsage(account, email, sess.MachineID)
	if err != nil && ld.err == nil {
		ld.err = err
	}
	return sess.SeenUsing(last)
}

func sessionSubject(account, email string) string {
	return events.Subject(account, events.AggregateSession, email)
}

func licenseSubject(account, id string) string {
	return events.Subject(account, events.AggregateLicense, id)
}

// CreateAccount opens an account (A1).
func (l *Ledger) CreateAccount(ctx context.Context, meta Meta, c commands.CreateAccount) (Result[commands.Account], error) {
	c, err := c.Normalize()
	if err != nil {
		return Result[commands.Account]{}, err
	}
	subj := accountSubject(c.ID)
	return run[commands.Account](ctx, l, "create_account", meta, subj, func(ld *loader, now time.Time) ([]events.Event, error) {
		return c.Decide(load[commands.Account](ld, subj), now)
	})
}

// RegisterUser adds a user to an account (A2, A3).
func (l *Ledger) RegisterUser(ctx context.Context, meta Meta, c commands.RegisterUser) (Result[commands.User], error) {
	c, err := c.Normalize()
	if err != nil {
		return Result[commands.User]{}, err
	}
	subj := userSubject(c.Account, c.Email)
	return run[commands.User](ctx, l, "register_user", meta, subj, func(ld *loader, now time.Time) ([]events.Event, error) {
		acct := load[commands.Account](ld, accountSubject(c.Account))
		user := load[commands.User](ld, subj)
		owner := load[commands.EmailOwner](ld, emailSubject(c.Email))
		return c.Decide(acct, user, owner, now)
	})
}

// ChangeUserCountry sets a user's entitlement country (A3).
func (l *Ledger) ChangeUserCountry(ctx context.Context, meta Meta, c commands.ChangeUserCountry) (Result[commands.User], error) {
	c, err := c.Normalize()
	if err != nil {
		return Result[commands.User]{}, err
	}
	subj := userSubject(c.Account, c.Email)
	return run[commands.User](ctx, l, "change_user_country", meta, subj, func(ld *loader, now time.Time) ([]events.Event, error) {
		return c.Decide(load[commands.User](ld, subj), now)
	})
}

// RemoveUser removes a user, unassigning the licence they hold (A4).
func (l *Ledger) RemoveUser(ctx context.Context, meta Meta, c commands.RemoveUser) (Result[commands.User], error) {
	c, err := c.Normalize()
	if err != nil {
		return Result[commands.User]{}, err
	}
	subj := userSubject(c.Account, c.Email)
	return run[commands.User](ctx, l, "remove_user", meta, subj, func(ld *loader, now time.Time) ([]events.Event, error) {
		user := load[commands.User](ld, subj)
		owner := load[commands.EmailOwner](ld, emailSubject(c.Email))
		var lic commands.License
		if user.LicenseID != "" {
			lic = load[commands.License](ld, licenseSubject(c.Account, user.LicenseID))
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
	})
}

// CreateLicense records a licence (B1).
func (l *Ledger) CreateLicense(ctx context.Context, meta Meta, c commands.CreateLicense) (Result[commands.License], error) {
	c, err := c.Normalize()
	if err != nil {
		return Result[commands.License]{}, err
	}
	subj := licenseSubject(c.Account, c.ID)
	return run[commands.License](ctx, l, "create_license", meta, subj, func(ld *loader, now time.Time) ([]events.Event, error) {
		return c.Decide(load[commands.Account](ld, accountSubject(c.Account)), load[commands.License](ld, subj), now)
	})
}

// RenewLicense extends a licence's term (B2).
func (l *Ledger) RenewLicense(ctx context.Context, meta Meta, c commands.RenewLicense) (Result[commands.License], error) {
	c, err := c.Normalize()
	if err != nil {
		return Result[commands.License]{}, err
	}
	subj := licenseSubject(c.Account, c.ID)
	return run[commands.License](ctx, l, "renew_license", meta, subj, func(ld *loader, now time.Time) ([]events.Event, error) {
		return c.Decide(load[commands.License](ld, subj), now)
	})
}

// Assign assigns a practitioner licence (C1, C2).
func (l *Ledger) Assign(ctx context.Context, meta Meta, c commands.Assign) (Result[commands.License], error) {
	c, err := c.Normalize()
	if err != nil {
		return Result[commands.License]{}, err
	}
	subj := licenseSubject(c.Account, c.LicenseID)
	return run[commands.License](ctx, l, "assign", meta, subj, func(ld *loader, now time.Time) ([]events.Event, error) {
		lic := load[commands.License](ld, subj)
		user := load[commands.User](ld, userSubject(c.Account, c.Email))
		return c.Decide(lic, user, now)
	})
}

// Reassign moves a practitioner licence to another user (C3–C6).
func (l *Ledger) Reassign(ctx context.Context, meta Meta, c commands.Reassign) (Result[commands.License], error) {
	c, err := c.Normalize()
	if err != nil {
		return Result[commands.License]{}, err
	}
	subj := licenseSubject(c.Account, c.LicenseID)
	return run[commands.License](ctx, l, "reassign", meta, subj, func(ld *loader, now time.Time) ([]events.Event, error) {
		lic := load[commands.License](ld, subj)
		var prev commands.User
		if lic.Assignee != "" {
			prev = load[commands.User](ld, userSubject(c.Account, lic.Assignee))
		}
		user := load[commands.User](ld, userSubject(c.Account, c.Email))
		return c.Decide(lic, prev, user, now)
	})
}

// Unassign takes a practitioner licence from its assignee (C3, C4).
func (l *Ledger) Unassign(ctx context.Context, meta Meta, c commands.Unassign) (Result[commands.License], error) {
	c, err := c.Normalize()
	if err != nil {
		return Result[commands.License]{}, err
	}
	subj := licenseSubject(c.Account, c.LicenseID)
	return run[commands.License](ctx, l, "unassign", meta, subj, func(ld *loader, now time.Time) ([]events.Event, error) {
		lic := load[commands.License](ld, subj)
		var prev commands.User
		if lic.Assignee != "" {
			prev = load[commands.User](ld, userSubject(c.Account, lic.Assignee))
		}
		return c.Decide(lic, prev, now)
	})
}

// SignIn signs a user in on a machine, or refreshes their session (D1–D4).
func (l *Ledger) SignIn(ctx context.Context, meta Meta, c commands.SignIn) (Result[commands.Session], error) {
	c, err := c.Normalize()
	if err != nil {
		return Result[commands.Session]{}, err
	}
	subj := sessionSubject(c.Account, c.Email)
	return run[commands.Session](ctx, l, "sign_in", meta, subj, func(ld *loader, now time.Time) ([]events.Event, error) {
		user := load[commands.User](ld, userSubject(c.Account, c.Email))
		return c.Decide(user, l.loadSession(ld, c.Account, c.Email), now, l.sessionTTL)
	})
}

// Heartbeat keeps a live session alive (D3).
func (l *Ledger) Heartbeat(ctx context.Context, meta Meta, c commands.Heartbeat) (Result[commands.Session], error) {
	c, err := c.Normalize()
	if err != nil {
		return Result[commands.Session]{}, err
	}
	subj := sessionSubject(c.Account, c.Email)
	return run[commands.Session](ctx, l, "heartbeat", meta, subj, func(ld *loader, now time.Time) ([]events.Event, error) {
		return c.Decide(l.loadSession(ld, c.Account, c.Email), now, l.sessionTTL)
	})
}

// SignOut ends a user's session (D3).
func (l *Ledger) SignOut(ctx context.Context, meta Meta, c commands.SignOut) (Result[commands.Session], error) {
	c, err := c.Normalize()
	if err != nil {
		return Result[commands.Session]{}, err
	}
	subj := sessionSubject(c.Account, c.Email)
	return run[commands.Session](ctx, l, "sign_out", meta, subj, func(ld *loader, now time.Time) ([]events.Event, error) {
		return c.Decide(l.loadSession(ld, c.Account, c.Email), now, l.sessionTTL)
	})
}

func accessSubject(account, product string) string {
	return events.Subject(account, events.AggregateAccess, product)
}

func checkSubject(account, product string) string {
	return events.Subject(account, events.AggregateCheck, product)
}

// SetAccess sets the access control of pooled use of a product (E2).
func (l *Ledger) SetAccess(ctx context.Context, meta Meta, c commands.SetAccess) (Result[commands.Access], error) {
	c, err := c.Normalize()
	if err != nil {
		return Result[commands.Access]{}, err
	}
	subj := accessSubject(c.Account, c.Product)
	return run[commands.Access](ctx, l, "set_access", meta, subj, func(ld *loader, now time.Time) ([]events.Event, error) {
		return c.Decide(load[commands.Account](ld, accountSubject(c.Account)), load[commands.Access](ld, subj), now)
	})
}

// Check answers an entitlement check and records it (E1–E3). The answer is
// the recorded check.
func (l *Ledger) Check(ctx context.Context, meta Meta, c commands.Check) (Result[events.CheckRecorded], error) {
	c, err := c.Normalize()
	if err != nil {
		return Result[events.CheckRecorded]{}, err
	}
	subj := checkSubject(c.Account, c.Product)
	defer l.lanes.enter(subj)()
	// The answer is the check this command recorded. After the append the
	// product's check log may already hold a later check, so the decided
	// event is kept; a replay (no decision) gets the log as of the command.
	var decided *events.CheckRecorded
	res, err := run[commands.CheckLog](ctx, l, "check", meta, subj, func(ld *loader, now time.Time) ([]events.Event, error) {
		acct := load[commands.Account](ld, accountSubject(c.Account))
		user := load[commands.User](ld, userSubject(c.Account, c.Email))
		var held commands.License
		if user.LicenseID != "" {
			held = load[commands.License](ld, licenseSubject(c.Account, user.LicenseID))
		}
		pooled, err := l.store.Pooled(c.Account, c.Product)
		if err != nil {
			return nil, err
		}
		access := load[commands.Access](ld, accessSubject(c.Account, c.Product))
		evs, err := c.Decide(acct, user, held, pooled, access, load[commands.CheckLog](ld, subj), now)
		if err == nil {
			d := evs[0].Data.(events.CheckRecorded)
			decided = &d
		}
		return evs, err
	})
	out := Result[events.CheckRecorded]{State: res.State.Last, DecidedAt: res.DecidedAt}
	if decided != nil && err == nil {
		out.State = *decided
	}
	return out, err
}

// CheckoutResult is a checkout's answer: the signed token and its end.
type CheckoutResult struct {
	Token string
	Until time.Time
}

// Checkout takes a practitioner licence offline (F6) and returns its signed
// token.
func (l *Ledger) Checkout(ctx context.Context, meta Meta, c commands.Checkout) (CheckoutResult, error) {
	if l.checkoutKey == nil {
		return CheckoutResult{}, commands.Reject(commands.CodeNotFound, "this ledger has no checkout key")
	}
	c, err := c.Normalize()
	if err != nil {
		return CheckoutResult{}, err
	}
	subj := licenseSubject(c.Account, c.LicenseID)
	if meta.CommandID == "" {
		meta.CommandID = events.NewID()
	}
	if _, err := run[commands.License](ctx, l, "checkout", meta, subj, func(ld *loader, now time.Time) ([]events.Event, error) {
		lic := load[commands.License](ld, subj)
		return c.Decide(lic, l.loadSession(ld, c.Account, c.Email), now, l.sessionTTL)
	}); err != nil {
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
	token, err := SignToken(l.checkoutKey, tokenFor(lic))
	return CheckoutResult{Token: token, Until: lic.CheckoutUntil}, err
}

// Checkin ends a licence's offline checkout (F6).
func (l *Ledger) Checkin(ctx context.Context, meta Meta, c commands.Checkin) (Result[commands.License], error) {
	c, err := c.Normalize()
	if err != nil {
		return Result[commands.License]{}, err
	}
	subj := licenseSubject(c.Account, c.LicenseID)
	return run[commands.License](ctx, l, "checkin", meta, subj, func(ld *loader, now time.Time) ([]events.Event, error) {
		lic := load[commands.License](ld, subj)
		var sess commands.Session
		if lic.CheckoutEmail != "" {
			sess = load[commands.Session](ld, sessionSubject(c.Account, lic.CheckoutEmail))
		}
		return c.Decide(lic, sess, now)
	})
}

func usageSubject(account, product string) string {
	return events.Subject(account, events.AggregateUsage, product)
}

// errLanded stops a usage decision that finds its own command already
// recorded.
var errLanded = errors.New("ledger: the command has landed")

// UsageAnswer is the answer to a usage batch.
type UsageAnswer struct {
	Accepted   int
	Duplicates int
	Results    []commands.UsageResult
}

// RecordUsage records a batch of usage records whole or not at all (F1–F5).
// Every event's id, and so its Nats-Msg-Id, is derived from its usage id, so
// JetStream refuses a record sent again within its duplicate window, and a
// batch holding one is decided again once the projections have caught up.
// Older records are known to the projections: they first catch up with the
// stream unless everything they may lack is inside that window
// (catchUpUnlessDeduplicated). A resent record is therefore a duplicate
// however old (F2), and of two racing batches with the same ids only one
// counts.
func (l *Ledger) RecordUsage(ctx context.Context, meta Meta, c commands.RecordUsage) (UsageAnswer, error) {
	c, err := c.Normalize()
	if err != nil {
		return UsageAnswer{}, err
	}
	if meta.CommandID == "" {
		// Set here, not in executeOnce: the decision and the answer
		// compare recorded records with this id.
		meta.CommandID = events.NewID()
	}
	if err := l.catchUpForUsage(ctx); err != nil {
		return UsageAnswer{}, err
	}
	ids := make([]string, len(c.Records))
	for i, r := range c.Records {
		ids[i] = r.UsageID
	}
	var results []commands.UsageResult
	decided, err := l.executeUsage(ctx, meta, usageSubject(c.Account, c.Records[0].Product),
		func(ld *loader, now time.Time) ([]events.Event, error) {
			uc := commands.UsageContext{Users: map[string]commands.User{}, Licenses: map[string]commands.License{},
				Pooled: map[string][]commands.License{}, Logs: map[string]time.Time{}, Horizon: l.usageHorizon}
			for _, r := range c.Records {
				if _, ok := uc.Users[r.Email]; !ok {
					u := load[commands.User](ld, userSubject(c.Account, r.Email))
					uc.Users[r.Email] = u
					for _, h := range u.Holdings {
						lic, _, err := l.store.License(c.Account, h.LicenseID)
						if err != nil {
							return nil, err
						}
						uc.Licenses[h.LicenseID] = lic
					}
				}
				if _, ok := uc.Pooled[r.Product]; !ok {
					p, err := l.store.Pooled(c.Account, r.Product)
					if err != nil {
						return nil, err
					}
					uc.Pooled[r.Product] = p
					uc.Logs[r.Product] = l.loadUsageLog(ld, usageSubject(c.Account, r.Product))
				}
			}
			known, err := l.store.KnownUsage(c.Account, ids)
			if err != nil {
				return nil, err
			}
			for _, k := range known {
				if k.CommandID == meta.CommandID {
					// This very command landed (its projection is under
					// way): answer it as a replay, not as duplicates.
					return nil, errLanded
				}
			}
			uc.Known = known
			evs, res, err := c.Decide(uc, now)
			results = res
			return evs, err
		})
	if errors.Is(err, errLanded) {
		decided, err = false, nil
	}
	if err != nil {
		return UsageAnswer{}, err
	}
	var ans UsageAnswer
	if !decided {
		// A replayed request: answer from what its first try recorded, once
		// the projections show all of it (they may have applied only part
		// of its batch so far).
		if err := l.catchUp(ctx); err != nil {
			return UsageAnswer{}, err
		}
		// The records are this command's only if the request is the same.
		if res, ok, err := l.store.Command(meta.CommandID); err != nil {
			return UsageAnswer{}, err
		} else if ok && res.Hash != meta.CommandHash {
			return UsageAnswer{}, commands.Reject(commands.CodeIdempotencyKeyReused,
				"this Idempotency-Key was already used with a different request")
		}
		known, err := l.store.KnownUsage(c.Account, ids)
		if err != nil {
			return UsageAnswer{}, err
		}
		results = make([]commands.UsageResult, len(c.Records))
		for i, r := range c.Records {
			k := known[r.UsageID]
			results[i] = commands.UsageResult{UsageID: r.UsageID, Classification: k.Classification, LicenseID: k.LicenseID,
				Duplicate: k.CommandID != meta.CommandID}
		}
		for i, r := range c.Records {
			for j := 0; j < i; j++ {
				if c.Records[j].UsageID == r.UsageID {
					results[i].Duplicate = true
				}
			}
		}
	}
	for _, r := range results {
		if r.Duplicate {
			ans.Duplicates++
		} else {
			ans.Accepted++
		}
	}
	ans.Results = results
	return ans, nil
}
