package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

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
	c := &clock{t: t0}
	dir := tb.TempDir()
	srv, err := server.Start(context.Background(), server.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", NoReminders: true,
		SyncInterval: time.Minute, UsageHorizon: 120 * 24 * time.Hour, Now: c.Now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
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

func (tl *testLedger) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{tb: tl.tb, tl: tl, secrets: []string{tl.token}, client: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) do(req *http.Request) page {
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
	if p.Status >= 500 {
		b.tb.Fatalf("%s %s: %d: %s", req.Method, req.URL, p.Status, p.Body)
	}
	return p
}

// get reads a console page.
func (b *browser) get(path string) page {
	b.tb.Helper()
	req, err := http.NewRequest("GET", b.tl.base+path, nil)
	if err != nil {
		b.tb.Fatal(err)
	}
	return b.do(req)
}

// post sends a form, as a browser sends it from the console's own page.
func (b *browser) post(path string, form url.Values) page {
	b.tb.Helper()
	req, err := http.NewRequest("POST", b.tl.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "null") // what a browser sends with Referrer-Policy no-referrer
	return b.do(req)
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
