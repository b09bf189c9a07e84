package ledger_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/entledger/ledger/checkout"
	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/server"
)

// End-to-end tests of offline checkout (F6) and the rules it touches (C6,
// D1, A4) through the HTTP API of a real server. The clock is the test's:
// a checkout expires by setting the clock, never by waiting.

// Machines of the tests.
const (
	coMA = "WS-A.acme"
	coMB = "WS-B.acme"
)

// coPath is the path of licence id.
func coPath(id string) string { return e2eAcme + "/licenses/" + id }

// coBody is a checkout request.
func coBody(email, machine string, until time.Time) map[string]any {
	return map[string]any{"email": email, "machine_id": machine, "until": e2eTS(until)}
}

// coCheckout checks licence id out and wants 200 {token, until}; it returns
// the token.
func coCheckout(tl *testLedger, id, email, machine string, until time.Time, headers ...string) string {
	tl.tb.Helper()
	r := tl.must(200, "POST", coPath(id)+"/checkout", coBody(email, machine, until), headers...)
	if len(r.Body) != 2 {
		tl.tb.Errorf("checkout answer got %s, want exactly {token, until}", r.Raw)
	}
	if r.Body["until"] != e2eTS(until) {
		tl.tb.Errorf("checkout answer until got %v, want %s", r.Body["until"], e2eTS(until))
	}
	tok, _ := r.Body["token"].(string)
	if !strings.HasPrefix(tok, "LCK1.") {
		tl.tb.Fatalf("checkout answer token got %q, want an LCK1 token", r.Body["token"])
	}
	return tok
}

