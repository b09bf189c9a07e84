package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/entledger/ledger/api"
	"github.com/entledger/ledger/console"
	"github.com/entledger/ledger/server"
)

// clock is the ledger's settable clock: no test waits for time to pass.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// t0 is the start of every test's clock.
var t0 = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

// testLedger is a real ledger (embedded JetStream, Pebble, the API and the
// console) on a temporary directory, with a settable clock.
type testLedger struct {
	tb    testing.TB
	srv   *server.Server
	clock *clock
	base  string
	token string // the admin token
}

func startLedger(tb testing.TB) *testLedger {
	tb.Helper()
	return startLedgerLogging(tb, io.Discard)
}

// startLedgerLogging is startLedger with the ledger's and the console's
// logs, every level, written to logs.
func startLedgerLogging(tb testing.TB, logs io.Writer) *testLedger {
	tb.Helper()
	c := &clock{t: t0}
	dir := tb.TempDir()
	srv, err := server.Start(context.Background(), server.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", NoReminders: true,
		SyncInterval: time.Minute, UsageHorizon: 120 * 24 * time.Hour, Now: c.Now,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		tb.Fatalf("start ledger: %v", err)
	}
	raw, err := os.ReadFile(server.AdminTokenFile(dir))
	if err != nil {
		tb.Fatal(err)
	}
	tl := &testLedger{tb: tb, srv: srv, clock: c, base: "http://" + srv.Addr(), token: strings.TrimSpace(string(raw))}
	tb.Cleanup(func() {
		http.DefaultClient.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Close(ctx)
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := http.Get(tl.base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return tl
			}
		}
		if time.Now().After(deadline) {
			tb.Fatal("ledger not ready after 30 s")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		srv.Store().WaitFor(ctx, srv.Store().Checkpoint()+1)
		cancel()
	}
}

// api sends a request to the API with token and wants status; it returns
// the decoded answer (nil for none).
func (tl *testLedger) api(token, method, path string, body any, status int) map[string]any {
	tl.tb.Helper()
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, tl.base+path, rd)
	if err != nil {
		tl.tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tl.tb.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		tl.tb.Fatalf("%s %s: %d %s; want %d", method, path, resp.StatusCode, raw, status)
	}
	var out map[string]any
	json.Unmarshal(raw, &out)
	return out
}

// seed makes account acme with two users (one without a country), two
// practitioner licences and a commercial one.
func (tl *testLedger) seed(account string) {
	tl.tb.Helper()
	tl.api(tl.token, "POST", "/v1/accounts", map[string]any{"id": account, "name": strings.ToUpper(account[:1]) + account[1:] + " Engineering",
		"fulfillment_contact": "it@" + account + ".example"}, 201)
	for _, u := range []map[string]any{{"email": "ada@" + account + ".example", "entitlement_country": "DE"},
		{"email": "bob@" + account + ".example", "entitlement_country": "FR"}} {
		tl.api(tl.token, "POST", "/v1/accounts/"+account+"/users", u, 201)
	}
	for _, id := range []string{"P-1", "P-2"} {
		tl.api(tl.token, "POST", "/v1/accounts/"+account+"/licenses", map[string]any{"id": id, "kind": "practitioner",
			"products": []string{"microstation"}, "valid_from": "2026-01-01T00:00:00Z", "valid_until": "2027-01-01T00:00:00Z"}, 201)
	}
	tl.api(tl.token, "POST", "/v1/accounts/"+account+"/licenses", map[string]any{"id": "C-1", "kind": "commercial", "seats": 2,
		"products": []string{"openroads"}, "valid_from": "2025-01-01T00:00:00Z", "valid_until": "2027-01-01T00:00:00Z"}, 201)
}

// tokenFor makes a token of role for account.
func (tl *testLedger) tokenFor(role, account string) string {
	tl.tb.Helper()
	body := map[string]any{"name": role + " of " + account, "role": role}
	if account != "" {
		body["account"] = account
	}
	tok, _ := tl.api(tl.token, "POST", "/v1/tokens", body, 201)["token"].(string)
	if tok == "" {
		tl.tb.Fatal("POST /v1/tokens answered no token")
	}
	return tok
}

// browser is a person at the console without a browser: an HTTP client
// with a cookie jar that does not follow redirects. Every page it reads is
// checked for the tokens it knows: no page may show one.
type browser struct {
	tb      testing.TB
	tl      *testLedger
	base    string // the console's address: the ledger's, or a console of its own (serveConsole)
	client  *http.Client
	secrets []string
}

// page is one answer of the console.
type page struct {
	Status   int
	Body     string
	Location string
	Header   http.Header
}

func (tl *testLedger) browser() *browser { return tl.browserAt(tl.base) }

