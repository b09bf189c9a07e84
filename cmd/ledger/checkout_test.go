package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/entledger/ledger/checkout"
	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/server"
)

// Tests of `ledger checkout verify TOKEN --key FILE` (F6): a client verifies
// an offline checkout token with nothing but the checkout public key.

// coIssued is when the tokens of these tests are issued.
var coIssued = time.Date(2026, 1, 5, 1, 0, 0, 0, time.UTC)

// coToken is a token of these tests, valid for 48 hours from coIssued.
func coToken() checkout.Token {
	return checkout.Token{TokenID: "0123456789abcdef0123456789abcdef", Account: "acme", LicenseID: "P1",
		Email: "ada@acme.example", MachineID: "WS-0042.acme", Products: []string{"microstation", "revit"},
		IssuedAt: coIssued, ExpiresAt: coIssued.Add(48 * time.Hour)}
}

// coKeyPair makes a key pair and writes its public key as PEM into dir,
// as GET /v1/keys/checkout serves it; it returns the private key and the
// path of the public key file.
func coKeyPair(tb testing.TB, dir, name string) (ed25519.PrivateKey, string) {
	tb.Helper()
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, events.PublicKeyPEM(pub), 0o644); err != nil {
		tb.Fatal(err)
	}
	return priv, path
}

