package events

import (
	"regexp"
	"strings"
	"testing"
)

// The hand-written matchers agree with the regular expressions they stand
// for (and that the JSON Schemas carry).

type patternCase struct {
	name  string
	match func(string) bool
	re    *regexp.Regexp
}

func patternCases() []patternCase {
	out := []patternCase{
		{"version", ValidVersion, regexp.MustCompile(VersionPattern)},
		{"email", looksLikeEmail, regexp.MustCompile(emailShape)},
	}
	for name, p := range map[string]*Pattern{"account": AccountIDPattern, "licence": LicenseIDPattern,
		"product": ProductIDPattern, "machine": MachineIDPattern, "usage id": UsageIDPattern} {
		out = append(out, patternCase{name, p.MatchString, regexp.MustCompile(p.String())})
	}
	return out
}

var patternSeeds = []string{
	"", "a", "A", "-", "a-", "acme", "acme-eu", "Acme", "a_b", "a.b", "a:b", "a b", "é", "a\x00",
	"10", "10.00.18", "10.00.18.25", "1.2.3.4.5.6.7.8", "1.2.3.4.5.6.7.8.9", "1234567890", "123456789", "1..2", ".1", "1.",
	"a@x.example", "A@x.example", "a@X.example", "a@b@c", "@x", "a@", "a @x", "a@x y", "a\t@x", "a\f@x", "é@x",
	"WS-0042", "ws.0042:1", "01JH0000000000000000000000", strings.Repeat("a", 63), strings.Repeat("a", 64),
	strings.Repeat("a", 65), strings.Repeat("a", 128), strings.Repeat("a", 129), "\x21\x7e", "\x7f", "\x20",
}

func TestPatternsAgreeWithRegexps(t *testing.T) {
	for _, pc := range patternCases() {
		for _, s := range patternSeeds {
			if got, want := pc.match(s), pc.re.MatchString(s); got != want {
				t.Errorf("%s %q: matcher %v, %s %v", pc.name, s, got, pc.re, want)
			}
		}
	}
}

func FuzzPatterns(f *testing.F) {
	for _, s := range patternSeeds {
		f.Add(s)
	}
	cases := patternCases()
	f.Fuzz(func(t *testing.T, s string) {
		for _, pc := range cases {
			if got, want := pc.match(s), pc.re.MatchString(s); got != want {
				t.Fatalf("%s %q: matcher %v, %s %v", pc.name, s, got, pc.re, want)
			}
		}
	})
}
