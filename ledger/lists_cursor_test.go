package ledger_test

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
)

// firstCursor is the next_cursor of the first page of path.
func firstCursor(tl *testLedger, path string) string {
	tl.tb.Helper()
	r := tl.must(200, "GET", path, nil)
	c, _ := r.Body["next_cursor"].(string)
	if c == "" {
		tl.tb.Fatalf("GET %s: no next_cursor: %s", path, r.Raw)
	}
	return c
}

// wantInvalidCursor checks that GET path answers 400 invalid_cursor.
func wantInvalidCursor(tl *testLedger, what, path string, headers ...string) {
	tl.tb.Helper()
	r := tl.do("GET", path, nil, headers...)
	if r.Status != 400 || r.code() != commands.CodeInvalidCursor || r.details()["field"] != "cursor" {
		tl.tb.Errorf("%s: GET %s: %d %s, want 400 invalid_cursor", what, path, r.Status, r.Raw)
	}
}

// item 10.4: a cursor belongs to one list of one account under one filter
// and cannot be forged: used on another account, another filter or another
// list, altered, or made up, it is 400 invalid_cursor; with another limit
// it goes on.
func TestItem10ListCursorBoundAndUnforgeable(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	tl.must(201, "POST", "/v1/accounts", map[string]any{"id": "globex", "name": "Globex", "fulfillment_contact": "ops@globex.example"})
	createLicences(tl, "acme", "trial", []string{"openroads"}, "Q1", "Q2", "Q3", "Q4")
	createLicences(tl, "globex", "trial", []string{"openroads"}, "Q1", "Q2", "Q3", "Q4")
	const acme, globex = "/v1/accounts/acme/licenses", "/v1/accounts/globex/licenses"
	c := firstCursor(tl, acme+"?limit=2")
	esc := url.QueryEscape(c)

	wantInvalidCursor(tl, "account A's cursor on account B", globex+"?limit=2&cursor="+esc)
	wantInvalidCursor(tl, "another filter", acme+"?limit=2&kind=trial&cursor="+esc)
	wantInvalidCursor(tl, "another product filter", acme+"?limit=2&product=openroads&cursor="+esc)
	wantInvalidCursor(tl, "another list", "/v1/accounts/acme/users?cursor="+esc)
	wantInvalidCursor(tl, "the accounts list", "/v1/accounts?cursor="+esc)

	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		t.Fatalf("the cursor %q is not base64url: %v", c, err)
	}
	forged := func(change func([]byte) []byte) string {
		return url.QueryEscape(base64.RawURLEncoding.EncodeToString(change(slices.Clone(raw))))
	}
	for what, cur := range map[string]string{
		"a flipped tag byte":     forged(func(b []byte) []byte { b[5] ^= 1; return b }),
		"a moved position":       forged(func(b []byte) []byte { b[len(b)-1]++; return b }),
		"a truncated cursor":     forged(func(b []byte) []byte { return b[:20] }),
		"another version":        forged(func(b []byte) []byte { b[0]++; return b }),
		"a made-up position":     url.QueryEscape(base64.RawURLEncoding.EncodeToString([]byte("\x01" + strings.Repeat("x", 32) + "Q2"))),
		"not base64":             "%21%21%21",
		"padded base64":          url.QueryEscape(base64.URLEncoding.EncodeToString(raw) + "=="),
		"one character replaced": url.QueryEscape(c[:10] + string("AB"[boolIndex(c[10] == 'A')]) + c[11:]),
	} {
		wantInvalidCursor(tl, what, acme+"?limit=2&cursor="+cur)
	}
	// The same cursor with another page size goes on after Q1.
	got, _ := walkList(tl, acme+"?limit=3&cursor="+esc, "id", nil)
	if strings.Join(got, " ") != "Q2 Q3 Q4" {
		t.Errorf("after the first page of 2 (P1, Q1), pages of 3: %v, want Q2 Q3 Q4", got)
	}
	// A scoped token reaches only its account, cursor or not.
	aa := authToken(tl, events.RoleAccountAdmin, "acme")
	if r := tl.do("GET", globex+"?cursor="+esc, nil, "Authorization", "Bearer "+aa); r.Status != 404 || r.code() != commands.CodeAccountNotFound {
		t.Errorf("acme's admin on globex's list: %d %s, want 404 account_not_found", r.Status, r.Raw)
	}
	if r := tl.do("GET", acme+"?limit=2&cursor="+esc, nil, "Authorization", "Bearer "+aa); r.Status != 200 {
		t.Errorf("acme's admin going on with the admin's cursor of acme's list: %d %s", r.Status, r.Raw)
	}
}

func boolIndex(b bool) int {
	if b {
		return 1
	}
	return 0
}

