package events_test

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/entledger/ledger/events"
)

// tokenChars are the only bytes EncodeToken may write.
const tokenChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_@+-%"

var tokenCases = []struct {
	id, token string
}{
	{"", ""},
	{"acme", "acme"},
	{"lic-0001", "lic-0001"},
	{"alice@example.com", "alice@example%2Ecom"},
	{"alice.smith@mail.example.co.uk", "alice%2Esmith@mail%2Eexample%2Eco%2Euk"},
	{"alice+ledger@example.com", "alice+ledger@example%2Ecom"},
	{"100%@example.com", "100%25@example%2Ecom"},
	{"%2E", "%252E"},
	{"a b", "a%20b"},
	{"tab\there", "tab%09here"},
	{"new\nline\r", "new%0Aline%0D"},
	{"jürgen@müller.de", "j%C3%BCrgen@m%C3%BCller%2Ede"},
	{"日本@例え.jp", "%E6%97%A5%E6%9C%AC@%E4%BE%8B%E3%81%88%2Ejp"},
	{"*", "%2A"},
	{">", "%3E"},
	{"a.*.>", "a%2E%2A%2E%3E"},
	{"under_score", "under_score"},
	{"slash/colon:", "slash%2Fcolon%3A"},
	{"nul\x00", "nul%00"},
	{"\xff\xfe", "%FF%FE"}, // not UTF-8: bytes round-trip too
	{"~!$&'()", "%7E%21%24%26%27%28%29"},
}

func TestEncodeToken(t *testing.T) {
	for _, tc := range tokenCases {
		if got := events.EncodeToken(tc.id); got != tc.token {
			t.Errorf("EncodeToken(%q) = %q, want %q", tc.id, got, tc.token)
		}
		got, err := events.DecodeToken(tc.token)
		if err != nil || got != tc.id {
			t.Errorf("DecodeToken(%q) = %q, %v; want %q", tc.token, got, err, tc.id)
		}
	}
}

func TestDecodeTokenRejectsNonCanonical(t *testing.T) {
	for _, tok := range []string{
		"a%2eb",       // lower-case hex
		"%2e",         // lower-case hex alone
		"%c3%bc",      // lower-case hex, both digits letters
		"%C3%bc",      // mixed
		"%41",         // escape of a safe byte ('A')
		"%61",         // 'a'
		"%30",         // '0'
		"%5F",         // '_'
		"%40",         // '@'
		"%2B",         // '+'
		"%2D",         // '-'
		"%2",          // truncated
		"%",           // truncated
		"abc%",        // truncated at the end
		"abc%4",       // truncated at the end
		"%G0",         // not hex
		"%0G",         // not hex
		"%%25",        // '%' not followed by hex
		"%-1",         // sign is not hex
		"a.b",         // raw '.'
		"a*",          // raw '*'
		">",           // raw '>'
		"a b",         // raw space
		"a\tb",        // raw tab
		"ü",           // raw non-ASCII
		"%2Ea.b",      // raw '.' after an escape
		"%2E*",        // raw '*' after an escape
		"a/b",         // raw '/'
		"alice.smith", // a raw email
	} {
		if got, err := events.DecodeToken(tok); err == nil {
			t.Errorf("DecodeToken(%q) = %q, nil; want an error", tok, got)
		}
	}
}

func TestSubject(t *testing.T) {
	for _, tc := range []struct {
		account, aggregate, id string
		want                   string
	}{
		{"acme", events.AggregateUser, "alice@example.com", "ledger.events.acme.user.alice@example%2Ecom"},
		{"acme", events.AggregateLicense, "lic-1", "ledger.events.acme.license.lic-1"},
		{"acme", events.AggregateAccount, "acme", "ledger.events.acme.account.acme"},
		{events.GlobalAccount, events.AggregateEmail, "a.b@c.d", "ledger.events._global.email.a%2Eb@c%2Ed"},
		{"acme", "usage", "product one", "ledger.events.acme.usage.product%20one"},
		{"acme", events.AggregateUser, "*", "ledger.events.acme.user.%2A"},
		{"acme", events.AggregateUser, ">", "ledger.events.acme.user.%3E"},
	} {
		got := events.Subject(tc.account, tc.aggregate, tc.id)
		if got != tc.want {
			t.Errorf("Subject(%q, %q, %q) = %q, want %q", tc.account, tc.aggregate, tc.id, got, tc.want)
		}
		if !strings.HasPrefix(got, events.SubjectPrefix) {
			t.Errorf("Subject %q lacks prefix %q", got, events.SubjectPrefix)
		}
		if n := strings.Count(got, "."); n != 4 {
			t.Errorf("Subject %q has %d dots, want 4 (five tokens)", got, n)
		}
		account, aggregate, id, err := events.ParseSubject(got)
		if err != nil || account != tc.account || aggregate != tc.aggregate || id != tc.id {
			t.Errorf("ParseSubject(%q) = %q, %q, %q, %v; want %q, %q, %q", got, account, aggregate, id, err,
				tc.account, tc.aggregate, tc.id)
		}
	}
}

