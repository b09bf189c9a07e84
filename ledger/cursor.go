package ledger

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"

	"github.com/entledger/ledger/commands"
)

// A list cursor is where the next page of a list starts: the key of the
// last item returned, sealed with an HMAC over the list it belongs to (its
// binding: which list, which account, which filters) and that key. It is
// opaque to clients, who cannot forge one or move one to another account or
// filter: the tag no longer matches. The key of the tag is derived from the
// ledger's signing key, so every ledger process sharing the stream opens
// the cursors of the others, and a restart keeps them valid.
//
// Encoding: base64url (no padding) of a version byte, the 32-byte
// HMAC-SHA256 tag and the key.

// cursorVersion is the first byte of every cursor.
const cursorVersion = 1

// cursorKey is the secret that seals cursors.
type cursorKey []byte

// newCursorKey derives the cursor secret from the ledger's signing key. A
// ledger without one (only tests run so) gets a random secret: its cursors
// open on that process only.
func newCursorKey(key ed25519.PrivateKey) cursorKey {
	if key == nil {
		k := make([]byte, sha256.Size)
		rand.Read(k)
		return k
	}
	h := hmac.New(sha256.New, key.Seed())
	h.Write([]byte("ledger list cursor v1"))
	return h.Sum(nil)
}

// tag is the HMAC of binding and after.
func (k cursorKey) tag(binding, after string) []byte {
	h := hmac.New(sha256.New, k)
	h.Write([]byte{cursorVersion})
	h.Write([]byte(binding))
	h.Write([]byte{0})
	h.Write([]byte(after))
	return h.Sum(nil)
}

// SealCursor returns the cursor of a list, named by binding, that goes on
// after the key after. The same binding and key always give the same
// cursor, on every process holding the ledger's key.
func (l *Ledger) SealCursor(binding, after string) string {
	raw := append([]byte{cursorVersion}, l.cursors.tag(binding, after)...)
	return base64.RawURLEncoding.EncodeToString(append(raw, after...))
}

// OpenCursor returns the key a cursor sealed for binding goes on after;
// "" opens as "" (the first page). A cursor that is malformed, altered, or
// sealed for another binding (another list, account or filter) is
// invalid_cursor.
func (l *Ledger) OpenCursor(binding, cursor string) (string, error) {
	if cursor == "" {
		return "", nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || len(raw) < 1+sha256.Size || raw[0] != cursorVersion {
		return "", invalidCursor()
	}
	after := string(raw[1+sha256.Size:])
	if !hmac.Equal(raw[1:1+sha256.Size], l.cursors.tag(binding, after)) {
		return "", invalidCursor()
	}
	return after, nil
}

// invalidCursor is the one answer for every cursor that does not open: no
// client learns which check failed.
func invalidCursor() error {
	return commands.Reject(commands.CodeInvalidCursor,
		"the cursor was not issued for this list (this account, these filters) or has been altered; start again without a cursor").
		With("field", "cursor")
}
