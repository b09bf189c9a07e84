package console_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/entledger/ledger/api"
	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/console"
	"github.com/entledger/ledger/ledger"
)

// The pages of an account, below /accounts/{account}.
var accountPages = []string{"", "/licenses", "/licenses/P-1", "/licenses/P-1?as_of=2026-01-05T10:00", "/users",
	"/users/ada@ACCOUNT.example", "/billing", "/billing?quarter=2025-Q4&from=2025-10-01&to=2025-12-31", "/audit"}

// A form without the session's CSRF token, or with another one, is refused
// 403 and changes nothing; the same form with it is done.
func TestFormWithoutCSRFTokenIsRefused(t *testing.T) {
	tl := startLedger(t)
	tl.seed("acme")
	b := tl.browser()
	b.signIn(tl.token)
	good := b.csrfOf(b.get("/accounts/acme/users"))
	forms := []struct {
		path string
		form url.Values
	}{
		{"/accounts/acme/users", url.Values{"email": {"eve@acme.example"}, "entitlement_country": {"DE"}}},
		{"/accounts/acme/licenses/P-1/assign", url.Values{"email": {"ada@acme.example"}}},
		{"/accounts/acme/users/bob@acme.example/remove", url.Values{}},
		{"/accounts/acme/users/bob@acme.example/country", url.Values{"entitlement_country": {"US"}}},
		{"/accounts/acme/thresholds", url.Values{"product": {"openroads"}, "max_machines": {"3"}}},
		{"/sign-out", url.Values{}},
	}
	almost := good[:len(good)-1] + "A" // the session's token with its last character changed
	if almost == good {
		almost = good[:len(good)-1] + "B"
	}
	for _, f := range forms {
		for _, csrf := range []string{"", "wrong", almost} {
			form := url.Values{}
			for k, v := range f.form {
				form[k] = v
			}
			if csrf != "" {
				form.Set("csrf", csrf)
			}
			if p := b.post(f.path, form); p.Status != http.StatusForbidden {
				t.Errorf("POST %s with csrf %q: %d; want 403", f.path, csrf, p.Status)
			}
		}
	}
	// Nothing was written: the API shows the account as seeded.
	tl.api(tl.token, "GET", "/v1/accounts/acme/users/eve@acme.example", nil, 404)
	if lic := tl.api(tl.token, "GET", "/v1/accounts/acme/licenses/P-1", nil, 200); lic["assignee"] != nil {
		t.Errorf("P-1 assigned to %v by a refused form", lic["assignee"])
	}
	if u := tl.api(tl.token, "GET", "/v1/accounts/acme/users/bob@acme.example", nil, 200); u["entitlement_country"] != "FR" {
		t.Errorf("bob's country %v after a refused form; want FR", u["entitlement_country"])
	}
	if th := tl.api(tl.token, "GET", "/v1/accounts/acme/thresholds", nil, 200); len(th["thresholds"].([]any)) != 0 {
		t.Errorf("thresholds %v after a refused form", th["thresholds"])
	}
	if p := b.get("/accounts/acme"); p.Status != http.StatusOK {
		t.Errorf("after a refused sign-out form: %d; want the session to last", p.Status)
	}
	// A form from another site with the right token is refused too.
	req, _ := http.NewRequest("POST", tl.base+"/accounts/acme/users", strings.NewReader(url.Values{"csrf": {good},
		"email": {"eve@acme.example"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if p := b.do(req); p.Status != http.StatusForbidden {
		t.Errorf("cross-site POST: %d; want 403", p.Status)
	}
	// With the token the form is done.
	if p := b.post("/accounts/acme/users", url.Values{"csrf": {good}, "email": {"eve@acme.example"}, "entitlement_country": {"DE"}}); p.Status != http.StatusSeeOther {
		t.Fatalf("POST with the CSRF token: %d %s", p.Status, p.Body)
	}
	tl.api(tl.token, "GET", "/v1/accounts/acme/users/eve@acme.example", nil, 200)
	// The sign-in form needs its own token too.
	other := tl.browser()
	if p := other.post("/sign-in", url.Values{"token": {tl.token}}); p.Status != http.StatusForbidden {
		t.Errorf("sign-in without its CSRF token: %d; want 403", p.Status)
	}
}

// The session cookie is HttpOnly, SameSite=Strict and Path=/, Secure (and
// __Host-) over TLS; the pages carry the security headers.
func TestCookieAndHeaders(t *testing.T) {
	tl := startLedger(t)
	tl.seed("acme")
	b := tl.browser()
	p := b.signIn(tl.token)
	cookie := sessionCookie(t, p.Header, "ledger_session")
	if !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/" || cookie.Secure {
		t.Errorf("session cookie over plain HTTP: %+v; want HttpOnly, SameSite=Strict, Path=/, not Secure", cookie)
	}
	if len(cookie.Value) < 43 {
		t.Errorf("session id %d characters; want 256 bits", len(cookie.Value))
	}
	page := b.get("/accounts/acme")
	for h, want := range map[string]string{"X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
		"Content-Type": "text/html; charset=utf-8"} {
		if got := page.Header.Get(h); got != want {
			t.Errorf("%s: %q; want %q", h, got, want)
		}
	}
	if csp := page.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("Content-Security-Policy %q; want default-src 'self' and no inline script", csp)
	}
	if hsts := page.Header.Get("Strict-Transport-Security"); hsts != "" {
		t.Errorf("Strict-Transport-Security %q over plain HTTP; want none", hsts)
	}
	if strings.Contains(page.Body, "<script>") || strings.Contains(page.Body, " style=") {
		t.Error("a page has inline script or style")
	}
	// Sign-out ends the session: its cookie no longer opens a page.
	if p := b.post("/sign-out", url.Values{"csrf": {b.csrfOf(page)}}); p.Status != http.StatusSeeOther {
		t.Fatalf("sign out: %d", p.Status)
	}
	stale := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest("GET", tl.base+"/accounts/acme", nil)
	req.AddCookie(cookie)
	if resp, err := stale.Do(req); err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Errorf("the signed-out session's cookie: %v %v; want a redirect to sign in", resp, err)
	}

	// Over TLS: the same console on the same ledger.
	con := console.New(api.New(tl.srv.Ledger(), api.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}), console.Options{})
	ts := httptest.NewTLSServer(con)
	defer ts.Close()
	client := ts.Client()
	client.Jar, _ = cookiejar.New(nil)
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Get(ts.URL + "/sign-in")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if hsts := resp.Header.Get("Strict-Transport-Security"); hsts != "max-age=31536000" {
		t.Errorf("Strict-Transport-Security over TLS: %q; want max-age=31536000", hsts)
	}
	csrf := csrfRE.FindStringSubmatch(string(raw))
	if csrf == nil {
		t.Fatalf("no CSRF field on the TLS sign-in page")
	}
	resp, err = client.PostForm(ts.URL+"/sign-in", url.Values{"csrf": {csrf[1]}, "token": {tl.token}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cookie = sessionCookie(t, resp.Header, "__Host-ledger_session")
	if !cookie.Secure || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/" {
		t.Errorf("session cookie over TLS: %+v; want Secure, HttpOnly, SameSite=Strict, Path=/", cookie)
	}
}

func sessionCookie(t *testing.T, h http.Header, name string) *http.Cookie {
	t.Helper()
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == name && c.Value != "" {
			return c
		}
	}
	t.Fatalf("no %s cookie in %v", name, h["Set-Cookie"])
	return nil
}