// coSign signs tok with key.
func coSign(tb testing.TB, key ed25519.PrivateKey, tok checkout.Token) string {
	tb.Helper()
	s, err := checkout.Sign(key, tok)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// coRun runs the ledger command line and returns its output and error.
func coRun(args ...string) (string, string, error) {
	var out, errOut bytes.Buffer
	err := Run(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), err
}

// coAt is t as --at takes it.
func coAt(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// rule F6: a valid token verifies: exit nil, and the output names the
// email, the licence, the account and the machine. The token may come
// before or after the flags.
func TestCheckoutVerifyValid(t *testing.T) {
	dir := t.TempDir()
	key, pubPath := coKeyPair(t, dir, "checkout.pub")
	tok := coToken()
	s := coSign(t, key, tok)
	for name, args := range map[string][]string{
		"token first":   {"checkout", "verify", s, "--key", pubPath, "--at", coAt(coIssued)},
		"flags first":   {"checkout", "verify", "--key", pubPath, "--at", coAt(coIssued.Add(time.Hour)), s},
		"last instant":  {"checkout", "verify", s, "--key", pubPath, "--at", coAt(tok.ExpiresAt.Add(-time.Nanosecond))},
		"newline after": {"checkout", "verify", s + "\n", "--key", pubPath, "--at", coAt(coIssued)},
	} {
		t.Run(name, func(t *testing.T) {
			out, _, err := coRun(args...)
			if err != nil {
				t.Fatalf("Run: got %v, want nil", err)
			}
			for _, want := range []string{tok.Email, tok.LicenseID, tok.Account, tok.MachineID, tok.TokenID} {
				if !strings.Contains(out, want) {
					t.Errorf("output %q does not contain %q", out, want)
				}
			}
		})
	}
}

// rule F6: without --at the token is checked against the real clock now.
func TestCheckoutVerifyNow(t *testing.T) {
	dir := t.TempDir()
	key, pubPath := coKeyPair(t, dir, "checkout.pub")
	tok := coToken()
	tok.IssuedAt = time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	tok.ExpiresAt = tok.IssuedAt.Add(48 * time.Hour)
	if _, _, err := coRun("checkout", "verify", coSign(t, key, tok), "--key", pubPath); err != nil {
		t.Errorf("a token valid now: got %v, want nil", err)
	}
	tok.ExpiresAt = tok.IssuedAt.Add(30 * time.Minute) // expired half an hour ago
	if _, _, err := coRun("checkout", "verify", coSign(t, key, tok), "--key", pubPath); err == nil {
		t.Errorf("a token expired before now: got nil, want an error")
	}
}

// rule F6: a token is honoured only while issued_at <= now < expires_at:
// exactly at expires_at, and before issued_at, it is refused.
func TestCheckoutVerifyExpired(t *testing.T) {
	dir := t.TempDir()
	key, pubPath := coKeyPair(t, dir, "checkout.pub")
	tok := coToken()
	s := coSign(t, key, tok)
	for name, at := range map[string]time.Time{
		"at expires_at":    tok.ExpiresAt,
		"after expires_at": tok.ExpiresAt.Add(24 * time.Hour),
		"before issued_at": tok.IssuedAt.Add(-time.Nanosecond),
	} {
		t.Run(name, func(t *testing.T) {
			out, _, err := coRun("checkout", "verify", s, "--key", pubPath, "--at", coAt(at))
			if err == nil {
				t.Fatalf("Run: got nil (output %q), want an error", out)
			}
			if !errors.Is(err, checkout.ErrInvalid) {
				t.Errorf("Run: got %v, want checkout.ErrInvalid", err)
			}
			if strings.Contains(out, "valid checkout token") {
				t.Errorf("output %q claims the token is valid", out)
			}
		})
	}
}

// rule F6: a token signed by another key is refused.
func TestCheckoutVerifyWrongKey(t *testing.T) {
	dir := t.TempDir()
	key, _ := coKeyPair(t, dir, "checkout.pub")
	_, otherPath := coKeyPair(t, dir, "other.pub")
	out, _, err := coRun("checkout", "verify", coSign(t, key, coToken()), "--key", otherPath, "--at", coAt(coIssued))
	if err == nil {
		t.Fatalf("Run with another key: got nil (output %q), want an error", out)
	}
	if !errors.Is(err, checkout.ErrInvalid) {
		t.Errorf("Run with another key: got %v, want checkout.ErrInvalid", err)
	}
}

// rule F6: any change to a token is refused: a changed payload (a longer
// expiry, another machine), a changed signature, a payload re-encoded.
func TestCheckoutVerifyTampered(t *testing.T) {
	dir := t.TempDir()
	key, pubPath := coKeyPair(t, dir, "checkout.pub")
	s := coSign(t, key, coToken())
	payload, sig, ok := strings.Cut(strings.TrimPrefix(s, "LCK1."), ".")
	if !ok {
		t.Fatalf("token %q: want LCK1.payload.signature", s)
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		t.Fatal(err)
	}
	reencode := func(from, to string) string {
		if !bytes.Contains(raw, []byte(from)) {
			t.Fatalf("payload %s does not contain %q", raw, from)
		}
		changed := bytes.Replace(raw, []byte(from), []byte(to), 1)
		return "LCK1." + base64.RawURLEncoding.EncodeToString(changed) + "." + sig
	}
	flip := func(x string, i int) string {
		b := []byte(x)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	for name, bad := range map[string]string{
		"later expiry":      reencode(`"expires_at":"2026-01-07T01:00:00Z"`, `"expires_at":"2027-01-07T01:00:00Z"`),
		"other machine":     reencode(`"machine_id":"WS-0042.acme"`, `"machine_id":"WS-0043.acme"`),
		"other email":       reencode(`"email":"ada@acme.example"`, `"email":"bob@acme.example"`),
		"payload bit":       "LCK1." + flip(payload, 20) + "." + sig,
		"signature bit":     "LCK1." + payload + "." + flip(sig, 7),
		"signature dropped": "LCK1." + payload,
		"prefix changed":    "LCK2." + payload + "." + sig,
	} {
		t.Run(name, func(t *testing.T) {
			out, _, err := coRun("checkout", "verify", bad, "--key", pubPath, "--at", coAt(coIssued))
			if err == nil {
				t.Fatalf("Run: got nil (output %q), want an error", out)
			}
			if !errors.Is(err, checkout.ErrInvalid) {
				t.Errorf("Run: got %v, want checkout.ErrInvalid", err)
			}
		})
	}
}

// rule F6: --json prints what the token says, with the field names of the
// token format.
func TestCheckoutVerifyJSON(t *testing.T) {
	dir := t.TempDir()
	key, pubPath := coKeyPair(t, dir, "checkout.pub")
	tok := coToken()
	out, _, err := coRun("checkout", "verify", coSign(t, key, tok), "--key", pubPath, "--at", coAt(coIssued), "--json")
	if err != nil {
		t.Fatalf("Run --json: %v", err)
	}
	var got checkout.Token
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("--json output %q: %v", out, err)
	}
	if !reflect.DeepEqual(got, tok) {
		t.Errorf("--json: got %+v, want %+v", got, tok)
	}
	var fields map[string]any
	if err := json.Unmarshal([]byte(out), &fields); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"token_id": tok.TokenID, "account": "acme", "license_id": "P1", "email": "ada@acme.example",
		"machine_id": "WS-0042.acme", "products": []any{"microstation", "revit"},
		"issued_at": "2026-01-05T01:00:00Z", "expires_at": "2026-01-07T01:00:00Z",
	}
	if !reflect.DeepEqual(fields, want) {
		t.Errorf("--json fields: got %v, want %v", fields, want)
	}
}

// rule F6: bad invocations fail with a message naming what is wrong.
func TestCheckoutVerifyUsage(t *testing.T) {
	dir := t.TempDir()
	key, pubPath := coKeyPair(t, dir, "checkout.pub")
	s := coSign(t, key, coToken())
	privPath := filepath.Join(dir, "checkout.ed25519")
	if _, err := events.LoadOrCreateKey(privPath); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no subcommand", []string{"checkout"}, "verify"},
		{"other subcommand", []string{"checkout", "sign", s}, "verify"},
		{"no token", []string{"checkout", "verify", "--key", pubPath}, "TOKEN"},
		{"no key", []string{"checkout", "verify", s}, "--key"},
		{"missing key file", []string{"checkout", "verify", s, "--key", filepath.Join(dir, "nope.pub")}, "--key"},
		{"private key as key", []string{"checkout", "verify", s, "--key", privPath}, "--key"},
		{"bad --at", []string{"checkout", "verify", s, "--key", pubPath, "--at", "tomorrow"}, "--at"},
		{"two tokens", []string{"checkout", "verify", s, "--key", pubPath, s}, "unexpected"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, _, err := coRun(c.args...)
			if err == nil {
				t.Fatalf("Run(%q): got nil (output %q), want an error naming %s", c.args, out, c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("Run(%q): got %q, want it to name %s", c.args, err, c.want)
			}
		})
	}
}