// browserAt is a browser of the console at base.
func (tl *testLedger) browserAt(base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{tb: tl.tb, tl: tl, base: base, secrets: []string{tl.token}, client: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// serveConsole serves a console of tl's ledger made with o (its own
// in-process API) on a test server of its own, and returns its address.
func (tl *testLedger) serveConsole(o console.Options) string {
	tl.tb.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if o.Logger == nil {
		o.Logger = quiet
	}
	ts := httptest.NewServer(console.New(api.New(tl.srv.Ledger(), api.Options{Logger: quiet}), o))
	tl.tb.Cleanup(ts.Close)
	return ts.URL
}

// do sends a request; an answer of 500 or above fails the test.
func (b *browser) do(req *http.Request) page {
	b.tb.Helper()
	p := b.doAny(req)
	if p.Status >= 500 {
		b.tb.Fatalf("%s %s: %d: %s", req.Method, req.URL, p.Status, p.Body)
	}
	return p
}

// doAny sends a request, whatever its answer's status; no answer may show
// a token.
func (b *browser) doAny(req *http.Request) page {
	b.tb.Helper()
	resp, err := b.client.Do(req)
	if err != nil {
		b.tb.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	p := page{Status: resp.StatusCode, Body: string(raw), Location: resp.Header.Get("Location"), Header: resp.Header}
	for _, s := range b.secrets {
		if strings.Contains(p.Body, s) || strings.Contains(p.Location, s) {
			b.tb.Fatalf("%s %s shows a token", req.Method, req.URL)
		}
		if _, secret, ok := strings.Cut(strings.TrimPrefix(s, "ledger_"), "_"); ok && strings.Contains(p.Body, secret) {
			b.tb.Fatalf("%s %s shows a token's secret", req.Method, req.URL)
		}
	}
	return p
}

// get reads a console page.
func (b *browser) get(path string) page {
	b.tb.Helper()
	req, err := http.NewRequest("GET", b.base+path, nil)
	if err != nil {
		b.tb.Fatal(err)
	}
	return b.do(req)
}

// post sends a form, as a browser sends it from the console's own page.
func (b *browser) post(path string, form url.Values) page {
	b.tb.Helper()
	return b.do(b.formRequest(path, form))
}

// formRequest is the request of a form sent from the console's own page.
func (b *browser) formRequest(path string, form url.Values) *http.Request {
	b.tb.Helper()
	req, err := http.NewRequest("POST", b.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "null") // what a browser sends with Referrer-Policy no-referrer
	return req
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrfOf is the CSRF token of a page's forms.
func (b *browser) csrfOf(p page) string {
	b.tb.Helper()
	m := csrfRE.FindStringSubmatch(p.Body)
	if m == nil {
		b.tb.Fatalf("no CSRF field in the page: %s", p.Body)
	}
	return m[1]
}

// signIn signs in with token and returns where the console sent the
// browser.
func (b *browser) signIn(token string) page {
	b.tb.Helper()
	b.secrets = append(b.secrets, token)
	form := b.get("/sign-in")
	if form.Status != http.StatusOK {
		b.tb.Fatalf("GET /sign-in: %d", form.Status)
	}
	p := b.post("/sign-in", url.Values{"csrf": {b.csrfOf(form)}, "token": {token}})
	if p.Status != http.StatusSeeOther {
		b.tb.Fatalf("sign in: %d %s", p.Status, p.Body)
	}
	return p
}

// signInAgain signs in with token from a sign-in form this browser opened
// before it signed in (another tab): its form field and the sign-in cookie
// that came with it. It returns the answer, whatever its status.
func (b *browser) signInAgain(token string) page {
	b.tb.Helper()
	b.secrets = append(b.secrets, token)
	u := mustURL(b.tb, b.base)
	csrf := "an-earlier-sign-in-form-s-token"
	b.client.Jar.SetCookies(u, []*http.Cookie{{Name: "ledger_signin", Value: csrf, Path: "/"}})
	return b.doAny(b.formRequest("/sign-in", url.Values{"csrf": {csrf}, "token": {token}}))
}

// sessionID is the session cookie this browser holds ("" for none).
func (b *browser) sessionID() string {
	b.tb.Helper()
	u := mustURL(b.tb, b.base)
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == "ledger_session" {
			return c.Value
		}
	}
	return ""
}

// signedIn reports whether the browser's session opens a page.
func (b *browser) signedIn() bool {
	b.tb.Helper()
	p := b.get("/accounts")
	switch {
	case p.Status == http.StatusOK:
		return true
	case p.Status == http.StatusSeeOther && strings.HasPrefix(p.Location, "/sign-in"):
		return false
	}
	b.tb.Fatalf("GET /accounts: %d to %q; want the page or sign in", p.Status, p.Location)
	return false
}

// lockedBuffer is a buffer that logs may be written to while a test reads
// it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// mustURL parses an address of the test.
func mustURL(tb testing.TB, raw string) *url.URL {
	tb.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		tb.Fatal(err)
	}
	return u
}
