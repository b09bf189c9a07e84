package events

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// rule A5: the emails of issue 19 that looked like another person's, and
// the ones no path could reach, are refused; awkward but valid emails
// pass.
func TestCheckEmail(t *testing.T) {
	for _, tc := range []struct {
		email string
		ok    bool
		why   string
	}{
		{"ada@acme.example", true, ""},
		{"josé@x.example", true, ""},
		{"o'neil+billing@x.example", true, ""},
		{"a/b@x.example", true, ""},
		{"a/.b@x.example", true, ""},
		{"a.b/c.d@x.example", true, ""},
		{"a%41@x.example", true, ""},
		{"a?b#c&d=e@x.example", true, ""},
		{"~{|}^`$!*@x.example", true, ""},
		{"müller@x.example", true, ""},
		{"straße@x.example", true, ""},
		{"łukasz@x.example", true, ""},
		{"иван@x.example", true, ""},
		{"δοκιμή@x.example", true, ""},
		{"山田太郎@x.example", true, ""},
		{"yamadaやまだ山田@x.example", true, ""},
		{"a/./b@x.example", false, "no URL path"},
		{"/lead@x.example", false, "no URL path"},
		{"a//b@x.example", false, "no URL path"},
		{"trail/@x.example", false, "no URL path"},
		{"a/../b@x.example", false, "misplaced"},
		{"a/../b@x.example", false, "'.'"},
		{"b\u043eb@x.example", false, "mixes scripts"},           // Cyrillic о
		{"\uff42\uff4f\uff42@x.example", false, "compatibility"}, // full-width ｂｏｂ
		{"\U0001d41bob@x.example", false, "compatibility"},       // mathematical bold 𝐛
		{"b\u0131ll@x.example", false, "looks like"},             // dotless ı
		{"bob\u3164@x.example", false, "compatibility"},          // HANGUL FILLER
		{"bob\u115f@x.example", false, "invisible or a filler"},  // HANGUL CHOSEONG FILLER
		{"bob\u034f@x.example", false, "invisible or a filler"},  // COMBINING GRAPHEME JOINER
		{"bob\ufe0f@x.example", false, "invisible or a filler"},  // VARIATION SELECTOR-16
		{"bob\u2800@x.example", false, "not a letter or digit"},  // BRAILLE PATTERN BLANK
		{"bob\U0001f600@x.example", false, "not a letter or digit"},
		{"jose\u0301@x.example", false, "NFC"}, // commands normalises it first
		{"Ada@x.example", false, "lower case"},
		{strings.Repeat("a", 65) + "@x.example", false, "64 bytes"},
		{strings.Repeat("é", 32) + "@x.example", true, ""},
		{strings.Repeat("é", 33) + "@x.example", false, "64 bytes"},
		{"a@" + strings.Repeat("é", 1) + ".example", false, "want local-part"},
		{"a@b@x.example", false, "want local-part"},
		{"a b@x.example", false, "not allowed"},
		{".a@x.example", false, "misplaced"},
	} {
		err := CheckEmail(tc.email)
		if (err == nil) != tc.ok || err != nil && !strings.Contains(err.Error(), tc.why) {
			t.Errorf("CheckEmail(%q) = %v, want ok %v (%q)", tc.email, err, tc.ok, tc.why)
		}
	}
}

// The length is one definition, in bytes, for commands and the events
// alike: 254 characters of two bytes each is not an email.
func TestEmailLengthIsBytes(t *testing.T) {
	local := strings.Repeat("é", 32) // 64 bytes
	domain := strings.Repeat("d", 63) + "." + strings.Repeat("e", 63) + "." + strings.Repeat("f", 58) + ".ex"
	e := local + "@" + domain
	if len(e) != 254 {
		t.Fatalf("setup: %d bytes", len(e))
	}
	if err := CheckEmail(e); err != nil {
		t.Fatalf("254 bytes: %v", err)
	}
	if err := email("email", e); err != nil {
		t.Fatalf("an event's email of 254 bytes: %v", err)
	}
	longer := local + "@d" + domain
	if utf8.RuneCountInString(longer) > 254 {
		t.Fatalf("setup: %d characters", utf8.RuneCountInString(longer))
	}
	if CheckEmail(longer) == nil || email("email", longer) == nil {
		t.Fatalf("%d bytes in %d characters accepted", len(longer), utf8.RuneCountInString(longer))
	}
}

// rule A5: whatever CheckEmail accepts is reachable: split at '/', no piece
// is one a path cleaner removes; and it is in stored form, so checking is
// all a stored email needs.
func FuzzCheckEmail(f *testing.F) {
	for _, s := range []string{"a/./b@x.example", "a/b@x.example", "bоb@x.example", "josé@x.example", "/a@b.c", "a@b.c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if CheckEmail(s) != nil {
			return
		}
		if email("email", s) != nil {
			t.Fatalf("%q passes CheckEmail but not the events' check", s)
		}
		local, _, _ := strings.Cut(s, "@")
		for piece := range strings.SplitSeq(local, "/") {
			if piece == "" || piece == "." || piece == ".." {
				t.Fatalf("%q accepted with a piece %q a path cleaner removes", s, piece)
			}
		}
	})
}
