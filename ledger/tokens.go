package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/entledger/ledger/auth"
	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
)

// NewToken is an API token just created: its state and the token itself,
// which the ledger never stores and cannot show again.
type NewToken struct {
	Result[commands.Token]
	Token string
}

// CreateToken issues an API token with role, reaching account ("" for
// every account: admin, or an auditor of every account) (S1, S3). Only
// the token's hash is written to the stream.
//
// Its roles are the documented ones (S1): admin, account_admin, auditor
// and ingest. A subscriber's token is made with its credentials and its
// consumer (CreateSubscriberToken, the subscribers API), never here: a
// second token of a subscriber's name would share its durable consumer.
func (l *Ledger) CreateToken(ctx context.Context, meta Meta, name, role, account string) (NewToken, error) {
	if role == events.RoleSubscriber {
		return NewToken{}, commands.Invalid("role", "%q tokens are made with their NATS credentials: POST /v1/accounts/{account}/subscribers or /v1/subscribers; want admin, account_admin, auditor or ingest", role)
	}
	id, token := auth.New()
	return l.createToken(ctx, meta, id, token, name, role, account)
}

// CreateSubscriberToken issues the token of a subscriber of account ("":
// every account) named name (S5): its NATS user and password.
func (l *Ledger) CreateSubscriberToken(ctx context.Context, meta Meta, name, account string) (NewToken, error) {
	id, token := auth.New()
	return l.createToken(ctx, meta, id, token, name, events.RoleSubscriber, account)
}

// CreateTokenWithID is CreateToken with the token's id given. Two calls
// with one id create one token: the second is refused with CodeConflict
// (the token exists), however close together they run, on one process or
// on two sharing the stream.
func (l *Ledger) CreateTokenWithID(ctx context.Context, meta Meta, id, name, role, account string) (NewToken, error) {
	return l.createToken(ctx, meta, id, auth.WithID(id), name, role, account)
}

// CreateTokenWithSecret is CreateTokenWithID with the whole token given
// (auth.WithID(id)), so that a caller whose answer was lost can send the
// same token again, and tell by Authenticate whether its first try landed.
func (l *Ledger) CreateTokenWithSecret(ctx context.Context, meta Meta, id, token, name, role, account string) (NewToken, error) {
	return l.createToken(ctx, meta, id, token, name, role, account)
}

func (l *Ledger) createToken(ctx context.Context, meta Meta, id, token, name, role, account string) (NewToken, error) {
	c, err := commands.CreateToken{ID: id, Name: name, Role: role, Account: account, SecretHash: auth.Hash(token)}.Normalize()
	if err != nil {
		return NewToken{}, err
	}
	if account != "" {
		if err := l.requireAccount(ctx, meta, account); err != nil {
			return NewToken{}, err
		}
	}
	subj := events.TokenSubject(c.ID)
	res, err := run[commands.Token](ctx, l, meta, command{name: "create_token", account: account, primary: subj,
		decide: func(ld *loader, now time.Time) ([]events.Event, error) {
			return c.Decide(load[commands.Token](ld, subj), now)
		}})
	if err != nil {
		return NewToken{}, err
	}
	if res.State.ID != c.ID {
		// A replayed Idempotency-Key answers the token created the first
		// time, whose secret was shown then and is not kept.
		return NewToken{Result: res}, nil
	}
	return NewToken{Result: res, Token: token}, nil
}

// RevokeToken ends a token's rights: on this process as soon as it
// answers, on every other process as soon as its projections apply the
// event.
func (l *Ledger) RevokeToken(ctx context.Context, meta Meta, c commands.RevokeToken) (Result[commands.Token], error) {
	c, err := c.Normalize()
	if err != nil {
		return Result[commands.Token]{}, err
	}
	subj := events.TokenSubject(c.ID)
	return run[commands.Token](ctx, l, meta, command{name: "revoke_token", primary: subj,
		decide: func(ld *loader, now time.Time) ([]events.Event, error) {
			return c.Decide(load[commands.Token](ld, subj), now)
		}})
}

// Tokens lists every token ever created, revoked ones included; never a
// secret.
func (l *Ledger) Tokens() ([]commands.Token, error) { return l.store.Tokens() }

// Token returns one token's state; a token never created is not_found.
func (l *Ledger) Token(id string) (commands.Token, error) {
	t, err := l.store.Token(id)
	if err == nil && !t.Exists() {
		err = commands.Reject(commands.CodeNotFound, "no token %q", id).With("id", id)
	}
	return t, err
}

// errUnauthenticated is the one answer for a token that is missing,
// malformed, unknown or revoked: the answer never tells which.
var errUnauthenticated = commands.Reject(commands.CodeUnauthenticated,
	"a valid bearer token is required: Authorization: Bearer <token>")

// Authenticate returns the principal of token, or unauthenticated if the
// ledger does not know it or it was revoked. A revocation counts from the
// moment the projections apply it, on this process and every other. A
// token the projections do not know yet (made a moment ago by another
// ledger process, or while this one catches up after a start) is looked up
// on the stream itself, where only an event the ledger wrote (its MAC
// verifies) counts.
func (l *Ledger) Authenticate(ctx context.Context, token string) (auth.Principal, error) {
	id, ok := auth.ID(token)
	if !ok {
		return auth.Principal{}, errUnauthenticated
	}
	t, err := l.store.Token(id)
	if err != nil {
		return auth.Principal{}, err
	}
	if !t.Exists() {
		if t, err = l.tokenOnStream(ctx, id); err != nil {
			return auth.Principal{}, err
		}
	}
	if !t.Exists() || t.Revoked || !auth.Matches(token, t.SecretHash) {
		return auth.Principal{}, errUnauthenticated
	}
	return auth.Principal{ID: t.ID, Name: t.Name, Role: t.Role, Account: t.Account}, nil
}

// tokenOnStream reads a token's state from the last event of its subject:
// a token.created is the token, anything else (a revocation, an event the
// ledger did not write) is no token.
func (l *Ledger) tokenOnStream(ctx context.Context, id string) (commands.Token, error) {
	subj := events.TokenSubject(id)
	ctx, cancel := askStream(ctx)
	defer cancel()
	m, err := l.stream.GetLastMsgForSubject(ctx, subj)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return commands.Token{}, nil
	}
	if err != nil {
		return commands.Token{}, commands.Reject(commands.CodeUnavailable, "the stream did not answer: %v", err)
	}
	if l.mac != nil && l.mac.Check(m.Subject, m.Data, m.Header.Get(events.MACHeader)) != nil {
		return commands.Token{}, nil
	}
	e, err := events.Unmarshal(m.Data)
	if err != nil || !events.StoredOn(e, subj) {
		return commands.Token{}, nil
	}
	var t commands.Token
	if _, created := e.Data.(events.TokenCreated); created {
		t.Apply(e)
	}
	return t, nil
}

// HasTokens reports whether the stream holds any token.created event,
// asking the stream itself rather than the projections, which may not
// have caught up.
func (l *Ledger) HasTokens(ctx context.Context) (bool, error) {
	_, err := l.stream.GetLastMsgForSubject(ctx, events.SubjectPrefix+events.GlobalAccount+"."+events.AggregateToken+".>")
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return false, nil
	default:
		return false, fmt.Errorf("ledger: looking for tokens on the stream: %w", err)
	}
}