func TestEventSubject(t *testing.T) {
	for _, e := range samples(t) {
		account, aggregate, id, err := events.ParseSubject(e.Subject())
		if err != nil {
			t.Errorf("%s: ParseSubject(%q): %v", e.Type(), e.Subject(), err)
			continue
		}
		if account != e.Account || aggregate != e.Aggregate() || id != e.AggregateID {
			t.Errorf("%s: ParseSubject(%q) = %q, %q, %q; want %q, %q, %q", e.Type(), e.Subject(),
				account, aggregate, id, e.Account, e.Aggregate(), e.AggregateID)
		}
		if e.Subject() != events.Subject(e.Account, e.Aggregate(), e.AggregateID) {
			t.Errorf("%s: Event.Subject() = %q, differs from Subject()", e.Type(), e.Subject())
		}
	}
}

func TestParseSubjectErrors(t *testing.T) {
	for _, s := range []string{
		"",
		"ledger.events.",
		"ledger.events",
		"ledger.event.acme.user.x",
		"other.events.acme.user.x",
		"LEDGER.EVENTS.acme.user.x",
		"ledger.events.acme",
		"ledger.events.acme.user",
		"ledger.events.acme.user.",
		"ledger.events..user.x",
		"ledger.events.acme..x",
		"ledger.events.acme.user.alice.smith", // raw '.' in the id: too many tokens
		"ledger.events.acme.user.x.y.z",
		"ledger.events.acme.user.%2e",  // lower-case escape
		"ledger.events.acme.user.%41",  // escape of a safe byte
		"ledger.events.acme.user.ab%2", // truncated escape
		"ledger.events.acme.user.*",    // wildcard id
		"ledger.events.acme.user.>",    // wildcard id
		"ledger.events.acme.user.a b",  // space
		" ledger.events.acme.user.x",
	} {
		account, aggregate, id, err := events.ParseSubject(s)
		if !errors.Is(err, events.ErrBadSubject) {
			t.Errorf("ParseSubject(%q) = %q, %q, %q, %v; want ErrBadSubject", s, account, aggregate, id, err)
		}
		if err != nil && (account != "" || aggregate != "" || id != "") {
			t.Errorf("ParseSubject(%q) returned parts with an error", s)
		}
	}
}

func FuzzToken(f *testing.F) {
	for _, tc := range tokenCases {
		f.Add(tc.id)
		f.Add(tc.token)
	}
	for _, s := range []string{"%2e", "%41", "%2", "a.b", "a*b", ">", "%", "%%", "%FF", "\u2028", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// Every string encodes to a token that decodes back to it.
		tok := events.EncodeToken(s)
		got, err := events.DecodeToken(tok)
		if err != nil || got != s {
			t.Fatalf("DecodeToken(EncodeToken(%q)) = DecodeToken(%q) = %q, %v", s, tok, got, err)
		}
		if strings.ContainsAny(tok, ".*>") {
			t.Fatalf("EncodeToken(%q) = %q contains a NATS separator or wildcard", s, tok)
		}
		for i := 0; i < len(tok); i++ {
			if !strings.ContainsRune(tokenChars, rune(tok[i])) {
				t.Fatalf("EncodeToken(%q) = %q contains byte %q", s, tok, tok[i])
			}
		}
		if strings.IndexFunc(tok, unicode.IsSpace) >= 0 || !utf8.ValidString(tok) {
			t.Fatalf("EncodeToken(%q) = %q contains whitespace or invalid UTF-8", s, tok)
		}
		if s == "" != (tok == "") {
			t.Fatalf("EncodeToken(%q) = %q", s, tok)
		}

		// Every token DecodeToken accepts is the canonical token of its id.
		if id, err := events.DecodeToken(s); err == nil {
			if again := events.EncodeToken(id); again != s {
				t.Fatalf("DecodeToken(%q) = %q, but EncodeToken(%q) = %q", s, id, id, again)
			}
		}
	})
}