// A scoped token sees its own account only: the picker lists it alone, and
// every page and form of another account answers 404 with the very page an
// account that does not exist gets; an auditor's form is refused in words.
func TestScopedTokenSeesOnlyItsAccount(t *testing.T) {
	tl := startLedger(t)
	tl.seed("acme")
	tl.seed("globex")
	for _, role := range []string{"account_admin", "auditor"} {
		b := tl.browser()
		if p := b.signIn(tl.tokenFor(role, "acme")); p.Location != "/accounts/acme" {
			t.Errorf("%s: signed in to %q; want straight to /accounts/acme", role, p.Location)
		}
		if p := b.get("/accounts"); p.Status != 200 || strings.Contains(p.Body, "globex") || !strings.Contains(p.Body, "/accounts/acme") {
			t.Errorf("%s: the account picker: %d, lists globex or not acme", role, p.Status)
		}
		for _, suffix := range accountPages {
			if p := b.get("/accounts/acme" + strings.ReplaceAll(suffix, "ACCOUNT", "acme")); p.Status != http.StatusOK {
				t.Errorf("%s: /accounts/acme%s: %d; want 200", role, suffix, p.Status)
			}
			other := b.get("/accounts/globex" + strings.ReplaceAll(suffix, "ACCOUNT", "globex"))
			unknown := b.get("/accounts/nosuch" + strings.ReplaceAll(suffix, "ACCOUNT", "nosuch"))
			if other.Status != http.StatusNotFound || other.Body != unknown.Body {
				t.Errorf("%s: /accounts/globex%s: %d, the same page as an unknown account: %v; want 404 and the same",
					role, suffix, other.Status, other.Body == unknown.Body)
			}
			if strings.Contains(other.Body, "Globex") || strings.Contains(other.Body, "globex") {
				t.Errorf("%s: /accounts/globex%s names globex", role, suffix)
			}
		}
		csrf := b.csrfOf(b.get("/accounts/acme"))
		for _, f := range []string{"/users", "/licenses/P-1/assign", "/users/ada@globex.example/remove", "/thresholds"} {
			form := url.Values{"csrf": {csrf}, "email": {"ada@globex.example"}, "product": {"x"}, "max_machines": {"1"}}
			other, unknown := b.post("/accounts/globex"+f, form), b.post("/accounts/nosuch"+f, form)
			if other.Status != http.StatusNotFound || other.Body != unknown.Body {
				t.Errorf("%s: POST /accounts/globex%s: %d (same as unknown: %v); want 404, the same page", role, f, other.Status,
					other.Body == unknown.Body)
			}
		}
		tl.api(tl.token, "GET", "/v1/accounts/globex/users/ada@globex.example", nil, 200)
		if lic := tl.api(tl.token, "GET", "/v1/accounts/globex/licenses/P-1", nil, 200); lic["assignee"] != nil {
			t.Errorf("%s assigned globex's P-1", role)
		}
		if role == "auditor" {
			p := b.post("/accounts/acme/licenses/P-1/assign", url.Values{"csrf": {csrf}, "email": {"ada@acme.example"}})
			if p.Status != http.StatusForbidden || !strings.Contains(p.Body, "role (auditor) may not") {
				t.Errorf("auditor's assignment: %d; want 403 saying the role may not", p.Status)
			}
		}
	}
	// An ingest token cannot sign in: it may not read.
	b := tl.browser()
	form := b.get("/sign-in")
	tok := tl.tokenFor("ingest", "acme")
	b.secrets = append(b.secrets, tok)
	if p := b.post("/sign-in", url.Values{"csrf": {b.csrfOf(form)}, "token": {tok}}); p.Status != http.StatusForbidden ||
		!strings.Contains(p.Body, "ingest token") {
		t.Errorf("ingest token's sign-in: %d; want 403 in words", p.Status)
	}
}

