package events

import (
	"regexp"
	"strings"
	"testing"
)

var domainSeeds = []string{"", "x", "x.example", "a.b.c", "-a.b", "a-.b", "a.-b", "a.b-", "a..b", ".a.b", "a.b.",
	"xn--bcher-kva.example", "A.example", "a_b.example", strings.Repeat("a", 63) + ".b", strings.Repeat("a", 64) + ".b",
	"1.2", "a.b c", "é.example"}

// validDomain agrees with the regular expression it stands for.
func TestValidDomainAgreesWithRegexp(t *testing.T) {
	re := regexp.MustCompile(domainPattern)
	for _, d := range domainSeeds {
		if got, want := validDomain(d), re.MatchString(d); got != want {
			t.Errorf("%q: validDomain %v, regexp %v", d, got, want)
		}
	}
}

func FuzzValidDomain(f *testing.F) {
	re := regexp.MustCompile(domainPattern)
	for _, d := range domainSeeds {
		f.Add(d)
	}
	f.Fuzz(func(t *testing.T, d string) {
		if got, want := validDomain(d), re.MatchString(d); got != want {
			t.Fatalf("%q: validDomain %v, regexp %v", d, got, want)
		}
	})
}
