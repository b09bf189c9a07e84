package events

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mtibben/confusables"
	"golang.org/x/text/secure/precis"
	"golang.org/x/text/unicode/norm"
)

// The email rule, one definition for package commands (which applies it to
// every email a client sends) and for the events (which hold emails to
// MaxEmailBytes and the shape of the JSON Schemas). Lengths are in bytes of
// the email as stored: NFC, lower case.
const (
	// MaxEmailBytes is the longest email: RFC 5321's 256-octet path less
	// its angle brackets.
	MaxEmailBytes = 254
	// MaxEmailLocalBytes is the longest local part (RFC 5321).
	MaxEmailLocalBytes = 64
)

// emailSpecials are the ASCII characters an email's local part may not
// hold (besides controls and space): RFC 5322's specials, which only a
// quoted local part could carry.
const emailSpecials = `"(),:;<>[\]@`

// identifierClass is PRECIS's IdentifierClass (RFC 8264), the Unicode data
// golang.org/x/text ships: letters and digits of every script and the
// printable ASCII characters; symbols, spaces, compatibility forms and
// default-ignorable code points (fillers, variation selectors) are not
// in it.
var identifierClass = precis.NewIdentifier()

// CheckEmail reports why e is not an email the ledger accepts (rule A5),
// or nil if it is. e must be in the form the ledger stores: surrounding
// space removed, NFC, lower case (package commands' NormalizeEmail puts a
// client's email in it). An accepted email
//   - is at most MaxEmailBytes bytes, with a local part of 1 to
//     MaxEmailLocalBytes bytes and a domain of two or more ASCII labels
//     (a-z, 0-9, '-'; an internationalised domain in its xn-- form);
//   - holds in its local part no control or space, none of `"(),:;<>[\]@`,
//     no leading, trailing or doubled '.';
//   - is reachable in a URL path: the local part, split at '/', has no
//     empty, "." or ".." piece, so no path cleaner changes a path that
//     names it ("a/./b@", "/lead@" and "a//b@" are refused);
//   - names one person: its local part holds only PRECIS identifier
//     characters (no compatibility form, where NFKC differs from NFC; no
//     invisible character or filler; no symbol), is written in one script
//     (or Latin with the Han-based scripts, as UTS 39 "highly restrictive"
//     allows), and holds no Latin letter that UTS 39's confusables data
//     reads as another ASCII letter ('ı' for 'i').
func CheckEmail(e string) error {
	if e == "" {
		return fmt.Errorf("an email is required")
	}
	if !utf8.ValidString(e) {
		return fmt.Errorf("not valid UTF-8")
	}
	if len(e) > MaxEmailBytes {
		return fmt.Errorf("longer than %d bytes", MaxEmailBytes)
	}
	if !norm.NFC.IsNormalString(e) || strings.ToLower(e) != e {
		return fmt.Errorf("not in the stored form (NFC, lower case)")
	}
	local, domain, ok := strings.Cut(e, "@")
	if !ok || local == "" || !validDomain(domain) {
		return fmt.Errorf("want local-part@domain.tld")
	}
	if len(local) > MaxEmailLocalBytes {
		return fmt.Errorf("the part before the @ is longer than %d bytes", MaxEmailLocalBytes)
	}
	if err := checkLocalASCII(local); err != nil {
		return err
	}
	if err := checkLocalPath(local); err != nil {
		return err
	}
	return checkLocalIdentity(local)
}

func checkLocalASCII(local string) error {
	for i := 0; i < len(local); i++ {
		if c := local[i]; c <= ' ' || c == 0x7f || strings.IndexByte(emailSpecials, c) >= 0 {
			return fmt.Errorf("%q is not allowed before the @", rune(c))
		}
	}
	if local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, "..") {
		return fmt.Errorf("misplaced '.'")
	}
	return nil
}