// item 10.4: a cursor is sealed with a key derived from the signing key,
// not one of the process: another ledger process sharing the stream goes
// on from it.
func TestItem10ListCursorOpensOnAnotherProcess(t *testing.T) {
	a, b := startPair(t, newClock(T0))
	a.setup()
	createLicences(a, "acme", "trial", []string{"openroads"}, "Q1", "Q2", "Q3")
	c := url.QueryEscape(firstCursor(a, "/v1/accounts/acme/licenses?limit=2"))
	b.waitReady()
	onA, _ := walkList(a, "/v1/accounts/acme/licenses?limit=2&cursor="+c, "id", nil)
	onB, _ := walkList(b, "/v1/accounts/acme/licenses?limit=2&cursor="+c, "id", nil)
	if strings.Join(onA, " ") != "Q2 Q3" || strings.Join(onB, " ") != "Q2 Q3" {
		t.Errorf("after a's first page: on a %v, on b %v; want Q2 Q3 on both", onA, onB)
	}
}

// item 10.4: GET /v1/accounts lists every account for admin and an
// auditor of every account, page by page, and only its own account for a
// scoped token; ingest may not list.
func TestItem10ListAccountsByScope(t *testing.T) {
	tl := startLedger(t, "", nil)
	for _, id := range []string{"initech", "acme", "globex"} {
		tl.must(201, "POST", "/v1/accounts", map[string]any{"id": id, "name": strings.ToUpper(id[:1]) + id[1:],
			"fulfillment_contact": "ops@" + id + ".example"})
	}
	all := "acme globex initech"
	for who, tok := range map[string]string{"admin": tl.token, "auditor of every account": authToken(tl, events.RoleAuditor, "")} {
		for _, limit := range []string{"1", "2", "100"} {
			if got, pages := walkList(tl, "/v1/accounts?limit="+limit, "id", nil, "Authorization", "Bearer "+tok); strings.Join(got, " ") != all {
				t.Errorf("%s, limit %s: %v in %d pages, want %s", who, limit, got, pages, all)
			}
		}
	}
	for who, tok := range map[string]string{"globex's admin": authToken(tl, events.RoleAccountAdmin, "globex"),
		"globex's auditor": authToken(tl, events.RoleAuditor, "globex")} {
		got, pages := walkList(tl, "/v1/accounts?limit=1", "id", nil, "Authorization", "Bearer "+tok)
		if strings.Join(got, " ") != "globex" || pages != 1 {
			t.Errorf("%s: %v in %d pages, want globex alone in one page", who, got, pages)
		}
		// The admin's cursor is not one for this token's list.
		wantInvalidCursor(tl, who+" with the admin's cursor", "/v1/accounts?cursor="+url.QueryEscape(firstCursor(tl, "/v1/accounts?limit=1")),
			"Authorization", "Bearer "+tok)
	}
	r := tl.must(200, "GET", "/v1/accounts?limit=1", nil)
	if item := r.Body["items"].([]any)[0].(map[string]any); item["name"] != "Acme" || item["admins"].([]any)[0] != "ops@acme.example" {
		t.Errorf("an account as listed: %v", item)
	}
	if r := tl.do("GET", "/v1/accounts", nil, "Authorization", "Bearer "+authToken(tl, events.RoleIngest, "acme")); r.Status != 403 {
		t.Errorf("ingest listing accounts: %d %s, want 403", r.Status, r.Raw)
	}
}

// item 10.4: GET .../users lists the registered users page by page, each
// as GET .../users/{email} shows them (live session included); a removed
// user is not listed.
func TestItem10ListUsers(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup() // a, b, c
	tl.must(201, "POST", "/v1/accounts/acme/users", map[string]any{"email": "d.d@x.example"})
	tl.must(204, "DELETE", "/v1/accounts/acme/users/b@x.example", nil)
	tl.must(201, "POST", "/v1/accounts/acme/sessions", map[string]any{"email": "c@x.example", "machine_id": "m1",
		"client_version": "10.00.18", "client_time": e2eTS(T0)})
	const list = "/v1/accounts/acme/users"
	for _, limit := range []string{"1", "2", "100"} {
		if got, _ := walkList(tl, list+"?limit="+limit, "email", nil); strings.Join(got, " ") != "a@x.example c@x.example d.d@x.example" {
			t.Errorf("limit %s: %v, want a, c, d.d", limit, got)
		}
	}
	items := tl.must(200, "GET", list, nil).Body["items"].([]any)
	for _, it := range items {
		u := it.(map[string]any)
		single := tl.must(200, "GET", list+"/"+u["email"].(string), nil)
		if fmt.Sprint(u) != fmt.Sprint(single.Body) {
			t.Errorf("listed %v, read alone %v", u, single.Body)
		}
	}
	if s, _ := items[1].(map[string]any)["session"].(map[string]any); s["machine_id"] != "m1" {
		t.Errorf("c's session as listed: %v, want the live one on m1", items[1])
	}
}
