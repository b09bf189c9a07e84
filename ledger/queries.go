package ledger

import (
	"context"
	"encoding/json"
	"time"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/projections"
)

// Reads are served from the projections. A client that got an answer to a
// command reads its effect: commands return only once the projections have
// applied their events. Usage batches and checks are the exception: they are
// answered once JetStream has them, and the reads and decisions that depend on
// an account's usage first wait for the projections to show every batch of
// that account answered before them (nothing reads checks).

// Account returns an account, or account_not_found.
func (l *Ledger) Account(id string) (commands.Account, error) {
	if err := commands.AccountID("account", id); err != nil {
		return commands.Account{}, err
	}
	a, _, err := l.store.Account(id)
	if err == nil && !a.Exists() {
		err = commands.Reject(commands.CodeAccountNotFound, "account %q does not exist", id).With("account", id)
	}
	return a, err
}

// User returns a registered user, or user_not_found.
func (l *Ledger) User(account, email string) (commands.User, error) {
	if _, err := l.Account(account); err != nil {
		return commands.User{}, err
	}
	email, err := commands.NormalizeEmail("email", email)
	if err != nil {
		return commands.User{}, err
	}
	u, _, err := l.store.User(account, email)
	if err == nil && !u.Registered {
		err = commands.Reject(commands.CodeUserNotFound, "%s is not a user of account %q", email, account).
			With("email", email)
	}
	return u, err
}

// LiveSession returns the user's session if it is live now (D3), counting
// every usage batch acknowledged before the call.
func (l *Ledger) LiveSession(ctx context.Context, account, email string) (commands.Session, bool, error) {
	if err := l.awaitUsage(ctx, account); err != nil {
		return commands.Session{}, false, err
	}
	s, _, err := l.store.Session(account, email)
	if err != nil || s.MachineID == "" {
		return s, false, err
	}
	last, err := l.store.LastUsage(account, email, s.MachineID)
	if err != nil {
		return s, false, err
	}
	s = s.SeenUsing(last)
	return s, s.Live(l.Now(), l.sessionTTL), nil
}

// Access returns the access control of pooled use of a product (E2); a
// product never set answers the default: allow.
func (l *Ledger) Access(account, product string) (commands.Access, error) {
	if _, err := l.Account(account); err != nil {
		return commands.Access{}, err
	}
	if err := commands.ProductID("product", product); err != nil {
		return commands.Access{}, err
	}
	a, _, err := projections.Load[commands.Access](l.store, events.AccessSubject(account, product))
	if a.Default == "" {
		a = commands.Access{Product: product, Default: "allow", Allow: []string{}, Deny: []string{}}
	}
	return a, err
}

// License returns a licence, or license_not_found.
func (l *Ledger) License(account, id string) (commands.License, error) {
	if _, err := l.Account(account); err != nil {
		return commands.License{}, err
	}
	if err := commands.LicenseID("license_id", id); err != nil {
		return commands.License{}, err
	}
	lic, _, err := l.store.License(account, id)
	if err == nil && !lic.Exists() {
		err = commands.Reject(commands.CodeLicenseNotFound, "licence %q does not exist in account %q", id, account).
			With("license_id", id)
	}
	return lic, err
}

// LicenseAsOf returns the licence as it stood at business time t: its
// events with a business time at or before t, folded (H4). A licence
// created after t is license_not_found.
func (l *Ledger) LicenseAsOf(account, id string, t time.Time) (commands.License, error) {
	if _, err := l.License(account, id); err != nil {
		return commands.License{}, err
	}
	lic, err := stateAsOf[commands.License](l, events.LicenseSubject(account, id), t)
	if err == nil && !lic.Exists() {
		err = commands.Reject(commands.CodeLicenseNotFound, "licence %q did not exist yet at %s", id,
			t.Format(time.RFC3339Nano)).With("license_id", id)
	}
	return lic, err
}

// Reminder is one unassigned practitioner licence (C7).
type Reminder struct {
	LicenseID      string    `json:"license_id"`
	Since          time.Time `json:"since"`
	AssignableFrom time.Time `json:"assignable_from"`
}

// Reminders lists the account's active, unassigned practitioner licences
// now (C7), in licence id order.
func (l *Ledger) Reminders(account string) ([]Reminder, error) {
	if _, err := l.Account(account); err != nil {
		return nil, err
	}
	lics, err := l.store.Unassigned(account)
	if err != nil {
		return nil, err
	}
	now := l.Now()
	out := []Reminder{}
	for _, lic := range lics {
		// The index and the licences are read one after the other: a licence
		// assigned in between is no longer a reminder.
		if !lic.ActiveAt(now) || lic.Assignee != "" {
			continue
		}
		out = append(out, Reminder{LicenseID: lic.ID, Since: lic.UnassignedSince, AssignableFrom: lic.AssignableFrom(now)})
	}
	return out, nil
}

// History returns the events of one aggregate in order (H4), exactly as they
// are stored in the stream.
func (l *Ledger) History(account, aggregate, id string) ([]json.RawMessage, error) {
	entries, err := l.store.History(events.Subject(account, aggregate, id))
	if err != nil {
		return nil, err
	}
	out := make([]json.RawMessage, len(entries))
	for i, e := range entries {
		out[i] = e.Event
	}
	return out, nil
}

// Breaks lists the events the projections refused (H3).
func (l *Ledger) Breaks() ([]projections.Break, error) { return l.store.Breaks() }

// UsageSummary is the usage of account per product and UTC day in
// [from, to] (F5), counting every usage batch acknowledged before the call.
func (l *Ledger) UsageSummary(ctx context.Context, account, from, to string) ([]projections.UsageDay, error) {
	if err := l.awaitUsage(ctx, account); err != nil {
		return nil, err
	}
	return l.store.UsageSummary(account, from, to)
}
