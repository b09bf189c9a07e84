package api

import (
	"net/http"
	"strconv"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/ledger"
)

// ListView is one page of a list: its items and the cursor of the next
// page, null on the last.
type ListView[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

// listView shows a page, each item through view.
func listView[S, T any](p ledger.Page[S], view func(S) T) ListView[T] {
	out := ListView[T]{Items: make([]T, 0, len(p.Items)), NextCursor: nullable(p.NextCursor)}
	for _, it := range p.Items {
		out.Items = append(out.Items, view(it))
	}
	return out
}

// pageRequest reads ?cursor= and ?limit= of a list.
func pageRequest(r *http.Request) (ledger.PageRequest, error) {
	q := r.URL.Query()
	p := ledger.PageRequest{Cursor: q.Get("cursor")}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return p, commands.Invalid("limit", "%q is not a whole number; want 1 to %d", s, ledger.MaxPageLimit)
		}
		if n == 0 {
			n = -1 // asked for 0 items: out of range, not the default
		}
		p.Limit = n
	}
	return p, nil
}

// listAccounts answers the accounts the token reaches: every account for
// admin and an auditor of every account, its own for a scoped token.
func (a *API) listAccounts(w http.ResponseWriter, r *http.Request) error {
	p, err := pageRequest(r)
	if err != nil {
		return err
	}
	page, err := a.l.ListAccounts(principal(r).Account, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, listView(page, accountView))
	return nil
}

// listLicenses answers a page of the account's licences, filtered by
// ?kind=, ?assigned=true|false and ?product=.
func (a *API) listLicenses(w http.ResponseWriter, r *http.Request) error {
	p, err := pageRequest(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := ledger.LicenseFilter{Kind: q.Get("kind"), Product: q.Get("product")}
	if s := q.Get("assigned"); s != "" {
		if s != "true" && s != "false" {
			return commands.Invalid("assigned", "%q; want true or false", s)
		}
		assigned := s == "true"
		f.Assigned = &assigned
	}
	page, err := a.l.ListLicenses(r.PathValue("account"), f, p)
	if err != nil {
		return err
	}
	now := a.l.Now()
	writeJSON(w, http.StatusOK, listView(page, func(l commands.License) LicenseView { return licenseView(l, now) }))
	return nil
}

// listUsers answers a page of the account's registered users, each with
// their live session or null.
func (a *API) listUsers(w http.ResponseWriter, r *http.Request) error {
	p, err := pageRequest(r)
	if err != nil {
		return err
	}
	page, err := a.l.ListUsers(r.PathValue("account"), p)
	if err != nil {
		return err
	}
	out := ListView[UserView]{Items: make([]UserView, 0, len(page.Items)), NextCursor: nullable(page.NextCursor)}
	for _, u := range page.Items {
		sess, err := a.liveSession(r, u)
		if err != nil {
			return err
		}
		out.Items = append(out.Items, userView(u, sess))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