// A token revoked while its session lives ends the session at the next
// page: the browser is sent to sign in.
func TestRevokedTokenEndsTheSession(t *testing.T) {
	tl := startLedger(t)
	tl.seed("acme")
	tok := tl.tokenFor("account_admin", "acme")
	b := tl.browser()
	b.signIn(tok)
	if p := b.get("/accounts/acme/licenses"); p.Status != http.StatusOK {
		t.Fatalf("licences: %d", p.Status)
	}
	id := strings.Split(strings.TrimPrefix(tok, "ledger_"), "_")[0]
	tl.api(tl.token, "DELETE", "/v1/tokens/"+id, nil, 200)
	if p := b.get("/accounts/acme/licenses"); p.Status != http.StatusSeeOther || p.Location != "/sign-in?ended=1" {
		t.Fatalf("after the revocation: %d to %q; want a redirect to sign in", p.Status, p.Location)
	}
	if p := b.get("/accounts/acme"); p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location, "/sign-in") {
		t.Errorf("the ended session: %d to %q; want sign in", p.Status, p.Location)
	}
	if p := b.get("/sign-in?ended=1"); !strings.Contains(p.Body, "Your session has ended") {
		t.Error("the sign-in page does not say the session ended")
	}
}

// The forms show the API's refusals in words, with the API's status:
// license_locked with its date.
func TestRefusalsInWords(t *testing.T) {
	tl := startLedger(t)
	tl.seed("acme")
	b := tl.browser()
	b.signIn(tl.token)
	csrf := b.csrfOf(b.get("/accounts/acme"))
	p := b.post("/accounts/acme/licenses/P-1/assign", url.Values{"csrf": {csrf}, "email": {"nobody@acme.example"}})
	if p.Status != http.StatusNotFound || !strings.Contains(p.Body, "nobody@acme.example is not a user of this account") {
		t.Errorf("assign to a stranger: %d; want 404 in words", p.Status)
	}
	if p := b.post("/accounts/acme/licenses/P-1/assign", url.Values{"csrf": {csrf}, "email": {"ada@acme.example"}}); p.Status != http.StatusSeeOther {
		t.Fatalf("assign: %d %s", p.Status, p.Body)
	}
	if p := b.get("/accounts/acme/licenses/P-1"); !strings.Contains(p.Body, "now assigned to ada@acme.example") ||
		!strings.Contains(p.Body, "Window open") {
		t.Errorf("after the assignment the licence page shows no note or no open window")
	}
	tl.clock.Advance(25 * time.Hour)
	p = b.post("/accounts/acme/licenses/P-1/reassign", url.Values{"csrf": {csrf}, "email": {"bob@acme.example"}})
	want := "This licence is locked until 2026-02-05 09:00 UTC (30 days after its 24-hour assignment window closed at 2026-01-06 09:00 UTC)"
	if p.Status != http.StatusConflict || !strings.Contains(p.Body, want) {
		t.Errorf("reassign after the window: %d; want 409 with %q in\n%s", p.Status, want, p.Body)
	}
	if !strings.Contains(p.Body, `value="bob@acme.example"`) {
		t.Error("the refused form lost the email entered")
	}
	if p := b.post("/accounts/acme/licenses/P-1/unassign", url.Values{"csrf": {csrf}}); p.Status != http.StatusConflict || !strings.Contains(p.Body, want) {
		t.Errorf("unassign after the window: %d; want 409 with the lock's date", p.Status)
	}
	tl.clock.Advance(30 * 24 * time.Hour)
	if p := b.post("/accounts/acme/licenses/P-1/unassign", url.Values{"csrf": {csrf}}); p.Status != http.StatusSeeOther {
		t.Errorf("unassign after the lock: %d %s", p.Status, p.Body)
	}
	if lic := tl.api(tl.token, "GET", "/v1/accounts/acme/licenses/P-1", nil, 200); lic["assignee"] != nil {
		t.Errorf("P-1 still assigned to %v after the console's unassign", lic["assignee"])
	}
	p = b.post("/accounts/acme/users", url.Values{"csrf": {csrf}, "email": {"not an email"}})
	if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "email:") {
		t.Errorf("add a user with a bad email: %d; want 400 naming the field", p.Status)
	}
}

