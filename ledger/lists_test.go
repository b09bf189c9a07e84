package ledger_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/ledger"
)

// listFrom and listUntil are the term of the licences the list tests make.
var listFrom, listUntil = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC)

// createLicences creates licences of kind covering products in account
// through the Go API, from a few goroutines at once.
func createLicences(tl *testLedger, account, kind string, products []string, ids ...string) {
	tl.tb.Helper()
	seats := 0
	if kind == "commercial" {
		seats = 1
	}
	var g errgroup.Group
	g.SetLimit(16)
	for _, id := range ids {
		g.Go(func() error {
			_, err := tl.srv.Ledger().CreateLicense(context.Background(), ledger.Meta{}, commands.CreateLicense{Account: account,
				ID: id, Kind: kind, Products: products, Seats: seats, ValidFrom: listFrom, ValidUntil: listUntil})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		tl.tb.Fatalf("create licences: %v", err)
	}
}

// walkList follows a list from path (which may carry a query) to its last
// page and returns the field key of every item, in order, and the number
// of pages; after each page it calls between.
func walkList(tl *testLedger, path, key string, between func(), headers ...string) (ids []string, pages int) {
	tl.tb.Helper()
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	cursor := ""
	for {
		p := path
		if cursor != "" {
			p += sep + "cursor=" + url.QueryEscape(cursor)
		}
		r := tl.must(200, "GET", p, nil, headers...)
		pages++
		items, ok := r.Body["items"].([]any)
		if !ok {
			tl.tb.Fatalf("GET %s: no items: %s", p, r.Raw)
		}
		for _, it := range items {
			id, _ := it.(map[string]any)[key].(string)
			ids = append(ids, id)
		}
		if between != nil {
			between()
		}
		next, _ := r.Body["next_cursor"].(string)
		if r.Body["next_cursor"] != nil && next == "" {
			tl.tb.Fatalf("GET %s: next_cursor %v, want a string or null", p, r.Body["next_cursor"])
		}
		if next == "" {
			return ids, pages
		}
		cursor = next
	}
}

// item 10.4 (lists): a walk over 10,000 licences, 100 a page, returns each
// exactly once and in id order while assignments, unassignments and new
// licences are written between every two pages; a licence created during
// the walk is returned at most once.
func TestItem10ListTenThousandLicencesUnderWrites(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.must(201, "POST", "/v1/accounts", map[string]any{"id": "acme", "name": "Acme", "fulfillment_contact": "ops@acme.example"})
	const n, writers = 10000, 4
	for w := range writers {
		tl.must(201, "POST", "/v1/accounts/acme/users", map[string]any{"email": fmt.Sprintf("w%d@x.example", w), "entitlement_country": "DE"})
	}
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("L-%05d", i)
	}
	began := time.Now()
	createLicences(tl, "acme", "practitioner", []string{"microstation"}, ids...)
	t.Logf("created %d licences through the Go API in %s", n, time.Since(began).Round(time.Millisecond))

	ctx, stop := context.WithCancel(context.Background())
	wrote := make(chan struct{}, 1)
	signal := func() {
		select {
		case wrote <- struct{}{}:
		default:
		}
	}
	var ops atomic.Int64
	var created sync.Map
	var g errgroup.Group
	l := tl.srv.Ledger()
	for w := range writers {
		// Writer w assigns and unassigns licences of its own (i ≡ w mod 4)
		// to its own user, all over the key range.
		g.Go(func() error {
			email := fmt.Sprintf("w%d@x.example", w)
			for k := 0; ctx.Err() == nil; k++ {
				id := ids[(k*7919*writers+w)%n]
				if _, err := l.Assign(ctx, ledger.Meta{}, commands.Assign{Account: "acme", LicenseID: id, Email: email}); err != nil {
					return ignoreStop(ctx, err)
				}
				if _, err := l.Unassign(ctx, ledger.Meta{}, commands.Unassign{Account: "acme", LicenseID: id}); err != nil {
					return ignoreStop(ctx, err)
				}
				ops.Add(2)
				signal()
			}
			return nil
		})
	}
	g.Go(func() error { // new licences between the existing ones
		for k := 0; ctx.Err() == nil; k++ {
			id := fmt.Sprintf("L-%05d-new", (k*4001)%n)
			created.Store(id, true) // before: a create cut short by the end may still be stored
			if _, err := l.CreateLicense(ctx, ledger.Meta{}, commands.CreateLicense{Account: "acme", ID: id, Kind: "practitioner",
				Products: []string{"microstation"}, ValidFrom: listFrom, ValidUntil: listUntil}); err != nil {
				if commands.CodeOf(err) == commands.CodeLicenseExists {
					continue
				}
				return ignoreStop(ctx, err)
			}
			ops.Add(1)
			signal()
		}
		return nil
	})

	began = time.Now()
	got, pages := walkList(tl, "/v1/accounts/acme/licenses?limit=100", "id", func() {
		// Let at least one write land before the next page.
		select {
		case <-wrote:
		default:
			<-wrote
		}
	})
	walked := time.Since(began)
	stop()
	if err := g.Wait(); err != nil {
		t.Fatalf("writers: %v", err)
	}
	t.Logf("walked %d licences in %d pages in %s while %d writes ran", len(got), pages, walked.Round(time.Millisecond), ops.Load())

	seen := map[string]int{}
	for i, id := range got {
		seen[id]++
		if i > 0 && got[i-1] >= id {
			t.Errorf("item %d: %q after %q: not in key order", i, id, got[i-1])
		}
	}
	for _, id := range ids {
		if seen[id] != 1 {
			t.Errorf("licence %s returned %d times, want exactly once", id, seen[id])
		}
	}
	base := map[string]bool{}
	for _, id := range ids {
		base[id] = true
	}
	for id, times := range seen {
		if _, isNew := created.Load(id); times > 1 || !base[id] && !isNew {
			t.Errorf("licence %s returned %d times (created during the walk: %v)", id, times, isNew)
		}
	}
	if pages < n/100 || ops.Load() < int64(pages-1) {
		t.Errorf("%d pages, %d writes: the walk did not interleave with the writes", pages, ops.Load())
	}
}

// ignoreStop drops the error of a write cut short by the end of the test.
func ignoreStop(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// item 10.4: the kind, assigned and product filters, alone and together,
// over several pages; bad filter values name their parameter.
func TestItem10ListLicenceFilters(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup() // P1, practitioner, microstation
	createLicences(tl, "acme", "practitioner", []string{"microstation", "openroads"}, "P2", "P3", "P4")
	createLicences(tl, "acme", "commercial", []string{"microstation"}, "C1", "C2")
	createLicences(tl, "acme", "trial", []string{"openroads"}, "T1")
	for i, id := range []string{"P2", "P4"} {
		tl.must(200, "POST", "/v1/accounts/acme/licenses/"+id+"/assign", map[string]any{"email": []string{"a@x.example", "b@x.example"}[i]})
	}
	const list = "/v1/accounts/acme/licenses"
	for _, tc := range []struct{ query, want string }{
		{"", "C1 C2 P1 P2 P3 P4 T1"},
		{"kind=practitioner", "P1 P2 P3 P4"},
		{"kind=commercial", "C1 C2"},
		{"assigned=true", "P2 P4"},
		{"assigned=false", "C1 C2 P1 P3 T1"},
		{"kind=practitioner&assigned=false", "P1 P3"},
		{"product=openroads", "P2 P3 P4 T1"},
		{"product=openroads&assigned=false", "P3 T1"},
		{"product=revit", ""},
	} {
		for _, limit := range []string{"1", "2", "100"} {
			got, _ := walkList(tl, list+"?limit="+limit+"&"+tc.query, "id", nil)
			if strings.Join(got, " ") != tc.want {
				t.Errorf("?%s, limit %s: %v, want %s", tc.query, limit, got, tc.want)
			}
		}
	}
	for query, field := range map[string]string{"kind=floating": "kind", "assigned=yes": "assigned", "assigned=1": "assigned",
		"product=Not%20A%20Product": "product"} {
		if r := tl.do("GET", list+"?"+query, nil); r.Status != 400 || r.code() != commands.CodeInvalidArgument || r.details()["field"] != field {
			t.Errorf("?%s: %d %s, want 400 invalid_argument naming %s", query, r.Status, r.Raw, field)
		}
	}
	// A page's items are licences as GET .../licenses/{id} shows them.
	one := tl.must(200, "GET", list+"?assigned=true&limit=1", nil).Body["items"].([]any)[0].(map[string]any)
	if single := tl.must(200, "GET", list+"/P2", nil); fmt.Sprint(one) != fmt.Sprint(single.Body) {
		t.Errorf("listed %v, read alone %v", one, single.Body)
	}
}

// item 10.4: limit is 1 to 1000, 100 by default; anything else is 400
// invalid_argument naming limit.
func TestItem10ListLimitBounds(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	ids := make([]string, 149)
	for i := range ids {
		ids[i] = fmt.Sprintf("Q%03d", i)
	}
	createLicences(tl, "acme", "trial", []string{"openroads"}, ids...)
	const list = "/v1/accounts/acme/licenses"
	first := tl.must(200, "GET", list, nil)
	if items := first.Body["items"].([]any); len(items) != 100 || first.Body["next_cursor"] == nil {
		t.Fatalf("default page: %d items, next_cursor %v; want 100 and a cursor", len(items), first.Body["next_cursor"])
	}
	rest := tl.must(200, "GET", list+"?cursor="+url.QueryEscape(first.Body["next_cursor"].(string)), nil)
	if items := rest.Body["items"].([]any); len(items) != 50 || rest.Body["next_cursor"] != nil {
		t.Errorf("second page: %d items, next_cursor %v; want 50 and null", len(items), rest.Body["next_cursor"])
	}
	if r := tl.must(200, "GET", list+"?limit=1000", nil); len(r.Body["items"].([]any)) != 150 || r.Body["next_cursor"] != nil {
		t.Errorf("limit 1000: %d items, next_cursor %v; want all 150 and null", len(r.Body["items"].([]any)), r.Body["next_cursor"])
	}
	for _, limit := range []string{"0", "1001", "-1", "ten", "1e3", "99999999999999999999"} {
		for _, path := range []string{list, "/v1/accounts/acme/users", "/v1/accounts"} {
			r := tl.do("GET", path+"?limit="+limit, nil)
			if r.Status != 400 || r.code() != commands.CodeInvalidArgument || r.details()["field"] != "limit" {
				t.Errorf("GET %s?limit=%s: %d %s, want 400 invalid_argument naming limit", path, limit, r.Status, r.Raw)
			}
		}
	}
}
