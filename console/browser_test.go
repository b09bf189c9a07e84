package console_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/entledger/ledger/internal/testlock"
)

var update = flag.Bool("update", false, "write the console's screenshots for the README into docs/")

// chromium finds Debian's chromium. Without it the browser test is
// skipped, unless LEDGER_BROWSER_TEST=1 (as .ci/run sets) makes that a
// failure.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "/usr/bin/chromium", "chromium-browser"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv("LEDGER_BROWSER_TEST") == "1" {
		t.Fatal("chromium not found, and LEDGER_BROWSER_TEST=1 requires the browser test: apt-get install chromium")
	}
	t.Skip("chromium not found: the browser test is skipped (apt-get install chromium, or set LEDGER_BROWSER_TEST=1 to make this a failure)")
	return ""
}

// The console in a real browser, against a real ledger with a moved
// clock: sign in with the token, create a user, assign a licence and see
// its window count down, try a reassignment after the window and see the
// lock's date, see a reminder go when its licence is assigned, and see the
// QTL of a generated quarter equal the API's.
func TestBrowser(t *testing.T) {
	exe := chromium(t)
	testlock.Heavy(t) // a browser on two cores: not beside the cluster and kill tests
	tl := startLedger(t)
	tl.seed("acme")
	seedQuarter(tl)

	actx, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1200, 900))
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	shots := t.TempDir()
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
		if *update && (name == "licence" || name == "billing" || name == "account") {
			if err := os.WriteFile(filepath.Join("..", "docs", "console-"+name+".png"), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	eval := func(expr string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
		if err != nil {
			t.Fatalf("evaluate %s: %v", expr, err)
		}
		return v
	}
	reminders := func() string {
		t.Helper()
		return eval(`Array.from(document.querySelectorAll('#reminders-table tr[data-license]')).map(r => r.dataset.license).join(',')`)
	}

	// Sign in with the token; one account: straight to its first page.
	do("sign in", chromedp.Navigate(tl.base+"/"), chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), tl.token), chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("reminders")))
	if got := reminders(); got != "P-1,P-2" {
		t.Errorf("reminders %q; want P-1,P-2", got)
	}
	shot("account-before")

	// Create a user.
	do("add a user", chromedp.Navigate(tl.base+"/accounts/acme/users"), chromedp.WaitVisible(chromedp.ID("new-email")),
		chromedp.SendKeys(chromedp.ID("new-email"), "carol@acme.example"), chromedp.SendKeys(chromedp.ID("new-country"), "de"),
		chromedp.Click(chromedp.ID("add-user-button")), chromedp.WaitVisible(chromedp.ID("remove-warning")))
	if h1 := eval(`document.querySelector('h1').textContent`); h1 != "carol@acme.example" {
		t.Errorf("after adding carol the page is %q", h1)
	}
	shot("user")
	tl.api(tl.token, "GET", "/v1/accounts/acme/users/carol@acme.example", nil, 200)

	// Assign P-1 to her and see the window count down.
	do("assign", chromedp.Navigate(tl.base+"/accounts/acme/licenses/P-1"), chromedp.WaitVisible(chromedp.ID("assign-email")),
		chromedp.SendKeys(chromedp.ID("assign-email"), "carol@acme.example"), chromedp.Click(chromedp.ID("assign-button")),
		chromedp.WaitVisible(chromedp.CSS(".flash")))
	state := eval(`document.querySelector('#lock-state').textContent`)
	if !strings.Contains(state, "Window open") || !regexp.MustCompile(`(23 h 59 min \d+ s|1 day 0 h 0 min)`).MatchString(state) {
		t.Errorf("the licence's state %q; want the window open, closing in about 24 h", state)
	}
	first := eval(`document.querySelector('#lock-state time').textContent`)
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](fmt.Sprintf(`document.querySelector('#lock-state time').textContent !== %q`, first),
		chromedp.WithPollingTimeout(5*time.Second))); err != nil {
		t.Errorf("the countdown %q does not tick: %v", first, err)
	}
	shot("licence")

	// The reminder of P-1 is gone; P-2's stays.
	do("first page", chromedp.Navigate(tl.base+"/accounts/acme"), chromedp.WaitVisible(chromedp.ID("reminders")))
	if got := reminders(); got != "P-2" {
		t.Errorf("reminders after assigning P-1: %q; want P-2", got)
	}
	shot("account")

	// After the window: the reassignment is refused with the lock's date.
	tl.clock.Advance(25 * time.Hour)
	do("reassign", chromedp.Navigate(tl.base+"/accounts/acme/licenses/P-1"), chromedp.WaitVisible(chromedp.ID("reassign-email")),
		chromedp.SendKeys(chromedp.ID("reassign-email"), "bob@acme.example"), chromedp.Click(chromedp.ID("reassign")),
		chromedp.WaitVisible(chromedp.ID("form-problem")))
	want := "This licence is locked until 2026-02-05 09:00 UTC (30 days after its 24-hour assignment window closed at 2026-01-06 09:00 UTC)."
	if got := eval(`document.querySelector('#form-problem').textContent`); !strings.Contains(got, want) {
		t.Errorf("the refusal %q; want %q", got, want)
	}
	shot("licence-locked")

	// The QTL of the generated quarter, as the console shows it and as
	// the API answers it.
	do("billing", chromedp.Navigate(tl.base+"/accounts/acme/billing?quarter=2025-Q4"), chromedp.WaitVisible(chromedp.ID("qtl-table")))
	shown := eval(`JSON.stringify(Array.from(document.querySelectorAll('#qtl-table tr[data-product]')).map(r => ({
		product: r.dataset.product,
		peak_interval: r.querySelector('[data-field=peak_interval]').dataset.value || null,
		peak_count: +r.querySelector('[data-field=peak_count]').textContent,
		seats: +r.querySelector('[data-field=seats]').textContent,
		units: +r.querySelector('[data-field=units]').textContent})))`)
	rep := tl.api(tl.token, "GET", "/v1/accounts/acme/qtl?quarter=2025-Q4", nil, 200)
	var want2 []map[string]any
	for _, p := range rep["products"].([]any) {
		p := p.(map[string]any)
		want2 = append(want2, map[string]any{"product": p["product"], "peak_interval": p["peak_interval"], "peak_count": p["peak_count"],
			"seats": p["seats"], "units": p["units"]})
	}
	var got2 []map[string]any
	json.Unmarshal([]byte(shown), &got2)
	wantJSON, _ := json.Marshal(want2)
	gotJSON, _ := json.Marshal(got2)
	if string(gotJSON) != string(wantJSON) || len(want2) == 0 {
		t.Errorf("the console's QTL of 2025-Q4:\n%s\nthe API's:\n%s", gotJSON, wantJSON)
	}
	if !strings.Contains(string(wantJSON), `"units":3`) {
		t.Errorf("the generated quarter bills %s; want openroads 3 units over its 2 seats", wantJSON)
	}
	shot("billing")

	for _, p := range []struct{ name, path, ready string }{
		{"licences", "/accounts/acme/licenses", "licences"},
		{"users", "/accounts/acme/users", "users"},
		{"audit", "/accounts/acme/audit", "integrity"},
		{"accounts", "/accounts", "main"},
	} {
		do(p.name, chromedp.Navigate(tl.base+p.path), chromedp.WaitVisible(chromedp.ID(p.ready)))
		shot(p.name)
	}
	// At 200% zoom a 1200-pixel window is 600 CSS pixels wide: no page
	// may need a horizontal scroll (wide tables scroll in their own box).
	do("zoom", chromedp.EmulateViewport(600, 900))
	for _, path := range []string{"/accounts/acme", "/accounts/acme/licenses", "/accounts/acme/licenses/P-1", "/accounts/acme/users",
		"/accounts/acme/users/carol@acme.example", "/accounts/acme/billing?quarter=2025-Q4", "/accounts/acme/audit"} {
		do(path, chromedp.Navigate(tl.base+path), chromedp.WaitVisible(chromedp.ID("main")))
		if w := eval(`String(document.documentElement.scrollWidth - document.documentElement.clientWidth)`); w != "0" {
			t.Errorf("%s at 600 CSS pixels wide is %s pixels too wide", path, w)
		}
	}
	shot("licences-narrow")
	t.Logf("screenshots in %s", shots)
}