var licenceRowRE = regexp.MustCompile(`<th scope="row"><a href="/accounts/big/licenses/(L-\d+)">`)
var nextPageRE = regexp.MustCompile(`<a href="([^"]+)" rel="next" id="next-page">`)

// An account of 10,000 licences: every page answers without a 5xx, the
// first page shows a bounded number of reminders, and the licences page
// walks all of them with the API's cursor.
func TestTenThousandLicences(t *testing.T) {
	tl := startLedger(t)
	tl.api(tl.token, "POST", "/v1/accounts", map[string]any{"id": "big", "name": "Big", "fulfillment_contact": "it@big.example"}, 201)
	tl.api(tl.token, "POST", "/v1/accounts/big/users", map[string]any{"email": "ada@big.example", "entitlement_country": "DE"}, 201)
	const n = 10_000
	began := time.Now()
	var g errgroup.Group
	g.SetLimit(16)
	l := tl.srv.Ledger()
	for i := range n {
		g.Go(func() error {
			_, err := l.CreateLicense(context.Background(), ledger.Meta{}, commands.CreateLicense{Account: "big",
				ID: fmt.Sprintf("L-%05d", i), Kind: "practitioner", Products: []string{"microstation"},
				ValidFrom: t0.AddDate(0, 0, -1), ValidUntil: t0.AddDate(1, 0, 0)})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	t.Logf("created %d licences through the Go API in %s", n, time.Since(began).Round(time.Millisecond))
	b := tl.browser()
	b.signIn(tl.token)
	for _, suffix := range append(accountPages, "/licenses/L-00042", "/licenses?kind=practitioner&assigned=false&limit=1000",
		"/licenses?kind=bogus", "/licenses?cursor=garbage", "/licenses?assignee=ada@big.example", "/users?limit=1000") {
		path := "/accounts/big" + strings.ReplaceAll(strings.ReplaceAll(suffix, "ACCOUNT", "big"), "P-1", "L-00001")
		began := time.Now()
		p := b.get(path)
		if p.Status >= 500 || (p.Status >= 300 && p.Status < 400 && !strings.Contains(suffix, "assignee")) {
			t.Errorf("GET %s: %d", path, p.Status)
		}
		t.Logf("GET %s: %d in %s", path, p.Status, time.Since(began).Round(time.Millisecond))
	}
	home := b.get("/accounts/big")
	if got := strings.Count(home.Body, `<tr data-license="`); got != 25 || !strings.Contains(home.Body, "See all 10000 unassigned") {
		t.Errorf("the first page lists %d reminders; want 25 and a link to all 10000", got)
	}
	p := b.get("/accounts/big/licenses")
	if got := len(licenceRowRE.FindAllString(p.Body, -1)); got != 100 {
		t.Errorf("the licences' first page has %d rows; want 100", got)
	}
	seen := map[string]bool{}
	pages := 0
	for next := "/accounts/big/licenses?limit=1000"; next != ""; pages++ {
		p := b.get(next)
		if p.Status != http.StatusOK {
			t.Fatalf("GET %s: %d", next, p.Status)
		}
		for _, m := range licenceRowRE.FindAllStringSubmatch(p.Body, -1) {
			if seen[m[1]] {
				t.Fatalf("%s shown twice", m[1])
			}
			seen[m[1]] = true
		}
		next = ""
		if m := nextPageRE.FindStringSubmatch(p.Body); m != nil {
			next = strings.ReplaceAll(m[1], "&amp;", "&")
		}
		if pages > 20 {
			t.Fatal("more than 20 pages of 1000")
		}
	}
	if len(seen) != n {
		t.Errorf("the walk showed %d licences in %d pages; want %d", len(seen), pages, n)
	}
	// A form on the big account answers in words, not with a 5xx.
	csrf := b.csrfOf(home)
	if p := b.post("/accounts/big/licenses/L-09999/assign", url.Values{"csrf": {csrf}, "email": {"ada@big.example"}}); p.Status != http.StatusSeeOther {
		t.Errorf("assign L-09999: %d", p.Status)
	}
	if p := b.post("/accounts/big/licenses/L-00000/assign", url.Values{"csrf": {csrf}, "email": {"ada@big.example"}}); p.Status != http.StatusConflict {
		t.Errorf("a second licence for ada: %d; want 409", p.Status)
	}
}

// Owns gives the console its paths and leaves the API's alone.
func TestOwns(t *testing.T) {
	for path, want := range map[string]bool{"/": true, "/accounts": true, "/accounts/acme/licenses": true, "/assets/console.css": true,
		"/sign-in": true, "/sign-out": true, "/v1/accounts": false, "/healthz": false, "/readyz": false, "/metrics": false,
		"//v1/accounts": false, "/favicon.ico": false, "/accountsx": false} {
		if got := console.Owns(path); got != want {
			t.Errorf("Owns(%q) = %v; want %v", path, got, want)
		}
	}
}

// Removing a user warns that the licence's lock keeps running (A4), and
// then: the licence's reminder gives the lock's end as when it can be
// assigned, and the removed user's page still shows their history.
func TestRemoveUser(t *testing.T) {
	tl := startLedger(t)
	tl.seed("acme")
	tl.api(tl.token, "POST", "/v1/accounts/acme/licenses/P-1/assign", map[string]any{"email": "ada@acme.example"}, 200)
	b := tl.browser()
	b.signIn(tl.token)
	p := b.get("/accounts/acme/users/ada@acme.example")
	if !strings.Contains(p.Body, "Its lock keeps running: nobody else can be assigned P-1 before 2026-02-05 09:00 UTC") {
		t.Errorf("ada's page does not warn of the lock:\n%s", p.Body)
	}
	p = b.post("/accounts/acme/users/ada@acme.example/remove", url.Values{"csrf": {b.csrfOf(p)}})
	if p.Status != http.StatusSeeOther || p.Location != "/accounts/acme/users" {
		t.Fatalf("remove: %d to %q", p.Status, p.Location)
	}
	if p := b.get("/accounts/acme/users"); !strings.Contains(p.Body, "Licence P-1 was taken away, and its lock keeps running (A4)") {
		t.Error("the users page does not say what the removal did")
	}
	if p := b.get("/accounts/acme"); !strings.Contains(p.Body, "from 2026-02-05 09:00 UTC (locked; opens in") {
		t.Errorf("P-1's reminder does not say it can be assigned from the lock's end")
	}
	p = b.get("/accounts/acme/users/ada@acme.example")
	if p.Status != http.StatusOK || !strings.Contains(p.Body, "not a user of this account now") || !strings.Contains(p.Body, "user.removed") {
		t.Errorf("the removed user's page: %d, without the notice or the history", p.Status)
	}
	if p := b.get("/accounts/acme/users/nobody@acme.example"); p.Status != http.StatusNotFound {
		t.Errorf("an email that never was a user: %d; want 404", p.Status)
	}
}

// The sign-in form's CSRF token is one browser's: its field with another
// browser's cookie is refused, and nobody is signed in.
func TestSignInCSRFOfAnotherBrowser(t *testing.T) {
	tl := startLedger(t)
	tl.seed("acme")
	victim, attacker := tl.browser(), tl.browser()
	victim.get("/sign-in") // the victim's sign-in cookie
	field := attacker.csrfOf(attacker.get("/sign-in"))
	p := victim.post("/sign-in", url.Values{"csrf": {field}, "token": {tl.token}})
	if p.Status != http.StatusForbidden || victim.sessionID() != "" {
		t.Errorf("sign-in with another browser's form field: %d, session %q; want 403 and none", p.Status, victim.sessionID())
	}
	if victim.signedIn() {
		t.Error("the refused sign-in opens pages")
	}
}

// After a sign-in the browser goes to next= only when it is a path of the
// console; anything else lands on a local page.
func TestSignInNextStaysLocal(t *testing.T) {
	tl := startLedger(t)
	tl.seed("acme")
	for next, want := range map[string]string{
		"//evil.example":         "/accounts/acme",
		"/\\evil.example":        "/accounts/acme",
		"https://evil.example":   "/accounts/acme",
		"/accounts/../x":         "/accounts/acme",
		"/accounts/%2e%2e/x":     "/accounts/acme",
		"/%2Fevil.example":       "/accounts/acme",
		"http:/evil.example":     "/accounts/acme",
		"/accounts/acme/users":   "/accounts/acme/users",
		"/accounts/acme?x=1#top": "/accounts/acme?x=1",
	} {
		b := tl.browser()
		form := b.get("/sign-in?next=" + url.QueryEscape(next))
		p := b.post("/sign-in", url.Values{"csrf": {b.csrfOf(form)}, "token": {tl.token}, "next": {next}})
		if p.Status != http.StatusSeeOther || p.Location != want {
			t.Errorf("next=%q: %d to %q; want %q", next, p.Status, p.Location, want)
		}
		u, err := url.Parse(p.Location)
		if err != nil || u.Host != "" || u.Scheme != "" || !strings.HasPrefix(u.Path, "/") || strings.HasPrefix(p.Location, "//") ||
			strings.HasPrefix(p.Location, "/\\") {
			t.Errorf("next=%q: sent to %q, which is not a local path", next, p.Location)
		}
		// Signed in, the sign-in page sends the browser on the same way.
		if p := b.get("/sign-in?next=" + url.QueryEscape(next)); p.Location != strings.Replace(want, "/accounts/acme", "/", 1) &&
			p.Location != want {
			t.Errorf("signed in, /sign-in?next=%q: to %q; want a local path", next, p.Location)
		}
	}
}

// The ledger's and the console's logs, every level, through sign-ins (a
// good one, a wrong secret, a revoked token), pages and forms, never
// carry a token or its secret.
func TestLogsNeverShowTheToken(t *testing.T) {
	logs := &lockedBuffer{}
	tl := startLedgerLogging(t, logs)
	tl.seed("acme")
	scoped := tl.tokenFor("account_admin", "acme")
	id, secret, _ := strings.Cut(strings.TrimPrefix(scoped, "ledger_"), "_")
	wrong := "ledger_" + id + "_" + strings.Repeat("x", len(secret))
	b := tl.browser()
	form := b.get("/sign-in")
	b.secrets = append(b.secrets, wrong)
	if p := b.post("/sign-in", url.Values{"csrf": {b.csrfOf(form)}, "token": {wrong}}); p.Status != http.StatusUnauthorized {
		t.Errorf("a wrong secret's sign-in: %d; want 401", p.Status)
	}
	b.signIn(scoped)
	for _, path := range []string{"/accounts/acme", "/accounts/acme/licenses", "/accounts/acme/licenses/P-1",
		"/accounts/acme/users/ada@acme.example", "/accounts/acme/billing", "/accounts/acme/audit", "/accounts/globex"} {
		b.get(path)
	}
	csrf := b.csrfOf(b.get("/accounts/acme"))
	b.post("/accounts/acme/licenses/P-1/assign", url.Values{"csrf": {csrf}, "email": {"nobody@acme.example"}})
	b.post("/accounts/acme/licenses/P-1/assign", url.Values{"csrf": {csrf}, "email": {"ada@acme.example"}})
	admin := tl.browser()
	admin.signIn(tl.token)
	admin.get("/")
	tl.api(tl.token, "DELETE", "/v1/tokens/"+id, nil, 200)
	if p := b.get("/accounts/acme"); p.Status != http.StatusSeeOther {
		t.Errorf("after the revocation: %d; want sign in", p.Status)
	}
	got := logs.String()
	if got == "" {
		t.Fatal("nothing was logged: the test reads no log")
	}
	for _, tok := range []string{tl.token, scoped, wrong} {
		_, sec, _ := strings.Cut(strings.TrimPrefix(tok, "ledger_"), "_")
		if strings.Contains(got, tok) || strings.Contains(got, sec) {
			t.Errorf("the logs show a token or its secret:\n%s", got)
		}
	}
}