// rule F6, end to end: a token from a real ledger's checkout verifies with
// the key that ledger publishes at GET /v1/keys/checkout, and with its .pub
// file; it is refused at its until.
func TestCheckoutVerifyRealServer(t *testing.T) {
	dir := t.TempDir()
	now := coIssued
	srv, err := server.Start(context.Background(), server.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0",
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatalf("start ledger: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Close(ctx); err != nil {
			t.Errorf("close ledger: %v", err)
		}
	})
	base := "http://" + srv.Addr() + "/v1"
	call := func(method, path string, body any, want int) map[string]any {
		t.Helper()
		var rd io.Reader
		if body != nil {
			raw, err := json.Marshal(body)
			if err != nil {
				t.Fatal(err)
			}
			rd = bytes.NewReader(raw)
		}
		req, err := http.NewRequest(method, base+path, rd)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+adminToken(t, srv))
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, raw)
		}
		var out map[string]any
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
		return out
	}
	call("POST", "/accounts", map[string]any{"id": "acme", "name": "Acme", "fulfillment_contact": "it@acme.example"}, 201)
	call("POST", "/accounts/acme/users", map[string]any{"email": "ada@acme.example", "entitlement_country": "DE"}, 201)
	call("POST", "/accounts/acme/licenses", map[string]any{"id": "P1", "kind": "practitioner", "products": []string{"microstation"},
		"valid_from": "2026-01-01T00:00:00Z", "valid_until": "2027-01-01T00:00:00Z"}, 201)
	call("POST", "/accounts/acme/licenses/P1/assign", map[string]any{"email": "ada@acme.example"}, 200)
	until := now.Add(72 * time.Hour)
	co := call("POST", "/accounts/acme/licenses/P1/checkout",
		map[string]any{"email": "ada@acme.example", "machine_id": "WS-0042.acme", "until": coAt(until)}, 200)
	tok, _ := co["token"].(string)
	keyDoc := call("GET", "/keys/checkout", nil, 200)
	pem, _ := keyDoc["public_key_pem"].(string)
	pubPath := filepath.Join(t.TempDir(), "checkout.pub")
	if err := os.WriteFile(pubPath, []byte(pem), 0o644); err != nil {
		t.Fatal(err)
	}
	// The answer of GET /v1/keys/checkout itself, as curl -o would save it.
	resp, err := http.Get(base + "/keys/checkout")
	if err != nil {
		t.Fatal(err)
	}
	keyJSON, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	jsonPath := filepath.Join(t.TempDir(), "checkout-key.json")
	if err := os.WriteFile(jsonPath, keyJSON, 0o644); err != nil {
		t.Fatal(err)
	}

	for _, key := range []string{pubPath, jsonPath, filepath.Join(dir, "keys", "checkout.ed25519.pub")} {
		out, _, err := coRun("checkout", "verify", tok, "--key", key, "--at", coAt(now))
		if err != nil {
			t.Fatalf("verify with %s: %v", key, err)
		}
		if !strings.Contains(out, "ada@acme.example") || !strings.Contains(out, "WS-0042.acme") {
			t.Errorf("verify with %s: output %q, want the email and the machine", key, out)
		}
	}
	out, _, err := coRun("checkout", "verify", tok, "--key", pubPath, "--at", coAt(now), "--json")
	if err != nil {
		t.Fatal(err)
	}
	var got checkout.Token
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if got.Account != "acme" || got.LicenseID != "P1" || got.Email != "ada@acme.example" || got.MachineID != "WS-0042.acme" ||
		!got.IssuedAt.Equal(now) || !got.ExpiresAt.Equal(until) || !reflect.DeepEqual(got.Products, []string{"microstation"}) {
		t.Errorf("--json: got %+v", got)
	}
	if _, _, err := coRun("checkout", "verify", tok, "--key", pubPath, "--at", coAt(until)); err == nil {
		t.Errorf("verify at until: got nil, want an error")
	}
	// The ledger's private key file is not a public key: refused.
	if _, _, err := coRun("checkout", "verify", tok, "--key", filepath.Join(dir, "keys", "checkout.ed25519"), "--at", coAt(now)); err == nil {
		t.Errorf("verify with the private key file: got nil, want an error")
	}
}