// coKey is the checkout public key as GET /v1/keys/checkout publishes it,
// parsed the way a client would: PEM, then PKIX.
func coKey(tl *testLedger) ed25519.PublicKey {
	tl.tb.Helper()
	r := tl.must(200, "GET", "/v1/keys/checkout", nil)
	s, _ := r.Body["public_key_pem"].(string)
	block, rest := pem.Decode([]byte(s))
	if block == nil || block.Type != "PUBLIC KEY" || len(bytes.TrimSpace(rest)) != 0 {
		tl.tb.Fatalf("GET /v1/keys/checkout: public_key_pem is not one PEM PUBLIC KEY: %s", r.Raw)
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		tl.tb.Fatalf("GET /v1/keys/checkout: %v", err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		tl.tb.Fatalf("GET /v1/keys/checkout: key is a %T, want Ed25519", k)
	}
	if r.Body["key_id"] != events.KeyID(pub) {
		tl.tb.Errorf("GET /v1/keys/checkout: key_id got %v, want %s", r.Body["key_id"], events.KeyID(pub))
	}
	return pub
}

// coLicence is GET licence id.
func coLicence(tl *testLedger, id string) map[string]any {
	tl.tb.Helper()
	return tl.must(200, "GET", coPath(id), nil).Body
}

// coCheckoutOf is a licence body's checkout: nil when null.
func coCheckoutOf(tb testing.TB, lic map[string]any) map[string]any {
	tb.Helper()
	c, ok := lic["checkout"]
	if !ok {
		tb.Fatalf("licence without a checkout field: %v", lic)
	}
	if c == nil {
		return nil
	}
	m, ok := c.(map[string]any)
	if !ok {
		tb.Fatalf("licence checkout is neither null nor an object: %v", c)
	}
	return m
}

// coWantCheckout checks a licence's live checkout as the API shows it.
func coWantCheckout(tb testing.TB, what string, lic map[string]any, email, machine string, issued, until time.Time) {
	tb.Helper()
	c := coCheckoutOf(tb, lic)
	if c == nil {
		tb.Errorf("%s: checkout got null, want %s on %s until %s", what, email, machine, e2eTS(until))
		return
	}
	e2eFields(tb, what+" checkout", c, map[string]any{
		"email": email, "machine_id": machine, "issued_at": e2eTS(issued), "until": e2eTS(until)})
	e2eFields(tb, what, lic, map[string]any{"reassignable_now": false})
}

// coWantNoCheckout checks that a licence shows no checkout.
func coWantNoCheckout(tb testing.TB, what string, lic map[string]any) {
	tb.Helper()
	if c := coCheckoutOf(tb, lic); c != nil {
		tb.Errorf("%s: checkout got %v, want null", what, c)
	}
}

// coSignIn signs email in on machine with the client's clock equal to the
// ledger's.
func coSignIn(tl *testLedger, email, machine string) response {
	tl.tb.Helper()
	return tl.do("POST", e2eAcme+"/sessions", map[string]any{"email": email, "machine_id": machine,
		"client_version": "10.00.18", "client_time": e2eTS(tl.clock.Now())})
}

// coStart is a ledger with the harness's world and P1 assigned to
// a@x.example at T0 (window until T0+24h, lock until T0+24h+30d).
func coStart(t *testing.T) *testLedger {
	t.Helper()
	tl := startLedger(t, "", nil)
	tl.setup()
	tl.must(200, "POST", e2eP1+"/assign", e2eAssign("a@x.example"))
	return tl
}

// rule F6: a checkout answers {token, until}; the token verifies offline
// with the key of GET /v1/keys/checkout and says account, licence, email,
// machine, products, issued_at (the ledger's clock at checkout) and
// expires_at (until). The licence shows the checkout. Replaying the request
// with its Idempotency-Key returns the identical token and appends nothing,
// also after a check-in and a restart. The private key is the stream's,
// derived from the signing key, and never appears in any event.
func TestCheckoutF6TokenVerifiesWithPublishedKey(t *testing.T) {
	tl := coStart(t)
	issued := T0.Add(time.Hour)
	until := issued.Add(48 * time.Hour)
	tl.clock.Set(issued)
	idem := []string{"Idempotency-Key", "co-token-1"}
	tok := coCheckout(tl, "P1", "A@x.example", coMA, until, idem...)

	pub := coKey(tl)
	got, err := checkout.Verify(pub, tok, issued)
	if err != nil {
		t.Fatalf("VerifyToken with the published key at issued_at: %v", err)
	}
	want := checkout.Token{TokenID: got.TokenID, Account: "acme", LicenseID: "P1", Email: "a@x.example",
		MachineID: coMA, Products: []string{"microstation"}, IssuedAt: issued, ExpiresAt: until}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("token says %+v, want %+v", got, want)
	}
	if got.TokenID == "" {
		t.Errorf("token_id is empty")
	}
	if _, err := checkout.Verify(pub, tok, until.Add(-time.Nanosecond)); err != nil {
		t.Errorf("VerifyToken just before expires_at: %v", err)
	}
	if _, err := checkout.Verify(pub, tok, until); err == nil {
		t.Errorf("VerifyToken at expires_at: got nil, want an error (half-open validity)")
	}
	if _, err := checkout.Verify(pub, tok, issued.Add(-time.Nanosecond)); err == nil {
		t.Errorf("VerifyToken before issued_at: got nil, want an error")
	}
	// The event signing key is another key: it does not verify the token.
	evKey, err := events.LoadKey(filepath.Join(tl.dir, "keys", "events.ed25519"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := checkout.Verify(evKey.Public().(ed25519.PublicKey), tok, issued); err == nil {
		t.Errorf("VerifyToken with the events key: got nil, want an error")
	}

	lic := coLicence(tl, "P1")
	coWantCheckout(t, "licence", lic, "a@x.example", coMA, issued, until)
	e2eFields(t, "licence", lic, map[string]any{"assignee": "a@x.example"})

	// The event that records it.
	hist := e2eHistory(tl, e2eP1+"/history")
	last := hist[len(hist)-1]
	if last["type"] != "license.checked_out" || last["time"] != e2eTS(issued) {
		t.Errorf("licence history ends with %v at %v, want license.checked_out at %s", last["type"], last["time"], e2eTS(issued))
	}
	e2eFields(t, "license.checked_out", e2eData(t, last), map[string]any{
		"email": "a@x.example", "machine_id": coMA, "until": e2eTS(until), "products": []string{"microstation"}})

	// Replay: the same token, nothing appended, even with the clock moved.
	n := len(tl.streamEvents())
	tl.clock.Set(issued.Add(time.Minute))
	if again := coCheckout(tl, "P1", "A@x.example", coMA, until, idem...); again != tok {
		t.Errorf("replayed checkout: got token %q, want the first %q", again, tok)
	}
	// The same key with another body is refused, and appends nothing.
	e2eReject(tl, 409, "idempotency_key_reused", "POST", e2eP1+"/checkout", coBody("a@x.example", coMB, until), idem...)
	// Check in; the replay still answers the first token.
	tl.must(200, "POST", e2eP1+"/checkin", nil)
	n += 2 // license.checked_in and session.checked_in
	if again := coCheckout(tl, "P1", "A@x.example", coMA, until, idem...); again != tok {
		t.Errorf("checkout replayed after checkin: got token %q, want the first %q", again, tok)
	}
	if got := len(tl.streamEvents()); got != n {
		t.Errorf("stream has %d events, want %d: a replay appends nothing", got, n)
	}
	// After a restart, the same key and the same answer.
	tl.stop()
	tl = startLedger(t, tl.dir, tl.clock)
	if again := coCheckout(tl, "P1", "A@x.example", coMA, until, idem...); again != tok {
		t.Errorf("checkout replayed after a restart: got token %q, want the first %q", again, tok)
	}
	if !coKey(tl).Equal(pub) {
		t.Errorf("the checkout key changed across a restart")
	}

	// The private key is the stream's, derived from the signing key (rule
	// H5): its public half is the published key and the .pub in DATA/keys,
	// and no event carries it in any form.
	signing, err := events.LoadKey(filepath.Join(tl.dir, "keys", "events.ed25519"))
	if err != nil {
		t.Fatal(err)
	}
	priv, err := server.DeriveCheckoutKey(signing)
	if err != nil {
		t.Fatal(err)
	}
	if !priv.Public().(ed25519.PublicKey).Equal(pub) {
		t.Errorf("GET /v1/keys/checkout is not the public half of the key derived from the signing key")
	}
	pubPath := filepath.Join(tl.dir, "keys", "checkout.ed25519.pub")
	if filePub, err := events.LoadPublicKey(pubPath); err != nil || !filePub.Equal(pub) {
		t.Errorf("%s: got %v, %v; want the published key", pubPath, filePub, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	raw := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	block, _ := pem.Decode(raw)
	var body strings.Builder
	secrets := map[string][]byte{}
	for _, line := range strings.Split(string(raw), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "-----") {
			body.WriteString(line)
			secrets["PEM line "+line] = []byte(line)
		}
	}
	secrets["PEM body"] = []byte(body.String())
	secrets["DER"] = block.Bytes
	secrets["seed"] = priv.Seed()
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		secrets["base64 seed "+enc.EncodeToString(priv.Seed())] = []byte(enc.EncodeToString(priv.Seed()))
		secrets["base64 key "+enc.EncodeToString(priv)] = []byte(enc.EncodeToString(priv))
	}
	secrets["hex seed"] = []byte(hex.EncodeToString(priv.Seed()))
	msgs := tl.streamEvents()
	if len(msgs) == 0 {
		t.Fatal("the stream is empty")
	}
	for _, m := range msgs {
		for what, s := range secrets {
			if bytes.Contains(m.Data, s) {
				t.Errorf("sequence %d (%s): the data holds the checkout private key (%s)", m.Sequence, m.Subject, what)
			}
			for h, vals := range m.Header {
				for _, v := range vals {
					if strings.Contains(v, string(s)) {
						t.Errorf("sequence %d (%s): header %s holds the checkout private key (%s)", m.Sequence, m.Subject, h, what)
					}
				}
			}
		}
	}
	tl.checkStream()
}

// rule F6: only the assignee can check out, only a practitioner licence,
// until after now; an unknown licence or account is 404; a second checkout
// while one is live is license_checked_out. Every rejection appends nothing.
func TestCheckoutF6Rejections(t *testing.T) {
	tl := coStart(t)
	tl.must(201, "POST", e2eAcme+"/licenses", e2eLicense("C1", "commercial", 2, T0.Add(-24*time.Hour), T0.Add(365*24*time.Hour), "microstation"))
	now := T0.Add(time.Hour)
	tl.clock.Set(now)
	until := now.Add(24 * time.Hour)
	co := coPath("P1") + "/checkout"

	r := e2eReject(tl, 409, "not_the_assignee", "POST", co, coBody("b@x.example", coMA, until))
	e2eDetail(t, r, "email", "b@x.example")
	e2eReject(tl, 409, "not_the_assignee", "POST", co, coBody("nobody@x.example", coMA, until))
	e2eReject(tl, 409, "not_practitioner_license", "POST", coPath("C1")+"/checkout", coBody("a@x.example", coMA, until))
	e2eReject(tl, 409, "not_practitioner_license", "POST", coPath("C1")+"/checkin", nil)
	e2eReject(tl, 404, "license_not_found", "POST", coPath("NOPE")+"/checkout", coBody("a@x.example", coMA, until))
	e2eReject(tl, 404, "license_not_found", "POST", coPath("NOPE")+"/checkin", nil)
	e2eReject(tl, 404, "account_not_found", "POST", "/v1/accounts/nope/licenses/P1/checkout", coBody("a@x.example", coMA, until))

	for name, u := range map[string]time.Time{
		"now": now, "before now": now.Add(-time.Nanosecond), "long ago": T0.Add(-24 * time.Hour),
	} {
		r := e2eReject(tl, 400, "invalid_argument", "POST", co, coBody("a@x.example", coMA, u))
		if r.details()["field"] != "until" {
			t.Errorf("until %s: details got %v, want field until", name, r.details())
		}
	}
	for _, c := range []struct {
		name, field string
		body        map[string]any
	}{
		{"no until", "until", map[string]any{"email": "a@x.example", "machine_id": coMA}},
		{"bad until", "until", map[string]any{"email": "a@x.example", "machine_id": coMA, "until": "tomorrow"}},
		{"no machine_id", "machine_id", map[string]any{"email": "a@x.example", "until": e2eTS(until)}},
	} {
		r := e2eReject(tl, 400, "invalid_argument", "POST", co, c.body)
		if f := r.details()["field"]; f != c.field {
			t.Errorf("%s: details got %v, want field %s", c.name, r.details(), c.field)
		}
	}

	coCheckout(tl, "P1", "a@x.example", coMA, until)
	for _, m := range []string{coMA, coMB} {
		r := e2eReject(tl, 409, "license_checked_out", "POST", co, coBody("a@x.example", m, until.Add(time.Hour)))
		e2eDetail(t, r, "until", e2eTS(until))
		e2eDetail(t, r, "machine_id", coMA)
	}
	tl.checkStream()
}

// rule F6: until may be exactly the licence's valid_until (the token then
// expires with the licence), not one nanosecond later (400, field until).
func TestCheckoutF6UntilAtValidUntil(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	validUntil := T0.Add(10 * 24 * time.Hour)
	tl.must(201, "POST", e2eAcme+"/licenses", e2eLicense("P2", "practitioner", 0, T0.Add(-24*time.Hour), validUntil, "microstation"))
	tl.must(200, "POST", coPath("P2")+"/assign", e2eAssign("b@x.example"))
	now := T0.Add(time.Hour)
	tl.clock.Set(now)
	co := coPath("P2") + "/checkout"
	for _, u := range []time.Time{validUntil.Add(time.Nanosecond), validUntil.Add(time.Second), validUntil.Add(24 * time.Hour)} {
		r := e2eReject(tl, 400, "invalid_argument", "POST", co, coBody("b@x.example", coMB, u))
		e2eDetail(t, r, "field", "until")
	}
	tok := coCheckout(tl, "P2", "b@x.example", coMB, validUntil)
	got, err := checkout.Verify(coKey(tl), tok, now)
	if err != nil {
		t.Fatal(err)
	}
	if !got.ExpiresAt.Equal(validUntil) {
		t.Errorf("expires_at got %s, want valid_until %s", e2eTS(got.ExpiresAt), e2eTS(validUntil))
	}
	coWantCheckout(t, "licence", coLicence(tl, "P2"), "b@x.example", coMB, now, validUntil)
	tl.checkStream()
}

// rule F6 (with B2): an expired licence cannot be checked out
// (license_inactive): exactly at valid_until it is no longer active.
func TestCheckoutF6InactiveLicence(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	validUntil := T0.Add(2 * 24 * time.Hour)
	tl.must(201, "POST", e2eAcme+"/licenses", e2eLicense("P3", "practitioner", 0, T0.Add(-24*time.Hour), validUntil, "microstation"))
	tl.must(200, "POST", coPath("P3")+"/assign", e2eAssign("c@x.example"))
	tl.clock.Set(validUntil)
	e2eReject(tl, 409, "license_inactive", "POST", coPath("P3")+"/checkout", coBody("c@x.example", coMA, validUntil.Add(time.Hour)))
	tl.clock.Set(validUntil.Add(24 * time.Hour))
	e2eReject(tl, 409, "license_inactive", "POST", coPath("P3")+"/checkout", coBody("c@x.example", coMA, validUntil.Add(48*time.Hour)))
	tl.checkStream()
}

// rule F6: check-in ends the checkout early: it answers the licence with
// checkout null, and GET shows null; a second check-in, or one of a licence
// never checked out, is 409 not_checked_out. As of a time inside the
// checkout, the licence still shows it (H4).
func TestCheckoutF6Checkin(t *testing.T) {
	tl := coStart(t)
	e2eReject(tl, 409, "not_checked_out", "POST", e2eP1+"/checkin", nil)
	issued := T0.Add(time.Hour)
	until := issued.Add(24 * time.Hour)
	tl.clock.Set(issued)
	coCheckout(tl, "P1", "a@x.example", coMA, until)
	in := issued.Add(30 * time.Minute)
	tl.clock.Set(in)
	r := tl.must(200, "POST", e2eP1+"/checkin", nil)
	coWantNoCheckout(t, "checkin answer", r.Body)
	e2eFields(t, "checkin answer", r.Body, map[string]any{"assignee": "a@x.example", "reassignable_now": true})
	coWantNoCheckout(t, "licence after checkin", coLicence(tl, "P1"))
	hist := e2eHistory(tl, e2eP1+"/history")
	last := hist[len(hist)-1]
	if last["type"] != "license.checked_in" || last["time"] != e2eTS(in) {
		t.Errorf("licence history ends with %v at %v, want license.checked_in at %s", last["type"], last["time"], e2eTS(in))
	}
	e2eReject(tl, 409, "not_checked_out", "POST", e2eP1+"/checkin", nil)

	asOf := tl.must(200, "GET", e2eP1+"?as_of="+e2eTS(issued.Add(time.Minute)), nil).Body
	coWantCheckout(t, "licence as of the checkout", asOf, "a@x.example", coMA, issued, until)

	// Checked in, it can be checked out again at once, to another machine.
	coCheckout(tl, "P1", "a@x.example", coMB, until)
	coWantCheckout(t, "licence checked out again", coLicence(tl, "P1"), "a@x.example", coMB, in, until)
	tl.checkStream()
}

// rules F6, C6: exactly at until the checkout is over: the licence shows
// checkout null and is reassignable, check-in is not_checked_out, and a
// reassign (inside the window) is allowed.
func TestCheckoutF6C6Expiry(t *testing.T) {
	tl := coStart(t)
	issued := T0.Add(time.Hour)
	until := T0.Add(3 * time.Hour) // inside the window (T0+24h)
	tl.clock.Set(issued)
	tok := coCheckout(tl, "P1", "a@x.example", coMA, until)

	tl.clock.Set(until.Add(-time.Nanosecond))
	coWantCheckout(t, "licence 1ns before until", coLicence(tl, "P1"), "a@x.example", coMA, issued, until)

	tl.clock.Set(until)
	lic := coLicence(tl, "P1")
	coWantNoCheckout(t, "licence at until", lic)
	e2eFields(t, "licence at until", lic, map[string]any{"reassignable_now": true, "lock_state": "window_open"})
	if _, err := checkout.Verify(coKey(tl), tok, until); err == nil {
		t.Errorf("token verifies at until, want it expired")
	}
	e2eReject(tl, 409, "not_checked_out", "POST", e2eP1+"/checkin", nil)
	r := tl.must(200, "POST", e2eP1+"/reassign", e2eAssign("b@x.example"))
	e2eFields(t, "reassigned at until", r.Body, map[string]any{"assignee": "b@x.example"})
	e2eTimers(t, "reassigned at until", r.Body, T0)
	coWantNoCheckout(t, "reassigned at until", r.Body)
	tl.checkStream()
}

// rule C6: while checked out, reassign and unassign are 409
// license_checked_out with details until and machine_id; exactly at until
// they are allowed (inside the window); after a check-in too. A checkout
// that outlasts the lock keeps the licence in place past locked_until.
func TestCheckoutC6NoMoveWhileCheckedOut(t *testing.T) {
	tl := coStart(t)
	lockedUntil := T0.Add(e2eLock)
	issued := T0.Add(time.Hour)
	until := T0.Add(3 * time.Hour)
	tl.clock.Set(issued)
	coCheckout(tl, "P1", "a@x.example", coMA, until)
	for _, at := range []time.Time{issued, T0.Add(2 * time.Hour), until.Add(-time.Nanosecond)} {
		tl.clock.Set(at)
		for _, req := range []struct {
			path string
			body any
		}{{e2eP1 + "/reassign", e2eAssign("b@x.example")}, {e2eP1 + "/unassign", nil}} {
			r := e2eReject(tl, 409, "license_checked_out", "POST", req.path, req.body)
			e2eDetail(t, r, "until", e2eTS(until))
			e2eDetail(t, r, "machine_id", coMA)
		}
	}
	lic := coLicence(tl, "P1")
	e2eFields(t, "licence while checked out", lic, map[string]any{"assignee": "a@x.example", "reassignable_now": false})

	// Exactly at until: allowed, the window unchanged (C3).
	tl.clock.Set(until)
	r := tl.must(200, "POST", e2eP1+"/reassign", e2eAssign("b@x.example"))
	e2eTimers(t, "reassigned at until", r.Body, T0)

	// b checks out past the window's close; check-in frees the licence.
	coCheckout(tl, "P1", "b@x.example", coMB, T0.Add(50*time.Hour))
	tl.clock.Set(T0.Add(4 * time.Hour))
	r = e2eReject(tl, 409, "license_checked_out", "POST", e2eP1+"/unassign", nil)
	e2eDetail(t, r, "machine_id", coMB)
	e2eDetail(t, r, "until", e2eTS(T0.Add(50*time.Hour)))
	tl.must(200, "POST", e2eP1+"/checkin", nil)
	r = tl.must(200, "POST", e2eP1+"/unassign", nil)
	e2eFields(t, "unassigned after checkin", r.Body, map[string]any{"assignee": nil})
	tl.must(200, "POST", e2eP1+"/assign", e2eAssign("a@x.example"))

	// A checkout over locked_until: the lock ends, the checkout still holds.
	coIssued := lockedUntil.Add(-time.Hour)
	coUntil := lockedUntil.Add(time.Hour)
	tl.clock.Set(coIssued)
	coCheckout(tl, "P1", "a@x.example", coMA, coUntil)
	if r := tl.do("POST", e2eP1+"/reassign", e2eAssign("b@x.example")); r.Status != 409 {
		t.Errorf("reassign while locked and checked out: got %d %s, want 409", r.Status, r.Raw)
	}
	tl.clock.Set(lockedUntil)
	r = e2eReject(tl, 409, "license_checked_out", "POST", e2eP1+"/reassign", e2eAssign("b@x.example"))
	e2eDetail(t, r, "until", e2eTS(coUntil))
	e2eReject(tl, 409, "license_checked_out", "POST", e2eP1+"/unassign", nil)
	tl.clock.Set(coUntil)
	r = tl.must(200, "POST", e2eP1+"/reassign", e2eAssign("b@x.example"))
	e2eTimers(t, "reassigned at the checkout's end after the lock", r.Body, coUntil) // C4: a new window
	tl.checkStream()
}

// rules D1, F6: a live checkout on machine A counts as the user's machine:
// signing in from B is signed_in_elsewhere naming A; from A it works. A
// live session on A blocks a checkout to B (signed_in_elsewhere naming A)
// and allows one to A.
func TestCheckoutF6D1OneMachine(t *testing.T) {
	tl := coStart(t)
	tl.must(201, "POST", e2eAcme+"/licenses", e2eLicense("P2", "practitioner", 0, T0.Add(-24*time.Hour), T0.Add(365*24*time.Hour), "microstation"))
	tl.must(200, "POST", coPath("P2")+"/assign", e2eAssign("b@x.example"))
	now := T0.Add(time.Hour)
	tl.clock.Set(now)
	until := now.Add(24 * time.Hour)
	coCheckout(tl, "P1", "a@x.example", coMA, until)

	n := len(tl.streamEvents())
	r := coSignIn(tl, "a@x.example", coMB)
	if r.Status != 409 || r.code() != "signed_in_elsewhere" {
		t.Errorf("sign-in from B while checked out to A: got %d %s, want 409 signed_in_elsewhere", r.Status, r.Raw)
	}
	e2eDetail(t, r, "machine_id", coMA)
	if got := len(tl.streamEvents()); got != n {
		t.Errorf("a rejected sign-in appended %d events", got-n)
	}
	if r := coSignIn(tl, "a@x.example", coMA); r.Status != 201 {
		t.Errorf("sign-in from A, the checkout's machine: got %d %s, want 201", r.Status, r.Raw)
	}

	// b is signed in on A: a checkout of b's licence to B is refused, to A
	// allowed.
	if r := coSignIn(tl, "b@x.example", coMA); r.Status != 201 {
		t.Fatalf("sign-in of b on A: got %d %s, want 201", r.Status, r.Raw)
	}
	r = e2eReject(tl, 409, "signed_in_elsewhere", "POST", coPath("P2")+"/checkout", coBody("b@x.example", coMB, until))
	e2eDetail(t, r, "machine_id", coMA)
	coCheckout(tl, "P2", "b@x.example", coMA, until)
	coWantCheckout(t, "P2", coLicence(tl, "P2"), "b@x.example", coMA, now, until)

	// At until a's checkout is over; after a sign-out, B is free.
	tl.clock.Set(until)
	tl.must(204, "DELETE", e2eAcme+"/sessions/a@x.example", nil)
	if r := coSignIn(tl, "a@x.example", coMB); r.Status != 201 {
		t.Errorf("sign-in from B after the checkout ended: got %d %s, want 201", r.Status, r.Raw)
	}
	tl.checkStream()
}

// rule A4 (with F6): removing the checked-out user unassigns the licence
// (reason user_removed) and clears the checkout from the licence view;
// check-in is then not_checked_out.
func TestCheckoutF6A4RemoveUser(t *testing.T) {
	tl := coStart(t)
	issued := T0.Add(48 * time.Hour) // locked
	tl.clock.Set(issued)
	coCheckout(tl, "P1", "a@x.example", coMA, issued.Add(72*time.Hour))
	removed := issued.Add(time.Hour)
	tl.clock.Set(removed)
	tl.must(204, "DELETE", e2eAcme+"/users/a@x.example", nil)

	lic := coLicence(tl, "P1")
	coWantNoCheckout(t, "licence after removal", lic)
	e2eFields(t, "licence after removal", lic, map[string]any{"assignee": nil, "lock_state": "locked",
		"locked_until": e2eTS(T0.Add(e2eLock))})
	hist := e2eHistory(tl, e2eP1+"/history")
	last := hist[len(hist)-1]
	if last["type"] != "license.unassigned" {
		t.Fatalf("licence history ends with %v, want license.unassigned", e2eTypes(hist))
	}
	e2eFields(t, "license.unassigned", e2eData(t, last), map[string]any{"reason": "user_removed", "previous_email": "a@x.example"})
	e2eReject(tl, 409, "not_checked_out", "POST", e2eP1+"/checkin", nil)
	tl.checkStream()
}

// rule F6: concurrent checkouts of one licence to different machines have
// one winner; every other answer is license_checked_out, and the stream
// holds one license.checked_out.
func TestCheckoutF6ConcurrentCheckoutsOneWinner(t *testing.T) {
	tl := coStart(t)
	now := T0.Add(time.Hour)
	tl.clock.Set(now)
	const n = 8
	urls, bodies := make([]string, n), make([]any, n)
	for i := range n {
		urls[i] = tl.base + coPath("P1") + "/checkout"
		bodies[i] = coBody("a@x.example", fmt.Sprintf("WS-%d.acme", i), now.Add(24*time.Hour))
	}
	wins := 0
	for i, r := range raceAll(tl, urls, bodies) {
		switch {
		case r.status == 200:
			wins++
		case r.status != 409 || r.code != "license_checked_out":
			t.Errorf("checkout %d: got %d %s, want 200 or 409 license_checked_out", i, r.status, r.raw)
		}
	}
	if wins != 1 {
		t.Errorf("winners: got %d, want 1", wins)
	}
	if got := len(ofTypeCo(tl.checkStream(), events.TypeLicenseCheckedOut)); got != 1 {
		t.Errorf("license.checked_out events: got %d, want 1", got)
	}
}

// rules D1, F6: a checkout to machine A and a sign-in from machine B of the
// same user, racing, never both succeed: the user would be on two machines.
func TestCheckoutF6D1RaceWithSignIn(t *testing.T) {
	tl := coStart(t)
	now := T0.Add(time.Hour)
	tl.clock.Set(now)
	const rounds = 40
	both := 0
	for round := range rounds {
		urls := []string{tl.base + coPath("P1") + "/checkout", tl.base + e2eAcme + "/sessions"}
		bodies := []any{coBody("a@x.example", coMA, now.Add(24*time.Hour)),
			map[string]any{"email": "a@x.example", "machine_id": coMB, "client_version": "10.00.18", "client_time": e2eTS(now)}}
		res := raceAll(tl, urls, bodies)
		coOK, inOK := res[0].status == 200, res[1].status == 201
		if !coOK && (res[0].status != 409 || res[0].code != "signed_in_elsewhere") {
			t.Fatalf("round %d: checkout got %d %s, want 200 or 409 signed_in_elsewhere", round, res[0].status, res[0].raw)
		}
		if !inOK && (res[1].status != 409 || res[1].code != "signed_in_elsewhere") {
			t.Fatalf("round %d: sign-in got %d %s, want 201 or 409 signed_in_elsewhere", round, res[1].status, res[1].raw)
		}
		if coOK && inOK {
			both++
			if both == 1 { // the evidence, once: both are live at the same time
				c := coCheckoutOf(t, coLicence(tl, "P1"))
				u := tl.must(200, "GET", e2eAcme+"/users/a@x.example", nil).Body
				sess, _ := u["session"].(map[string]any)
				t.Logf("round %d: licence checkout %v and user session %v", round, c, sess)
			}
		}
		// Reset: check in, sign out.
		if coOK {
			tl.must(200, "POST", e2eP1+"/checkin", nil)
		}
		if inOK {
			tl.must(204, "DELETE", e2eAcme+"/sessions/a@x.example", nil)
		}
	}
	if both > 0 {
		t.Errorf("in %d of %d rounds both the checkout to %s and the sign-in from %s succeeded: "+
			"the user held two machines (D1, F6)", both, rounds, coMA, coMB)
	}
	tl.checkStream()
}

// ofTypeCo returns the events of type typ.
func ofTypeCo(evs []events.Event, typ string) []events.Event {
	var out []events.Event
	for _, e := range evs {
		if e.Type() == typ {
			out = append(out, e)
		}
	}
	return out
}

// rules F6, H5: two ledgers on one stream hold one checkout key: they
// publish the same public key, write the same .pub, and a token one issues
// verifies with the other's key.
func TestCheckoutKeyIsTheStreams(t *testing.T) {
	a, b := startPair(t, newClock(T0))
	a.setup()
	a.must(200, "POST", e2eP1+"/assign", e2eAssign("a@x.example"))
	b.waitReady()
	if ka, kb := coKey(a), coKey(b); !ka.Equal(kb) {
		t.Fatalf("GET /v1/keys/checkout differs between the ledgers: %x and %x", ka, kb)
	}
	until := T0.Add(24 * time.Hour)
	tok := coCheckout(a, "P1", "A@x.example", coMA, until)
	if _, err := checkout.Verify(coKey(b), tok, T0); err != nil {
		t.Errorf("a token of ledger a, verified with ledger b's key: %v", err)
	}
	for _, name := range []string{"events.ed25519.pub", "checkout.ed25519.pub"} {
		ka, erra := events.LoadPublicKey(filepath.Join(a.dir, "keys", name))
		kb, errb := events.LoadPublicKey(filepath.Join(b.dir, "keys", name))
		if erra != nil || errb != nil || !ka.Equal(kb) {
			t.Errorf("keys/%s: a %v (%v), b %v (%v); want the same key in both data directories", name, ka, erra, kb, errb)
		}
	}
}
