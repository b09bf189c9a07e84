package events

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// SubjectPrefix is the first two tokens of every ledger subject. The stream
// LEDGER captures SubjectPrefix + ">".
const SubjectPrefix = "ledger.events."

// GlobalAccount is the reserved account token for facts that belong to no
// single account, such as which account an email is registered in (A2). No
// account id can take it: account ids never contain '_'.
const GlobalAccount = "_global"

// Aggregate kinds: the third token of a subject.
const (
	AggregateAccount  = "account"
	AggregateUser     = "user"
	AggregateLicense  = "license"
	AggregateEmail    = "email" // in GlobalAccount only: which account an email belongs to
	AggregateSession  = "session"
	AggregateAccess   = "access"   // id: the product
	AggregateCheck    = "check"    // id: the product
	AggregateUsage    = "usage"    // id: the product
	AggregateAlert    = "alert"    // id: the product: its threshold and alerts (G4, G8)
	AggregateReminder = "reminder" // id: the licence: its daily reminders while unassigned (G5)
	AggregateToken    = "token"    // in GlobalAccount only: an API token (S1, S3)
	AggregateDomain   = "domain"   // in GlobalAccount only: which account claimed an email domain (A5, S2)
)

// Global reports whether events of aggregate kind are stored in
// GlobalAccount rather than in an account of their own.
func Global(aggregate string) bool {
	return aggregate == AggregateEmail || aggregate == AggregateToken || aggregate == AggregateDomain
}

// ErrBadSubject is returned by ParseSubject for a subject outside the ledger's
// layout.
var ErrBadSubject = errors.New("events: malformed subject")

// Subject is the NATS subject of an aggregate's events:
// ledger.events.<account>.<aggregate>.<EncodeToken(id)>.
func Subject(account, aggregate, id string) string {
	return SubjectPrefix + account + "." + aggregate + "." + EncodeToken(id)
}

// ParseSubject splits a subject made by Subject or UsageShardSubject into
// its parts, decoding the id. The shard token of a usage subject is not part
// of the aggregate: ParseSubject reports the product's usage aggregate.
func ParseSubject(subject string) (account, aggregate, id string, err error) {
	rest, ok := strings.CutPrefix(subject, SubjectPrefix)
	if !ok {
		return "", "", "", fmt.Errorf("%w: %q", ErrBadSubject, subject)
	}
	parts := strings.Split(rest, ".")
	if len(parts) == 4 && parts[1] == AggregateUsage {
		if _, ok := parseShard(parts[3]); !ok {
			return "", "", "", fmt.Errorf("%w: %q: bad usage shard token", ErrBadSubject, subject)
		}
		parts = parts[:3]
	}
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return "", "", "", fmt.Errorf("%w: %q", ErrBadSubject, subject)
	}
	if parts[0] != GlobalAccount && !AccountIDPattern.MatchString(parts[0]) {
		return "", "", "", fmt.Errorf("%w: %q: bad account token", ErrBadSubject, subject)
	}
	switch parts[1] {
	case AggregateAccount, AggregateUser, AggregateLicense, AggregateEmail, AggregateSession,
		AggregateAccess, AggregateCheck, AggregateUsage, AggregateAlert, AggregateReminder, AggregateToken, AggregateDomain:
	default:
		return "", "", "", fmt.Errorf("%w: %q: unknown aggregate", ErrBadSubject, subject)
	}
	id, err = DecodeToken(parts[2])
	if err != nil {
		return "", "", "", fmt.Errorf("%w: %q: %w", ErrBadSubject, subject, err)
	}
	return parts[0], parts[1], id, nil
}

// The subjects of each aggregate kind, so that no caller builds one by hand.

// AccountSubject is the subject of an account's own events.
func AccountSubject(account string) string { return Subject(account, AggregateAccount, account) }

// UserSubject is the subject of a user's events in an account.
func UserSubject(account, email string) string { return Subject(account, AggregateUser, email) }

// EmailSubject is the subject that records which account an email belongs
// to (A2), in GlobalAccount.
func EmailSubject(email string) string { return Subject(GlobalAccount, AggregateEmail, email) }

// TokenSubject is the subject of an API token's events, in GlobalAccount.
func TokenSubject(id string) string { return Subject(GlobalAccount, AggregateToken, id) }

// SessionSubject is the subject of a user's sign-in sessions.
func SessionSubject(account, email string) string { return Subject(account, AggregateSession, email) }

// LicenseSubject is the subject of a licence's events.
func LicenseSubject(account, id string) string { return Subject(account, AggregateLicense, id) }

