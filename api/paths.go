package api

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/entledger/ledger/commands"
)

// rejectUncleanPath answers 400 invalid_path, and reports true, for a
// request whose path, decoded, is not in the one form the routes match: it
// has a "." or ".." segment or an empty one ("//"), written plainly or
// percent-encoded (%2e%2e, a%2F..%2Fb, a%2F%2Fb). http.ServeMux would answer
// such a path with a redirect to its cleaned form, /v1/accounts/a/../b/x to
// /v1/accounts/b/x: a client that follows it acts on another account than
// the one it named, and an access check of the path as sent would check the
// wrong account; a proxy in front that decodes and cleans paths would do the
// same with the encoded forms. Nothing is redirected: the request is
// refused before it is routed.
//
// An encoded slash on its own stays allowed: an email may hold a '/', and
// a%2Fb@x.example in a path is that email. Decoded, such a path has no dot
// or empty segment, so no cleaning anywhere can move it out of its account.
func rejectUncleanPath(w http.ResponseWriter, r *http.Request) bool {
	reason := uncleanPath(r.URL.Path)
	if reason == "" {
		return false
	}
	writeError(w, r, slog.Default(), commands.Reject(commands.CodeInvalidPath,
		"the path %q %s; send the path of the resource itself", r.URL.EscapedPath(), reason))
	return true
}

// uncleanPath says what is wrong with a decoded request path, or "" if
// nothing is.
func uncleanPath(decoded string) string {
	if !strings.HasPrefix(decoded, "/") {
		return "" // "*" of OPTIONS *, or a CONNECT authority: not routed by path
	}
	segments := strings.Split(decoded[1:], "/")
	for i, seg := range segments {
		switch {
		case seg == "." || seg == "..":
			return "holds a " + seg + " segment (decoded)"
		case seg == "" && i < len(segments)-1:
			return "holds an empty segment (// once decoded)"
		}
	}
	return ""
}
