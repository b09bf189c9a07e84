package api

import (
	"context"
	"net/http"

	"github.com/entledger/ledger/auth"
	"github.com/entledger/ledger/commands"
)

type principalKey struct{}

// principal is the token that sent r (the zero Principal on a public route).
func principal(r *http.Request) auth.Principal {
	p, _ := r.Context().Value(principalKey{}).(auth.Principal)
	return p
}

// admit authenticates r and checks that its token may call a route that
// asks access, in the order of S2: a missing, unknown or revoked token is
// 401; an account outside the token's scope is 404 exactly as an account
// that does not exist; a role that may not is 403 (or 404 when the account
// does not exist: the account is checked before the role). It returns r
// carrying the principal.
func (a *API) admit(r *http.Request, access auth.Access) (*http.Request, error) {
	if access == auth.Public {
		return r, nil
	}
	if n := len(r.Header.Values("Authorization")); n > 1 {
		// Which one would count is a guess a proxy and the ledger could
		// make differently: the request is ambiguous, not unauthenticated.
		return r, commands.Invalid("Authorization", "the request has %d Authorization headers; send one", n)
	}
	token, ok := auth.Bearer(r.Header.Get("Authorization"))
	if !ok {
		return r, commands.Reject(commands.CodeUnauthenticated, "a valid bearer token is required: Authorization: Bearer <token>")
	}
	p, err := a.l.Authenticate(r.Context(), token)
	if err != nil {
		return r, err
	}
	account := r.PathValue("account")
	if account != "" && !p.Reaches(account) {
		return r, accountNotFound(account)
	}
	if !p.May(access) {
		if account != "" {
			if _, err := a.l.Account(account); err != nil {
				return r, err
			}
		}
		return r, commands.Reject(commands.CodeForbidden, "a %s token may not %s %s", p.Role, r.Method, r.URL.Path).
			With("role", p.Role)
	}
	ctx := context.WithValue(r.Context(), principalKey{}, p)
	return r.WithContext(context.WithValue(ctx, limitsKey{}, a.limits)), nil
}

type limitsKey struct{}

// charge takes n of cost c from the limits of r's token and of the account
// its path names (S9: after the body is read and checked, S2).
func charge(r *http.Request, c cost, n int) error {
	l, _ := r.Context().Value(limitsKey{}).(*limits)
	return l.charge(principal(r).ID, r.PathValue("account"), c, n)
}

// chargeBody takes a request's body from its limits: the body's bytes and
// one unit of c (a command), or n of c (a usage batch's records).
func chargeBody(r *http.Request, body []byte, c cost, n int) error {
	if err := charge(r, costBodyBytes, len(body)); err != nil {
		return err
	}
	return charge(r, c, n)
}

// accountNotFound is the answer for an account that does not exist, or
// that the token may not see: the same bytes either way (S2).
func accountNotFound(account string) error {
	return commands.AccountMustExist(commands.Account{}, account)
}