// AccessSubject is the subject of a product's access control (E2).
func AccessSubject(account, product string) string { return Subject(account, AggregateAccess, product) }

// CheckSubject is the subject of a product's entitlement checks (E3).
func CheckSubject(account, product string) string { return Subject(account, AggregateCheck, product) }

// AlertSubject is the subject of a product's threshold and alerts (G4, G8).
func AlertSubject(account, product string) string { return Subject(account, AggregateAlert, product) }

// ReminderSubject is the subject of a licence's reminders (G5).
func ReminderSubject(account, licenseID string) string {
	return Subject(account, AggregateReminder, licenseID)
}

// UsageSubject is the subject of a product's usage aggregate. Usage events
// are stored below it, on UsageShardSubject, so that concurrent writers of
// one product do not contend for one hash chain; subscribers read every
// shard with UsageSubject(account, product) + ".>" or, for every product,
// SubjectPrefix + account + ".usage.>". Streams written before shards
// existed also hold usage events on UsageSubject itself.
func UsageSubject(account, product string) string { return Subject(account, AggregateUsage, product) }

// MaxUsageShards bounds the shards of one product's usage.
const MaxUsageShards = 256

// UsageShardSubject is the subject of shard n (0 <= n < MaxUsageShards) of a
// product's usage: UsageSubject followed by the shard's decimal number. Each
// shard is a hash chain of its own.
func UsageShardSubject(account, product string, n int) string {
	return UsageSubject(account, product) + "." + strconv.Itoa(n)
}

// parseShard reads a shard token: a decimal number below MaxUsageShards
// without leading zeros.
func parseShard(tok string) (int, bool) {
	if tok == "" || len(tok) > 3 || (len(tok) > 1 && tok[0] == '0') {
		return 0, false
	}
	n, err := strconv.Atoi(tok)
	if err != nil || n < 0 || n >= MaxUsageShards {
		return 0, false
	}
	return n, true
}

// StoredOn reports whether subject is where event e belongs: its
// aggregate's subject, or for usage one of the product's shards.
func StoredOn(e Event, subject string) bool {
	want := e.Subject()
	if subject == want {
		return true
	}
	if e.Aggregate() != AggregateUsage {
		return false
	}
	rest, ok := strings.CutPrefix(subject, want+".")
	if !ok {
		return false
	}
	_, ok = parseShard(rest)
	return ok
}

// EncodeToken encodes an aggregate id (an email, a licence id, a product) into
// one NATS subject token. Bytes in [A-Za-z0-9_@+-] stay as they are; every
// other byte, including '.', '%', '*', '>' and whitespace, becomes '%' and two
// upper-case hex digits, as in RFC 3986 percent-encoding. The encoding is
// reversible by DecodeToken and the same id always gives the same token.
func EncodeToken(id string) string {
	n := 0
	for i := 0; i < len(id); i++ {
		if !tokenSafe(id[i]) {
			n++
		}
	}
	if n == 0 {
		return id
	}
	var b strings.Builder
	b.Grow(len(id) + 2*n)
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(id); i++ {
		c := id[i]
		if tokenSafe(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0xF])
	}
	return b.String()
}

// DecodeToken reverses EncodeToken. It rejects tokens EncodeToken never
// produces (lower-case hex, escapes of safe bytes, stray bytes), so that every
// id has exactly one token.
func DecodeToken(tok string) (string, error) {
	if !strings.Contains(tok, "%") {
		for i := 0; i < len(tok); i++ {
			if !tokenSafe(tok[i]) {
				return "", fmt.Errorf("byte %q must be escaped", tok[i])
			}
		}
		return tok, nil
	}
	var b strings.Builder
	b.Grow(len(tok))
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if c != '%' {
			if !tokenSafe(c) {
				return "", fmt.Errorf("byte %q must be escaped", c)
			}
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(tok) {
			return "", errors.New("truncated escape")
		}
		hi, ok1 := unhex(tok[i+1])
		lo, ok2 := unhex(tok[i+2])
		if !ok1 || !ok2 {
			return "", fmt.Errorf("bad escape %q", tok[i:i+3])
		}
		v := hi<<4 | lo
		if tokenSafe(v) {
			return "", fmt.Errorf("escape %q of a byte that needs none", tok[i:i+3])
		}
		b.WriteByte(v)
		i += 2
	}
	return b.String(), nil
}

func tokenSafe(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '_' || c == '@' || c == '+' || c == '-'
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
