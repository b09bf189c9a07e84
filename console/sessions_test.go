package console_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/entledger/ledger/console"
)

// A token's sessions are capped: its 21st sign-in ends its own oldest
// session and nobody else's.
func TestSessionsPerTokenCap(t *testing.T) {
	tl := startLedger(t)
	tl.seed("acme")
	other := tl.browser()
	other.signIn(tl.tokenFor("auditor", ""))
	var own []*browser
	for range console.DefaultMaxSessionsPerToken + 1 {
		b := tl.browser()
		b.signIn(tl.token)
		own = append(own, b)
	}
	if own[0].signedIn() {
		t.Errorf("the token's oldest session lasts after %d more sign-ins; want it ended", console.DefaultMaxSessionsPerToken)
	}
	for i, b := range own[1:] {
		if !b.signedIn() {
			t.Errorf("the token's session %d of %d ended; want the newest %d to last", i+2, len(own), console.DefaultMaxSessionsPerToken)
		}
	}
	if !other.signedIn() {
		t.Error("another token's session ended when this token went over its share")
	}
}

// A full session store refuses a sign-in in words (503), and signs nobody
// out to make room; once a session ends there is room again.
func TestSessionsFullStoreRefusesSignIn(t *testing.T) {
	tl := startLedger(t)
	tl.seed("acme")
	base := tl.serveConsole(console.Options{MaxSessions: 3})
	var in []*browser
	for _, tok := range []string{tl.token, tl.token, tl.tokenFor("auditor", "acme")} {
		b := tl.browserAt(base)
		b.signIn(tok)
		in = append(in, b)
	}
	late := tl.browserAt(base)
	form := late.get("/sign-in")
	p := late.doAny(late.formRequest("/sign-in", map[string][]string{"csrf": {late.csrfOf(form)}, "token": {tl.token}}))
	if p.Status != http.StatusServiceUnavailable || !strings.Contains(p.Body, "cannot sign anyone else in now") ||
		!strings.Contains(p.Body, "signs nobody out to make room") {
		t.Errorf("a sign-in into a full store: %d; want 503 in words:\n%s", p.Status, p.Body)
	}
	if late.sessionID() != "" {
		t.Error("the refused sign-in set a session cookie")
	}
	for i, b := range in {
		if !b.signedIn() {
			t.Errorf("session %d ended to make room for a sign-in; want every one to last", i+1)
		}
	}
	if p := in[0].post("/sign-out", map[string][]string{"csrf": {in[0].csrfOf(in[0].get("/accounts/acme"))}}); p.Status != http.StatusSeeOther {
		t.Fatalf("sign out: %d", p.Status)
	}
	late.signIn(tl.token)
	if !late.signedIn() {
		t.Error("no sign-in after a session of the full store ended")
	}
}

// Signing in again in a browser that has a session ends that session: its
// id opens no page afterwards.
func TestSignInAgainEndsTheOldSession(t *testing.T) {
	tl := startLedger(t)
	tl.seed("acme")
	b := tl.browser()
	b.signIn(tl.token)
	old := b.sessionID()
	if old == "" || !b.signedIn() {
		t.Fatal("no session after signing in")
	}
	if p := b.signInAgain(tl.tokenFor("auditor", "acme")); p.Status != http.StatusSeeOther {
		t.Fatalf("sign in again: %d %s", p.Status, p.Body)
	}
	if now := b.sessionID(); now == "" || now == old {
		t.Fatalf("the second sign-in kept session cookie %q (was %q); want a new one", now, old)
	}
	if !b.signedIn() {
		t.Error("the new session opens no page")
	}
	stale := tl.browser()
	u := mustURL(t, tl.base)
	stale.client.Jar.SetCookies(u, []*http.Cookie{{Name: "ledger_session", Value: old, Path: "/"}})
	if stale.signedIn() {
		t.Error("the session of the first sign-in still opens pages after the browser signed in again")
	}
}

// A session ends after the idle timeout without a request, and after its
// lifetime since sign-in however busy it is; both measured on the
// console's Clock, not the ledger's business clock.
func TestSessionExpiry(t *testing.T) {
	tl := startLedger(t)
	tl.seed("acme")
	clk := &clock{t: time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)}
	base := tl.serveConsole(console.Options{Clock: clk.Now})

	busy := tl.browserAt(base)
	busy.signIn(tl.token)
	idle := tl.browserAt(base)
	idle.signIn(tl.token)
	tl.clock.Advance(30 * 24 * time.Hour) // business time does not end a session
	if !busy.signedIn() || !idle.signedIn() {
		t.Fatal("a session ended when the ledger's clock moved")
	}
	for range 2 { // 22 h, busy: a request every 11 h
		clk.Advance(11 * time.Hour)
		if !busy.signedIn() {
			t.Fatalf("a session with a request every 11 h ended before its lifetime, at %s", clk.Now())
		}
	}
	if idle.signedIn() {
		t.Error("a session 22 h without a request lasts; want it ended after the 12 h idle timeout")
	}
	clk.Advance(2*time.Hour - time.Second) // 24 h less a second since sign-in
	if !busy.signedIn() {
		t.Fatal("a busy session ended before its 24 h lifetime")
	}
	clk.Advance(time.Second)
	if busy.signedIn() {
		t.Error("a busy session lasts 24 h after its sign-in; want it ended by its lifetime")
	}
	fresh := tl.browserAt(base)
	fresh.signIn(tl.token)
	clk.Advance(console.DefaultIdleTimeout - time.Second)
	if !fresh.signedIn() {
		t.Error("a session ended before its idle timeout")
	}
}
