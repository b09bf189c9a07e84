// Package checkout makes and verifies offline checkout tokens (rule F6).
//
// A practitioner licence checked out to one machine comes with a token that
// the client keeps and verifies offline, with nothing but the ledger's
// checkout public key (served at GET /v1/keys/checkout). A token is
//
//	LCK1.<base64url payload>.<base64url signature>
//
// where payload is the JSON of Token and the signature is Ed25519 over
// "ledger checkout token v1\n" followed by the payload bytes. Ed25519 is
// deterministic and the payload is built from the recorded checkout, so the
// same checkout always gives the same token (a replayed request gets it
// again). A client honours a token while issued_at <= now < expires_at, on
// the machine it names.
//
// The functions are pure and safe for concurrent use.
package checkout

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
)

// tokenPrefix starts every token: the format and its version.
const tokenPrefix = "LCK1."

var tokenContext = []byte("ledger checkout token v1\n")

// ErrInvalid is returned by Verify for a token that is malformed, not
// signed by the key, or outside its validity.
var ErrInvalid = errors.New("checkout: invalid token")

// Token is what a checkout token says.
type Token struct {
	TokenID   string    `json:"token_id"`
	Account   string    `json:"account"`
	LicenseID string    `json:"license_id"`
	Email     string    `json:"email"`
	MachineID string    `json:"machine_id"`
	Products  []string  `json:"products"`
	IssuedAt  time.Time `json:"issued_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// ForLicense is the token of the licence's current checkout; its id is the
// id of the license.checked_out event, so every checkout has its own.
func ForLicense(lic commands.License) Token {
	return Token{
		TokenID: lic.CheckoutID, Account: lic.Account, LicenseID: lic.ID, Email: lic.CheckoutEmail,
		MachineID: lic.CheckoutMachine, Products: lic.Products,
		IssuedAt: lic.CheckoutIssuedAt.UTC(), ExpiresAt: lic.CheckoutUntil.UTC(),
	}
}

// Check reports whether the token was issued for machine; a client checks
// it against its own machine id besides the signature and the times.
func (t Token) Check(machine string) error {
	if t.MachineID != machine {
		return fmt.Errorf("%w: issued for machine %q, not %q", ErrInvalid, t.MachineID, machine)
	}
	return nil
}

// Sign encodes and signs t.
func Sign(key ed25519.PrivateKey, t Token) (string, error) {
	payload, err := json.Marshal(t)
	if err != nil {
		return "", err
	}
	sig := ed25519.Sign(key, append(append([]byte{}, tokenContext...), payload...))
	enc := base64.RawURLEncoding
	return tokenPrefix + enc.EncodeToString(payload) + "." + enc.EncodeToString(sig), nil
}

// Verify checks a token's signature with pub and that now is inside
// its validity, and returns what it says.
func Verify(pub ed25519.PublicKey, token string, now time.Time) (Token, error) {
	var t Token
	rest, ok := strings.CutPrefix(strings.TrimSpace(token), tokenPrefix)
	if !ok {
		return t, fmt.Errorf("%w: not an %s token", ErrInvalid, strings.TrimSuffix(tokenPrefix, "."))
	}
	p64, s64, ok := strings.Cut(rest, ".")
	if !ok {
		return t, fmt.Errorf("%w: want three parts", ErrInvalid)
	}
	enc := base64.RawURLEncoding.Strict() // one encoding per token: no stray padding bits
	payload, err1 := enc.DecodeString(p64)
	sig, err2 := enc.DecodeString(s64)
	if err1 != nil || err2 != nil || len(sig) != ed25519.SignatureSize {
		return t, fmt.Errorf("%w: bad encoding", ErrInvalid)
	}
	if !ed25519.Verify(pub, append(append([]byte{}, tokenContext...), payload...), sig) {
		return t, fmt.Errorf("%w: the signature does not verify with key %s", ErrInvalid, events.KeyID(pub))
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return t, fmt.Errorf("%w: payload: %w", ErrInvalid, err)
	}
	if now.Before(t.IssuedAt) || !now.Before(t.ExpiresAt) {
		return t, fmt.Errorf("%w: valid from %s until %s, not at %s", ErrInvalid,
			t.IssuedAt.Format(time.RFC3339), t.ExpiresAt.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return t, nil
}