// checkLocalPath refuses a local part that a path naming it could not
// carry unchanged: an empty, "." or ".." piece between slashes is what
// path cleaning removes, and what the API refuses as invalid_path.
func checkLocalPath(local string) error {
	for piece := range strings.SplitSeq(local, "/") {
		if piece == "" || piece == "." || piece == ".." {
			return fmt.Errorf("a '/' that starts it, doubles or encloses a '.' piece: no URL path could name it")
		}
	}
	return nil
}

// checkLocalIdentity is the part of A5 that concerns characters beyond
// ASCII: a local part of printable ASCII passes it as it is.
func checkLocalIdentity(local string) error {
	ascii := true
	for i := 0; i < len(local); i++ {
		if local[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return nil
	}
	if nfkc := norm.NFKC.String(local); nfkc != local {
		for _, r := range local {
			if c := norm.NFKC.String(string(r)); c != string(r) {
				return fmt.Errorf("%U is a compatibility form of %q: write %q", r, c, c)
			}
		}
		return fmt.Errorf("a compatibility form: NFKC makes it %q", nfkc)
	}
	for _, r := range local {
		if r < utf8.RuneSelf {
			continue
		}
		if unicode.In(r, unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector, unicode.Cf, unicode.Zs) {
			return fmt.Errorf("%U is invisible or a filler", r)
		}
		if _, err := identifierClass.String(string(r)); err != nil {
			return fmt.Errorf("%U is not a letter or digit", r)
		}
	}
	if _, err := identifierClass.String(local); err != nil {
		return fmt.Errorf("not an identifier (PRECIS IdentifierClass): %v", err)
	}
	if err := checkScripts(local); err != nil {
		return err
	}
	for _, r := range local {
		if r < utf8.RuneSelf || !unicode.Is(unicode.Latin, r) {
			continue
		}
		if s := confusables.Skeleton(string(r)); len(s) == 1 && isASCIIAlnum(s[0]) {
			return fmt.Errorf("%U looks like %q: write %q", r, s, s)
		}
	}
	return nil
}

func isASCIIAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// scriptTables are the scripts of Go's unicode package but Common and
// Inherited (digits, punctuation, combining marks), which belong to every
// script.
var scriptTables = func() map[string]*unicode.RangeTable {
	m := make(map[string]*unicode.RangeTable, len(unicode.Scripts))
	for name, t := range unicode.Scripts {
		if name != "Common" && name != "Inherited" {
			m[name] = t
		}
	}
	return m
}()

// hanScripts are the script sets UTS 39 "highly restrictive" allows
// beside a single script: Latin with Han and the scripts written with it.
var hanScripts = [][]string{
	{"Latin", "Han", "Hiragana", "Katakana"},
	{"Latin", "Han", "Bopomofo"},
	{"Latin", "Han", "Hangul"},
}

// checkScripts refuses a local part that mixes scripts ("bоb" with a
// Cyrillic о).
func checkScripts(local string) error {
	seen := map[string]rune{}
	for _, r := range local {
		if r < utf8.RuneSelf && !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z') {
			continue
		}
		for name, t := range scriptTables {
			if unicode.Is(t, r) {
				if _, ok := seen[name]; !ok {
					seen[name] = r
				}
				break
			}
		}
	}
	if len(seen) <= 1 {
		return nil
	}
	for _, set := range hanScripts {
		inSet := 0
		for _, name := range set {
			if _, ok := seen[name]; ok {
				inSet++
			}
		}
		if inSet == len(seen) {
			return nil
		}
	}
	names := make([]string, 0, len(seen))
	for name, r := range seen {
		names = append(names, fmt.Sprintf("%s (%U)", name, r))
	}
	sortStrings(names)
	return fmt.Errorf("mixes scripts before the @: %s", strings.Join(names, ", "))
}

// domainPattern is the regular expression validDomain matches: two or more
// dot-separated labels of 1 to 63 of a-z, 0-9 and '-', not starting or
// ending with '-'.
const domainPattern = `^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`

var domainRe = regexp.MustCompile(domainPattern)

// validDomain reports whether d matches domainPattern.
func validDomain(d string) bool {
	labels := 0
	for label := range strings.SplitSeq(d, ".") {
		labels++
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return labels >= 2
}
