package auth

import (
	"strings"
	"testing"

	"github.com/entledger/ledger/events"
)

// rule S1: a token names its id, hashes to what is stored, and nothing
// but the exact token matches the hash.
func TestTokenRoundTrip(t *testing.T) {
	id, tok := New()
	got, ok := ID(tok)
	if !ok || got != id || !events.TokenIDPattern.MatchString(id) {
		t.Fatalf("ID(%q) = %q, %v; want %q", tok[:12], got, ok, id)
	}
	h := Hash(tok)
	if !Matches(tok, h) || Matches(tok+"x", h) || Matches(strings.ToUpper(tok), h) {
		t.Error("Matches accepts another token, or refuses the right one")
	}
	_, other := New()
	if other == tok || Hash(other) == h {
		t.Error("two tokens are the same")
	}
	for _, bad := range []string{"", tok[:len(tok)-1], tok + "A", "x" + tok[1:], strings.Replace(tok, "_", "-", 1),
		prefix + strings.Repeat("0", 26) + "_" + strings.Repeat("*", 43)} {
		if _, ok := ID(bad); ok {
			t.Errorf("ID accepted %q", bad)
		}
	}
}

// FuzzBearer: any header value either yields a token that is the value's
// second word, or nothing; ID never accepts what New could not have made.
func FuzzBearer(f *testing.F) {
	_, tok := New()
	for _, s := range []string{"", "Bearer " + tok, "bearer " + tok, "Basic x", "Bearer", "Bearer  x", tok} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		got, ok := Bearer(header)
		if ok && (got == "" || !strings.HasSuffix(header, got) || !strings.EqualFold(header[:len("Bearer")], "Bearer")) {
			t.Fatalf("Bearer(%q) = %q", header, got)
		}
		if id, ok := ID(got); ok && (len(got) != tokenLen || !strings.HasPrefix(got, prefix+id+"_")) {
			t.Fatalf("ID(%q) = %q", got, id)
		}
	})
}

// The access table of S1: which roles may call what.
func TestMay(t *testing.T) {
	for _, c := range []struct {
		p    Principal
		want []Access
	}{
		{Principal{Role: events.RoleAdmin}, []Access{Public, Read, Ingest, Manage, Vendor, ReadAll}},
		{Principal{Role: events.RoleAccountAdmin, Account: "a"}, []Access{Public, Read, Manage}},
		{Principal{Role: events.RoleAuditor, Account: "a"}, []Access{Public, Read}},
		{Principal{Role: events.RoleAuditor}, []Access{Public, Read, ReadAll}},
		{Principal{Role: events.RoleIngest, Account: "a"}, []Access{Public, Ingest}},
		{Principal{Role: events.RoleSubscriber, Account: "a"}, []Access{Public}},
	} {
		for a := Public; a <= ReadAll; a++ {
			want := false
			for _, w := range c.want {
				want = want || w == a
			}
			if got := c.p.May(a); got != want {
				t.Errorf("%s %q may %s: %v, want %v", c.p.Role, c.p.Account, a, got, want)
			}
		}
	}
}