// rule F6: --key takes what GET /v1/keys/checkout answers (its JSON) as
// well as a PEM public key, told apart by content; anything else fails
// naming the file and what is wanted.
func TestCheckoutVerifyKeyForms(t *testing.T) {
	dir := t.TempDir()
	key, pemPath := coKeyPair(t, dir, "checkout.pub")
	pub := key.Public().(ed25519.PublicKey)
	s := coSign(t, key, coToken())
	doc := func(fields map[string]any) []byte {
		d := map[string]any{"algorithm": "Ed25519", "key_id": events.KeyID(pub),
			"token_format": "LCK1.<base64url payload>.<base64url signature>",
			"signed":       "\"ledger checkout token v1\\n\" + payload", "public_key_pem": string(events.PublicKeyPEM(pub))}
		for k, v := range fields {
			if v == nil {
				delete(d, k)
			} else {
				d[k] = v
			}
		}
		raw, err := json.MarshalIndent(d, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		return append(raw, '\n')
	}
	write := func(name string, content []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, content, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	privPath := filepath.Join(dir, "checkout.ed25519")
	if _, err := events.LoadOrCreateKey(privPath); err != nil {
		t.Fatal(err)
	}
	pemBytes, _ := os.ReadFile(pemPath)
	for name, path := range map[string]string{
		"PEM":                     pemPath,
		"JSON":                    write("key.json", doc(nil)),
		"JSON without key_id":     write("nokeyid.json", doc(map[string]any{"key_id": nil, "algorithm": nil})),
		"PEM after blank lines":   write("blank.pub", append([]byte("\n\n"), pemBytes...)),
		"JSON after a blank line": write("blank.json", append([]byte("\n "), doc(nil)...)),
	} {
		if out, _, err := coRun("checkout", "verify", s, "--key", path, "--at", coAt(coIssued)); err != nil ||
			!strings.Contains(out, "valid checkout token") {
			t.Errorf("%s: got %q, %v; want the token verified", name, out, err)
		}
	}
	_, otherPub := coKeyPair(t, dir, "other.pub")
	otherPEM, _ := os.ReadFile(otherPub)
	for _, c := range []struct {
		name, path string
		want       []string
	}{
		{"garbage", write("garbage.txt", []byte("hello\n")), []string{"garbage.txt", "neither JSON nor PEM", "GET /v1/keys/checkout"}},
		{"empty", write("empty.pub", nil), []string{"empty.pub", "neither JSON nor PEM"}},
		{"bad JSON", write("bad.json", []byte(`{"public_key_pem": `)), []string{"bad.json", "not valid JSON", "GET /v1/keys/checkout"}},
		{"JSON without the key", write("nokey.json", doc(map[string]any{"public_key_pem": nil})), []string{"nokey.json", "public_key_pem"}},
		{"JSON of another algorithm", write("rsa.json", doc(map[string]any{"algorithm": "RSA"})), []string{"rsa.json", `"RSA"`, "Ed25519"}},
		{"JSON with another key's id", write("mixed.json", doc(map[string]any{"public_key_pem": string(otherPEM)})),
			[]string{"mixed.json", "key_id " + events.KeyID(pub)}},
		{"JSON of a PEM that is not a key", write("notkey.json", doc(map[string]any{"public_key_pem": "-----BEGIN X-----\n-----END X-----\n"})),
			[]string{"notkey.json", `not a PEM "PUBLIC KEY"`}},
		{"private key", privPath, []string{"checkout.ed25519", `not a PEM "PUBLIC KEY"`, "GET /v1/keys/checkout"}},
		{"missing file", filepath.Join(dir, "nope.pub"), []string{"--key", "nope.pub"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := coRun("checkout", "verify", s, "--key", c.path, "--at", coAt(coIssued))
			if err == nil {
				t.Fatalf("got nil, want an error")
			}
			for _, w := range append(c.want, "--key") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %s", err, w)
				}
			}
		})
	}
}