// seedQuarter generates the usage of 2025-Q4: openroads in pooled use
// every day by one to five machines (2 seats: a peak of 5 bills 3 units),
// microstation in pooled use by ada every third day and in practitioner
// use by dave, who held P-3 all quarter.
func seedQuarter(tl *testLedger) {
	tl.tb.Helper()
	q4 := time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC)
	at := q4.Format(time.RFC3339)
	tl.api(tl.token, "POST", "/v1/accounts/acme/users", map[string]any{"email": "dave@acme.example", "entitlement_country": "DE", "at": at}, 201)
	tl.api(tl.token, "POST", "/v1/accounts/acme/licenses", map[string]any{"id": "P-3", "kind": "practitioner", "products": []string{"microstation"},
		"valid_from": at, "valid_until": "2026-10-01T00:00:00Z", "at": at}, 201)
	tl.api(tl.token, "POST", "/v1/accounts/acme/licenses/P-3/assign", map[string]any{"email": "dave@acme.example",
		"at": q4.Add(time.Hour).Format(time.RFC3339)}, 200)
	var records []map[string]any
	rec := func(id, email, product, machine string, start time.Time, d time.Duration) {
		records = append(records, map[string]any{"usage_id": id, "email": email, "product": product, "machine_id": machine,
			"client_version": "10.00.18.25", "started_at": start.Format(time.RFC3339), "ended_at": start.Add(d).Format(time.RFC3339)})
	}
	for day := range 92 {
		d := q4.AddDate(0, 0, day)
		machines := 1 + (day*7)%4
		if day == 40 {
			machines = 5
		}
		for m := range machines {
			rec(fmt.Sprintf("or-%d-%d", day, m), "bob@acme.example", "openroads", fmt.Sprintf("ws-%d", m),
				d.Add(9*time.Hour+time.Duration(m)*7*time.Minute), 2*time.Hour)
		}
		if day%3 == 0 {
			rec(fmt.Sprintf("ms-%d", day), "ada@acme.example", "microstation", "ws-ada", d.Add(13*time.Hour), 3*time.Hour)
		}
		if d.Weekday() != time.Saturday && d.Weekday() != time.Sunday {
			rec(fmt.Sprintf("pr-%d", day), "dave@acme.example", "microstation", "ws-dave", d.Add(8*time.Hour), 6*time.Hour)
		}
	}
	tl.api(tl.token, "POST", "/v1/accounts/acme/usage", map[string]any{"records": records}, 200)
}
