package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"strings"

	"github.com/entledger/ledger/events"
)

// A token reads ledger_<id>_<secret>: the id (a lower-case ULID) names the
// token in events and lists; the secret is 32 random bytes, base64url. The
// prefix lets secret scanners recognise a leaked token.
const prefix = "ledger_"

// secretBytes is the entropy of a token: 256 bits.
const secretBytes = 32

// tokenLen is the length of every token New makes.
var tokenLen = len(prefix) + 26 + 1 + base64.RawURLEncoding.EncodedLen(secretBytes)

// New makes a token: its id and the whole token (shown once, never stored).
func New() (id, token string) {
	id = strings.ToLower(events.NewID())
	return id, WithID(id)
}

// WithID returns a new token, with a fresh secret, whose id is id (which
// must match events.TokenIDPattern): for a token whose id must be known in
// advance, as the first admin token's is.
func WithID(id string) string {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		panic("auth: no randomness: " + err.Error()) // crypto/rand never fails on supported systems
	}
	return prefix + id + "_" + base64.RawURLEncoding.EncodeToString(b)
}

// Hash is what the ledger stores of a token: its SHA-256, hex. A token has
// 256 bits of entropy, so a fast hash is enough: no one can guess back.
func Hash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Matches reports whether token hashes to hash, in constant time.
func Matches(token, hash string) bool {
	return subtle.ConstantTimeCompare([]byte(Hash(token)), []byte(hash)) == 1
}

// ID returns the id a token names, if it has the form New makes.
func ID(token string) (string, bool) {
	if len(token) != tokenLen || !strings.HasPrefix(token, prefix) {
		return "", false
	}
	id, secret, ok := strings.Cut(token[len(prefix):], "_")
	if !ok || !events.TokenIDPattern.MatchString(id) || len(id) != 26 {
		return "", false
	}
	if _, err := base64.RawURLEncoding.Strict().DecodeString(secret); err != nil {
		return "", false
	}
	return id, true
}

// Bearer returns the token of an Authorization header value
// ("Bearer <token>", the scheme in any case, one space).
func Bearer(header string) (string, bool) {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}
