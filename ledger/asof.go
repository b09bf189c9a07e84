package ledger

import (
	"fmt"
	"time"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/projections"
)

// applier is a pointer to an aggregate state that folds events.
type applier[T any] interface {
	*T
	Apply(events.Event)
}

// stateAsOf is the state of the aggregate on subject at business time t:
// the events of its history (H4) with a business time at or before t,
// folded. An event at exactly t is in force at t.
func stateAsOf[T any, P applier[T]](l *Ledger, subject string, t time.Time) (T, error) {
	var st T
	hist, err := l.store.History(subject)
	if err != nil {
		return st, err
	}
	for _, h := range hist {
		e, err := events.Unmarshal(h.Event)
		if err != nil {
			return st, fmt.Errorf("ledger: history of %s: %w", subject, err)
		}
		if e.OccurredAt.After(t) {
			break // business times of one aggregate never go back (at_before_last_event)
		}
		P(&st).Apply(e)
	}
	return st, nil
}

// stateAtSeq is the state of the aggregate on subject after the events at
// or below stream sequence seq: its current state when its last event is
// at or below seq, else its history folded up to seq.
func stateAtSeq[T any, P applier[T]](l *Ledger, subject string, seq uint64) (T, error) {
	st, v, err := projections.Load[T](l.store, subject)
	if err != nil || v.Seq <= seq {
		return st, err
	}
	var zero T
	hist, err := l.store.History(subject)
	if err != nil {
		return zero, err
	}
	for _, h := range hist {
		if h.Seq > seq {
			break
		}
		e, err := events.Unmarshal(h.Event)
		if err != nil {
			return zero, fmt.Errorf("ledger: history of %s: %w", subject, err)
		}
		P(&zero).Apply(e)
	}
	return zero, nil
}

// AccountAsOf returns the account as it stood at business time t (H4). An
// account created after t is account_not_found.
func (l *Ledger) AccountAsOf(id string, t time.Time) (commands.Account, error) {
	if _, err := l.Account(id); err != nil {
		return commands.Account{}, err
	}
	a, err := stateAsOf[commands.Account](l, events.AccountSubject(id), t)
	if err == nil && !a.Exists() {
		err = commands.Reject(commands.CodeAccountNotFound, "account %q did not exist yet at %s", id,
			t.Format(time.RFC3339Nano)).With("account", id)
	}
	return a, err
}

// UserAsOf returns the user as registered at business time t (H4), also a
// user removed since. An email that was not a user of the account at t is
// user_not_found.
func (l *Ledger) UserAsOf(account, email string, t time.Time) (commands.User, error) {
	if _, err := l.Account(account); err != nil {
		return commands.User{}, err
	}
	email, err := commands.NormalizeEmail("email", email)
	if err != nil {
		return commands.User{}, err
	}
	u, err := stateAsOf[commands.User](l, events.UserSubject(account, email), t)
	if err == nil && !u.Registered {
		err = commands.Reject(commands.CodeUserNotFound, "%s was not a user of account %q at %s", email, account,
			t.Format(time.RFC3339Nano)).With("email", email)
	}
	return u, err
}
