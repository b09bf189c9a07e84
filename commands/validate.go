package commands

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/entledger/ledger/events"
)

// MaxNameLength is the longest account name accepted, in characters.
const MaxNameLength = 200

// visible checks that s is valid UTF-8 and that a person reading it sees
// every character it holds. It rejects control characters (Unicode category
// Cc), format characters (Cf: the bidirectional controls U+202A–U+202E and
// U+2066–U+2069, the marks U+200E, U+200F and U+061C, the zero-width
// U+200B–U+200D and U+2060, the byte order mark U+FEFF, the soft hyphen)
// and the line and paragraph separators (Zl, Zp). Such characters make two
// different strings look the same, an email with a zero-width space and the
// one without, or reorder what is shown around them. Every string field a
// command takes is checked with it, first, so that the error names the
// character rather than the pattern it also breaks.
func visible(field, s string) error {
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c < ' ' || c == 0x7f {
				return invisible(field, s, rune(c))
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return Invalid(field, "%q is not valid UTF-8", s)
		}
		if unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp) {
			return invisible(field, s, r)
		}
		i += size
	}
	return nil
}

func invisible(field, s string, r rune) error {
	return Invalid(field, "%q holds %U, an invisible or control character; such characters are not allowed", s, r).
		With("character", fmt.Sprintf("%U", r))
}

// AccountID validates an account id (A1).
func AccountID(field, id string) error {
	if err := visible(field, id); err != nil {
		return err
	}
	if !events.AccountIDPattern.MatchString(id) {
		return Invalid(field, "%q is not an account id: 1 to 63 of a-z, 0-9 and '-', not starting with '-'", id)
	}
	return nil
}

// LicenseID validates a licence id.
func LicenseID(field, id string) error {
	if err := visible(field, id); err != nil {
		return err
	}
	if !events.LicenseIDPattern.MatchString(id) {
		return Invalid(field, "%q is not a licence id: 1 to 64 of A-Z, a-z, 0-9, '.', '_' and '-', starting with a letter or digit", id)
	}
	return nil
}

// ProductID validates a product id.
func ProductID(field, id string) error {
	if err := visible(field, id); err != nil {
		return err
	}
	if !events.ProductIDPattern.MatchString(id) {
		return Invalid(field, "%q is not a product id: 1 to 64 of a-z, 0-9, '_' and '-', starting with a letter or digit", id)
	}
	return nil
}

// MachineID validates a machine id.
func MachineID(field, id string) error {
	if err := visible(field, id); err != nil {
		return err
	}
	if !events.MachineIDPattern.MatchString(id) {
		return Invalid(field, "%q is not a machine id: 1 to 128 of A-Z, a-z, 0-9, '.', '_', ':' and '-', starting with a letter or digit", id)
	}
	return nil
}

// UsageID validates a usage id (F2).
func UsageID(field, id string) error {
	if err := visible(field, id); err != nil {
		return err
	}
	if !events.UsageIDPattern.MatchString(id) {
		return Invalid(field, "%q is not a usage id: 1 to 128 printable ASCII characters without spaces (a ULID is recommended)", id)
	}
	return nil
}

// NormalizeEmail puts an email in the form the ledger stores, surrounding
// space removed, Unicode NFC and lower case, and validates it with the one
// email rule, events.CheckEmail (A5). Emails are compared in that form
// (docs/rules.md): a decomposed "josé" and the composed one are one email.
func NormalizeEmail(field, email string) (string, error) {
	if !utf8.ValidString(email) {
		return "", Invalid(field, "the email is not valid UTF-8")
	}
	trimmed := strings.TrimSpace(email)
	if err := visible(field, trimmed); err != nil {
		return "", err
	}
	e := norm.NFC.String(strings.ToLower(norm.NFC.String(trimmed)))
	if e == "" {
		return "", Invalid(field, "an email is required")
	}
	if err := events.CheckEmail(e); err != nil {
		return "", Invalid(field, "%q is not a valid email: %v", email, err)
	}
	return e, nil
}

// Country validates an ISO 3166-1 alpha-2 entitlement country (A3). The empty
// string is allowed when allowEmpty is set (registration without a country).
func Country(field, c string, allowEmpty bool) (string, error) {
	c = strings.ToUpper(strings.TrimSpace(c))
	if err := visible(field, c); err != nil {
		return "", err
	}
	if c == "" && allowEmpty {
		return "", nil
	}
	if !countries[c] {
		return "", Invalid(field, "%q is not an ISO 3166-1 alpha-2 country code (e.g. DE, US)", c)
	}
	return c, nil
}

