package api

import (
	"net/url"
	"strings"

	"github.com/entledger/ledger/commands"
	"net/http"
	"net/http/httptest"
	"testing"
)

// Item 8 (paths): a path with a dot segment or an empty segment, plain or
// percent-encoded, is refused before it is routed; the paths the routes
// match pass, an email holding an encoded slash among them.
func TestRejectUncleanPath(t *testing.T) {
	for _, tc := range []struct {
		target string
		reject bool
	}{
		{"/v1/accounts/acme/licenses/P1", false},
		{"/v1/accounts/acme/users/ada@acme.example", false},
		{"/v1/accounts/acme/licenses/P.1", false},
		{"/v1/accounts/acme/licenses/P..1", false},
		{"/v1/accounts/acme/", false},
		{"/", false},
		{"/v1/accounts/acme/users/a%40x.example", false},
		{"/v1/accounts/a/../b/licenses/x", true},
		{"/v1/accounts/a/./licenses/x", true},
		{"/v1/accounts/a/..", true},
		{"/v1/accounts/a/.", true},
		{"/..", true},
		{"/v1/accounts/a/%2e%2e/b/licenses/x", true},
		{"/v1/accounts/a/%2E%2E/b/licenses/x", true},
		{"/v1/accounts/a/.%2e/b/licenses/x", true},
		{"/v1/accounts/a/%2e/licenses/x", true},
		{"/v1/accounts/a%2f..%2fb/licenses/x", true},
		{"/v1/accounts/acme/users/a%2Fb@x.example", false},
		{"/v1/accounts/acme/users/a%2F%2Fb@x.example", true},
		{"/v1/accounts/acme%2F/licenses/x", true},
		{"/v1/accounts/acme/users/%2F", true},
		{"//v1/accounts/acme", true},
		{"/v1//accounts/acme", true},
		{"/v1/accounts/acme//licenses/x", true},
	} {
		r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1"+tc.target, nil)
		w := httptest.NewRecorder()
		if got := rejectUncleanPath(w, r); got != tc.reject {
			t.Errorf("%s: rejected %v, want %v", tc.target, got, tc.reject)
			continue
		}
		if tc.reject && (w.Code != http.StatusBadRequest || w.Header().Get("Location") != "") {
			t.Errorf("%s: %d, Location %q; want 400 and no redirect", tc.target, w.Code, w.Header().Get("Location"))
		}
	}
}

// rule A5: every email the ledger accepts passes the path check in every
// route that names it, whatever a client's encoding of it: no accepted
// email is a user that no path can reach.
func FuzzAcceptedEmailPassesPathCheck(f *testing.F) {
	for _, s := range []string{"a/./b@x.example", "/lead@x.example", "a//b@x.example", "a/b@x.example", "a%2F@x.example", "jose\u0301@x.example"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := commands.NormalizeEmail("email", s)
		if err != nil {
			return
		}
		for _, p := range []string{"/v1/accounts/acme/users/%s", "/v1/accounts/acme/users/%s/history", "/v1/accounts/acme/sessions/%s/heartbeat"} {
			target := "http://127.0.0.1" + strings.Replace(p, "%s", url.PathEscape(e), 1)
			r := httptest.NewRequest(http.MethodGet, target, nil)
			if reason := uncleanPath(r.URL.Path); reason != "" {
				t.Fatalf("%q accepted as %q, but its path %s: %s", s, e, target, reason)
			}
		}
	})
}
