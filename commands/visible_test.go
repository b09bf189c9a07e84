package commands_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/entledger/ledger/commands"
)

// invisibleRunes are characters a person cannot see, or that reorder what is
// shown around them (issue "Authentication, tenant isolation...", item 8):
// the bidirectional controls, the directional marks, zero-width characters,
// the byte order mark, and samples of the rest of categories Cc, Cf, Zl, Zp.
var invisibleRunes = []rune{
	0x202A, 0x202B, 0x202C, 0x202D, 0x202E, // embeddings and overrides
	0x2066, 0x2067, 0x2068, 0x2069, // isolates
	0x200E, 0x200F, 0x061C, // directional marks
	0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, // zero-width characters, byte order mark
	0x00AD, 0x180E, 0x2061, 0xFFF9, 0xE0001, // other format characters (Cf)
	0x0000, 0x001B, 0x007F, 0x0085, 0x009B, // control characters (Cc)
	0x2028, 0x2029, // line and paragraph separators
}

// Item 8 (lenient input): every string field a command validates refuses an
// invisible or control character, naming the field, wherever it stands in
// the value. (Emails, names and countries are trimmed of surrounding white
// space first, U+0085, U+2028 and U+2029 included, as before: those are
// tried inside the value only.)
func TestInvisibleCharactersAreRejectedEverywhere(t *testing.T) {
	validators := []struct {
		field string
		valid string
		check func(field, s string) error
	}{
		{"email", "ada@acme.example", func(f, s string) error { _, err := commands.NormalizeEmail(f, s); return err }},
		{"name", "Acme Engineering", func(f, s string) error { _, err := commands.Name(f, s); return err }},
		{"reason", "sold by mistake", func(f, s string) error { _, err := commands.Name(f, s); return err }},
		{"account", "acme", commands.AccountID},
		{"license_id", "P-1", commands.LicenseID},
		{"product", "microstation", commands.ProductID},
		{"products", "microstation", func(f, s string) error { _, err := commands.Products(f, []string{"revit", s}); return err }},
		{"machine_id", "ws-42", commands.MachineID},
		{"usage_id", "01JH0000000000000000000001", commands.UsageID},
		{"entitlement_country", "DE", func(f, s string) error { _, err := commands.Country(f, s, true); return err }},
	}
	for _, v := range validators {
		if err := v.check(v.field, v.valid); err != nil {
			t.Fatalf("%s: the valid %q is rejected: %v", v.field, v.valid, err)
		}
		for _, r := range invisibleRunes {
			tries := []string{v.valid[:1] + string(r) + v.valid[1:]}
			if !unicode.IsSpace(r) {
				tries = append(tries, string(r)+v.valid, v.valid+string(r))
			}
			for _, s := range tries {
				t.Run(fmt.Sprintf("%s/%U/%q", v.field, r, s), func(t *testing.T) {
					wantInvalid(t, v.check(v.field, s), v.field)
				})
			}
		}
	}
}

// Item 8: the email a zero-width space or a right-to-left override makes
// look like another is not that email, and is not taken at all.
func TestLookalikeEmailsAreRejected(t *testing.T) {
	for _, s := range []string{"ada\u200b@acme.example", "\u202eelpmaxe.emca@ada", "ada@acme.example\ufeff", "a\u00adda@acme.example"} {
		got, err := commands.NormalizeEmail("email", s)
		if err == nil {
			t.Errorf("NormalizeEmail(%q) = %q, want invalid_argument", s, got)
			continue
		}
		wantInvalid(t, err, "email")
	}
	// Visible non-ASCII letters stay allowed in names.
	for _, s := range []string{"Büro Müller", "東京設計", "Ελληνικά", "שלום", "مرحبا"} {
		if _, err := commands.Name("name", s); err != nil {
			t.Errorf("Name(%q): %v, want it accepted", s, err)
		}
	}
}

// Names may hold the zero-width non-joiner and joiner where Persian and the
// Brahmic scripts need them, between two letters or marks of the script;
// anywhere else they are refused as invisible, and never in an identifier.
func TestJoinersInNamesOnlyWhereTheirScriptsNeedThem(t *testing.T) {
	for _, s := range []string{
		"می\u200cخواهم",      // Persian: ZWNJ between Arabic-script letters
		"شرکت می\u200cسازیم", // the same in a longer name
		"क्\u200dष",          // Devanagari: ZWJ after a virama
		"ನ್\u200cನ",          // Kannada: ZWNJ after a virama
	} {
		if _, err := commands.Name("name", s); err != nil {
			t.Errorf("Name(%q): %v, want it accepted", s, err)
		}
	}
	for _, s := range []string{
		"A\u200ccme",          // between Latin letters
		"\u200cمی",            // first
		"می\u200c",            // last
		"می\u200c\u200cخواهم", // doubled
		"می\u200c خواهم",      // before a space
		"Acme \u200dमी",       // after a space
		"मी\u200cمی",          // between two scripts
	} {
		_, err := commands.Name("name", s)
		wantInvalid(t, err, "name")
		if err != nil && !strings.Contains(err.Error(), strconv.Quote(s)) {
			t.Errorf("Name(%q): the error %q does not quote the name as sent", s, err)
		}
	}
	if _, err := commands.NormalizeEmail("email", "می\u200cخواهم@acme.example"); err == nil {
		t.Error("an email with a joiner between Arabic letters was accepted")
	}
}