// Products validates and normalises a licence's product list: non-empty, valid
// ids, sorted, without duplicates.
func Products(field string, products []string) ([]string, error) {
	if len(products) == 0 {
		return nil, Invalid(field, "at least one product is required")
	}
	if len(products) > 100 {
		return nil, Invalid(field, "at most 100 products")
	}
	out := slices.Clone(products)
	for i, p := range out {
		if err := ProductID(field, p); err != nil {
			return nil, err
		}
		out[i] = p
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Name validates a display name. Names are free text, so they may hold
// the zero-width joiner and non-joiner where the scripts that need them
// put them (joinedNames); everywhere else, and in every identifier, they
// are refused with the other invisible characters.
func Name(field, name string) (string, error) {
	n := strings.TrimSpace(name)
	if n == "" {
		return "", Invalid(field, "a name is required")
	}
	if !utf8.ValidString(n) || utf8.RuneCountInString(n) > MaxNameLength {
		return "", Invalid(field, "at most %d characters of valid UTF-8", MaxNameLength)
	}
	if err := visibleName(field, n); err != nil {
		return "", err
	}
	return n, nil
}

// joinerScripts are the scripts whose writing uses U+200C ZERO WIDTH
// NON-JOINER and U+200D ZERO WIDTH JOINER inside words: Persian and other
// Arabic-script languages (می‌خواهم), and the Brahmic scripts after a virama
// (क्‍ष, ನ್‌ನ).
var joinerScripts = []*unicode.RangeTable{
	unicode.Arabic, unicode.Syriac, unicode.Nko, unicode.Mongolian,
	unicode.Devanagari, unicode.Bengali, unicode.Gurmukhi, unicode.Gujarati, unicode.Oriya,
	unicode.Tamil, unicode.Telugu, unicode.Kannada, unicode.Malayalam, unicode.Sinhala,
}

// visibleName is visible for a name (valid UTF-8 already): it lets
// through the joiners that stand between two letters or marks of one
// joinerScripts script, visible in their effect on the letters around them
// and needed to write some names. A joiner anywhere else (first, last,
// doubled, beside Latin letters) is refused with every other invisible
// character, and the error quotes the name as sent.
func visibleName(field, s string) error {
	rs := []rune(s)
	for i, r := range rs {
		if (r == 0x200C || r == 0x200D) && i > 0 && i < len(rs)-1 && sameJoinerScript(rs[i-1], rs[i+1]) {
			continue
		}
		if unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp) {
			return invisible(field, s, r)
		}
	}
	return nil
}

// sameJoinerScript reports whether a and b are letters or marks of one of
// the joinerScripts.
func sameJoinerScript(a, b rune) bool {
	if !unicode.In(a, unicode.L, unicode.M) || !unicode.In(b, unicode.L, unicode.M) {
		return false
	}
	for _, script := range joinerScripts {
		if unicode.Is(script, a) && unicode.Is(script, b) {
			return true
		}
	}
	return false
}

// FutureSkew is how far in the future a business time `at` may be (docs/api.md).
const FutureSkew = 5 * time.Minute

// The range of instants the ledger accepts, [2000-01-01, 9000-01-01): far
// enough from year 9999 that every timer (at + 24h + 30d) stays a valid
// RFC 3339 time.
var (
	minTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(9000, 1, 1, 0, 0, 0, 0, time.UTC)
)

// ParseTime parses a time a client gave as RFC 3339 text and validates it
// (Instant). RFC 3339 (section 5.6) lets "T" and "Z" be written "t" and
// "z", and so does the ledger: 2026-06-01t00:00:00z is 2026-06-01T00:00:00Z.
// Every time of a body, a path or a query is read with it.
func ParseTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, Invalid(field, "a time is required (RFC 3339, e.g. 2026-01-05T00:00:00Z)")
	}
	b := []byte(s)
	if len(b) > 10 && b[10] == 't' {
		b[10] = 'T'
	}
	if b[len(b)-1] == 'z' {
		b[len(b)-1] = 'Z'
	}
	t, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return time.Time{}, Invalid(field, "%q is not an RFC 3339 time (e.g. 2026-01-05T00:00:00Z)", s)
	}
	return Instant(field, t)
}

// ParseDay parses a UTC day a client gave as YYYY-MM-DD and validates it
// (Instant).
func ParseDay(field, s string) (time.Time, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, Invalid(field, "%q is not a day (YYYY-MM-DD)", s)
	}
	return Instant(field, t)
}

// Instant validates a time given by a client: every one is in the years
// 2000 to 8999, [2000-01-01, 9000-01-01).
func Instant(field string, t time.Time) (time.Time, error) {
	if t.IsZero() {
		return time.Time{}, Invalid(field, "a time is required (RFC 3339, e.g. 2026-01-05T00:00:00Z)")
	}
	if t.Before(minTime) || !t.Before(maxTime) {
		return time.Time{}, Invalid(field, "%s is outside the years 2000 to 8999", t.UTC().Format(time.RFC3339))
	}
	return t.UTC(), nil
}
