package ledger

import (
	"slices"
	"strconv"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/projections"
)

// The lists of accounts, licences and users (issue 10, item 4) are walked
// page by page in key order with a keyset cursor (cursor.go): every item
// that exists throughout a walk is returned exactly once, whatever is
// written meanwhile; an item created during the walk may or may not be.

// Page sizes.
const (
	DefaultPageLimit = 100
	MaxPageLimit     = 1000
	// pageScanBudget bounds the aggregates one page examines, so that a
	// filter that matches little answers in bounded time: a page may then
	// hold fewer items than asked, and its cursor goes on.
	pageScanBudget = 10 * MaxPageLimit
)

// PageRequest asks for one page of a list.
type PageRequest struct {
	Cursor string // the previous page's NextCursor; "" for the first page
	Limit  int    // items at most, 1 to MaxPageLimit; 0 for DefaultPageLimit
}

// limit is the page size asked, or invalid_argument naming limit.
func (p PageRequest) limit() (int, error) {
	switch {
	case p.Limit == 0:
		return DefaultPageLimit, nil
	case p.Limit < 1 || p.Limit > MaxPageLimit:
		return 0, commands.Invalid("limit", "%d; want 1 to %d", p.Limit, MaxPageLimit)
	}
	return p.Limit, nil
}

// Page is one page of a list. NextCursor is "" on the last page.
type Page[T any] struct {
	Items      []T
	NextCursor string
}

// LicenseFilter narrows the list of an account's licences; zero fields
// match every licence.
type LicenseFilter struct {
	Kind     string // practitioner, commercial or trial
	Assigned *bool  // with an assignee, or without one (commercial and trial licences never have one)
	Product  string // covers the product
}

// validate checks the filter's values.
func (f LicenseFilter) validate() error {
	switch f.Kind {
	case "", events.KindPractitioner, events.KindCommercial, events.KindTrial:
	default:
		return commands.Invalid("kind", "%q; want practitioner, commercial or trial", f.Kind)
	}
	if f.Product != "" {
		return commands.ProductID("product", f.Product)
	}
	return nil
}

// binding names the list of account's licences under this filter, for
// its cursors.
func (f LicenseFilter) binding(account string) string {
	assigned := ""
	if f.Assigned != nil {
		assigned = strconv.FormatBool(*f.Assigned)
	}
	return "licenses\x00" + account + "\x00kind=" + f.Kind + "\x00assigned=" + assigned + "\x00product=" + f.Product
}

// keep reports whether a licence state is an existing licence the filter
// matches.
func (f LicenseFilter) keep(l *commands.License) bool {
	return l.Exists() && (f.Kind == "" || l.Kind == f.Kind) &&
		(f.Assigned == nil || (l.Assignee != "") == *f.Assigned) &&
		(f.Product == "" || slices.Contains(l.Products, f.Product))
}

// ListLicenses returns one page of the account's licences that match f, in
// key order of their ids.
func (l *Ledger) ListLicenses(account string, f LicenseFilter, p PageRequest) (Page[commands.License], error) {
	if _, err := l.Account(account); err != nil {
		return Page[commands.License]{}, err
	}
	if err := f.validate(); err != nil {
		return Page[commands.License]{}, err
	}
	return aggregatePage(l, account, events.AggregateLicense, f.binding(account), p, f.keep)
}

// ListUsers returns one page of the account's registered users, in key order
// of their emails. Removed users are not listed (their history stays
// readable).
func (l *Ledger) ListUsers(account string, p PageRequest) (Page[commands.User], error) {
	if _, err := l.Account(account); err != nil {
		return Page[commands.User]{}, err
	}
	keep := func(u *commands.User) bool { return u.Registered }
	return aggregatePage(l, account, events.AggregateUser, "users\x00"+account, p, keep)
}

// aggregatePage walks one page of the account's aggregates of one kind
// from p's cursor, sealed for binding.
func aggregatePage[T any](l *Ledger, account, aggregate, binding string, p PageRequest, keep func(*T) bool) (Page[T], error) {
	limit, err := p.limit()
	if err != nil {
		return Page[T]{}, err
	}
	after, err := l.OpenCursor(binding, p.Cursor)
	if err != nil {
		return Page[T]{}, err
	}
	got, err := projections.Aggregates(l.store, account, aggregate, after, limit, pageScanBudget, keep)
	if err != nil {
		return Page[T]{}, err
	}
	page := Page[T]{Items: got.Items}
	if page.Items == nil {
		page.Items = []T{}
	}
	if got.More {
		page.NextCursor = l.SealCursor(binding, got.Last)
	}
	return page, nil
}

// ListAccounts returns one page of the accounts that scope reaches, in id
// order: every account for "" (admin, an auditor of every account), the
// account itself for a token scoped to one.
func (l *Ledger) ListAccounts(scope string, p PageRequest) (Page[commands.Account], error) {
	limit, err := p.limit()
	if err != nil {
		return Page[commands.Account]{}, err
	}
	binding := "accounts\x00" + scope
	after, err := l.OpenCursor(binding, p.Cursor)
	if err != nil {
		return Page[commands.Account]{}, err
	}
	ids, more := []string{scope}, false
	if scope == "" {
		if ids, more, err = l.store.AccountsAfter(after, limit); err != nil {
			return Page[commands.Account]{}, err
		}
	} else if after != "" {
		ids = nil // a scoped list has one page; its cursor could only point past it
	}
	page := Page[commands.Account]{Items: make([]commands.Account, 0, len(ids))}
	for _, id := range ids {
		a, _, err := l.store.Account(id)
		if err != nil {
			return Page[commands.Account]{}, err
		}
		if a.Exists() {
			page.Items = append(page.Items, a)
		}
	}
	if more {
		page.NextCursor = l.SealCursor(binding, ids[len(ids)-1])
	}
	return page, nil
}
