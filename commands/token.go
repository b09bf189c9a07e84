package commands

import (
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/entledger/ledger/events"
)

// Token is the state of an API token (S1, S3): who it is, what it may do,
// and whether it still may. It never holds the secret, only its hash.
type Token struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Role       string    `json:"role"`
	Account    string    `json:"account"` // "": every account
	SecretHash string    `json:"secret_hash"`
	CreatedAt  time.Time `json:"created_at"`
	CreatedBy  string    `json:"created_by"`
	Revoked    bool      `json:"revoked"`
	RevokedAt  time.Time `json:"revoked_at"`
	RevokedBy  string    `json:"revoked_by"`
}

// Exists reports whether the token was ever created.
func (t Token) Exists() bool { return t.ID != "" }

// Apply folds one event of the token's subject into the state.
func (t *Token) Apply(e events.Event) {
	switch d := e.Data.(type) {
	case events.TokenCreated:
		*t = Token{ID: d.ID, Name: d.Name, Role: d.Role, Account: d.Account, SecretHash: d.SecretHash,
			CreatedAt: e.OccurredAt, CreatedBy: e.Actor}
	case events.TokenRevoked:
		t.Revoked, t.RevokedAt, t.RevokedBy = true, e.OccurredAt, e.Actor
	}
}

// CreateToken issues a token. The caller makes the id and the secret and
// passes only the secret's hash: the secret is never part of a command.
type CreateToken struct {
	ID         string
	Name       string
	Role       string
	Account    string // required for account_admin and ingest, optional for auditor, empty for admin
	SecretHash string
}

// Normalize validates the command.
func (c CreateToken) Normalize() (CreateToken, error) {
	if !events.TokenIDPattern.MatchString(c.ID) {
		return c, Invalid("id", "%q is not a token id", c.ID)
	}
	if c.Name == "" || len(c.Name) > 100 || !utf8.ValidString(c.Name) || !tokenText(c.Name) {
		return c, Invalid("name", "1 to 100 bytes of printable UTF-8, naming who or what uses the token")
	}
	switch c.Role {
	case events.RoleAdmin:
		if c.Account != "" {
			return c, Invalid("account", "an admin token reaches every account; leave account out")
		}
	case events.RoleAccountAdmin, events.RoleIngest:
		if c.Account == "" {
			return c, Invalid("account", "a %s token belongs to one account; name it", c.Role)
		}
		if err := AccountID("account", c.Account); err != nil {
			return c, err
		}
	case events.RoleAuditor:
		if c.Account != "" {
			if err := AccountID("account", c.Account); err != nil {
				return c, err
			}
		}
	case events.RoleSubscriber:
		// The name is part of the subscriber's consumer name (S5).
		if !events.SubscriberNamePattern.MatchString(c.Name) {
			return c, Invalid("name", "%q: 1 to 32 of a-z, 0-9 and '-', not starting with '-'", c.Name)
		}
		if c.Account != "" {
			if err := AccountID("account", c.Account); err != nil {
				return c, err
			}
		}
	default:
		return c, Invalid("role", "%q; want admin, account_admin, auditor or ingest", c.Role) // subscribers are made at .../subscribers
	}
	if len(c.SecretHash) != 64 {
		return c, Invalid("secret_hash", "want a hex SHA-256")
	}
	return c, nil
}

// Decide creates the token; an id taken before is a conflict (ids are
// random: a retry of the same request replays its answer instead).
func (c CreateToken) Decide(t Token, now time.Time) ([]events.Event, error) {
	if t.Exists() {
		return nil, Reject(CodeConflict, "token %s exists", c.ID)
	}
	return []events.Event{event(events.GlobalAccount, c.ID, now.UTC(), events.TokenCreated{ID: c.ID, Name: c.Name, Role: c.Role,
		Account: c.Account, SecretHash: c.SecretHash})}, nil
}

// RevokeToken ends a token's rights, at once and for good.
type RevokeToken struct {
	ID     string
	Reason string
}

// Normalize validates the command.
func (c RevokeToken) Normalize() (RevokeToken, error) {
	if !events.TokenIDPattern.MatchString(c.ID) {
		return c, Reject(CodeNotFound, "no token %q", c.ID).With("id", c.ID)
	}
	if len(c.Reason) > 1000 || !utf8.ValidString(c.Reason) || !tokenText(c.Reason) {
		return c, Invalid("reason", "at most 1000 bytes of printable UTF-8")
	}
	return c, nil
}

// Decide revokes the token; revoking a revoked token changes nothing.
func (c RevokeToken) Decide(t Token, now time.Time) ([]events.Event, error) {
	if !t.Exists() {
		return nil, Reject(CodeNotFound, "no token %q", c.ID).With("id", c.ID)
	}
	if t.Revoked {
		return nil, nil
	}
	at, err := businessTime(time.Time{}, now, t.CreatedAt)
	if err != nil {
		return nil, err
	}
	return []events.Event{event(events.GlobalAccount, c.ID, at, events.TokenRevoked{ID: c.ID, Reason: c.Reason})}, nil
}

// tokenText reports whether s holds only printable characters: no control,
// format (bidi, zero-width) or other invisible characters that would make a
// token's name read as something it is not.
func tokenText(s string) bool {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}
