package events

import (
	"strconv"
	"strings"
)

// Identifier patterns, matched by hand: they are checked for every field of
// every event encoded or decoded, and a regular expression costs about ten
// times as much. Each is a regular expression of the JSON Schemas in
// schemas/ (String gives it), and the tests check that both agree.

// Pattern matches ^[first][rest]{0,max-1}$ over ASCII character sets.
type Pattern struct {
	src         string
	first, rest asciiSet
	max         int
}

// asciiSet is a set of ASCII bytes.
type asciiSet [128]bool

// newSet builds a set from a class such as "a-z0-9._-" (a '-' last is itself).
func newSet(class string) asciiSet {
	var s asciiSet
	for i := 0; i < len(class); i++ {
		if i+2 < len(class) && class[i+1] == '-' {
			for c := class[i]; c <= class[i+2]; c++ {
				s[c] = true
			}
			i += 2
			continue
		}
		s[class[i]] = true
	}
	return s
}

func (s *asciiSet) has(c byte) bool { return c < 128 && s[c] }

func newPattern(first, rest string, max int) *Pattern {
	src := "^[" + first + "]"
	if first == rest {
		src = "^[" + rest + "]{1," + strconv.Itoa(max) + "}$"
	} else {
		src += "[" + rest + "]{0," + strconv.Itoa(max-1) + "}$"
	}
	return &Pattern{src: src, first: newSet(first), rest: newSet(rest), max: max}
}

// MatchString reports whether s matches the pattern.
func (p *Pattern) MatchString(s string) bool {
	if len(s) == 0 || len(s) > p.max || !p.first.has(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !p.rest.has(s[i]) {
			return false
		}
	}
	return true
}

// String is the pattern as a regular expression.
func (p *Pattern) String() string { return p.src }

// The identifier patterns the ledger shares with package commands.
var (
	AccountIDPattern = newPattern("a-z0-9", "a-z0-9-", 63)
	LicenseIDPattern = newPattern("A-Za-z0-9", "A-Za-z0-9._-", 64)
	ProductIDPattern = newPattern("a-z0-9", "a-z0-9_-", 64)
	MachineIDPattern = newPattern("A-Za-z0-9", "A-Za-z0-9._:-", 128)
	UsageIDPattern   = newPattern("\x21-\x7e", "\x21-\x7e", 128)
)

// VersionPattern is the regular expression ValidVersion matches.
const VersionPattern = `^[0-9]{1,9}(\.[0-9]{1,9}){0,7}$`

// ValidVersion reports whether s is a client version: one to eight dotted
// numbers of one to nine digits (VersionPattern).
func ValidVersion(s string) bool {
	parts := 0
	for part := range strings.SplitSeq(s, ".") {
		if parts++; parts > 8 || len(part) == 0 || len(part) > 9 {
			return false
		}
		for i := 0; i < len(part); i++ {
			if part[i] < '0' || part[i] > '9' {
				return false
			}
		}
	}
	return true
}

// emailShape is the regular expression looksLikeEmail matches.
const emailShape = `^[^A-Z\s]+@[^@\s]+$`

// looksLikeEmail reports whether s matches emailShape: something without
// upper-case letters or white space, an '@', then something without '@' or
// white space (\s is ASCII white space: tab, newline, form feed, carriage
// return and space).
func looksLikeEmail(s string) bool {
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == ' ':
			return false
		case i < at && 'A' <= c && c <= 'Z':
			return false
		}
	}
	return true
}
