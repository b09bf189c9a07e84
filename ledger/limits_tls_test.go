package ledger_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/ledger"
	"github.com/entledger/ledger/server"
)

// goToken makes a token through the Go API, which the HTTP limits do not
// meter.
func goToken(tl *testLedger, role, account string) string {
	tl.tb.Helper()
	tok, err := tl.srv.Ledger().CreateToken(context.Background(), ledger.Meta{Actor: "test"}, role+" "+account, role, account)
	if err != nil {
		tl.tb.Fatal(err)
	}
	return tok.Token
}

// Rules S2, S9 over HTTP: past its rate a token is answered 429 with what
// was exceeded, after its body was read and decoded (S2: a malformed body
// is still 400); reads that compute nothing are not limited; another token
// of the account shares the account's bucket, another account has its own;
// and the buckets run on the wall clock: moving the ledger's business clock
// by two days (as a test or an import of old data may) refills nothing. It
// did before issue 19.
func TestRateLimitPerTokenAndAccount(t *testing.T) {
	c := newClock(T0)
	tl := startConfigured(t, server.Config{HTTPAddr: "127.0.0.1:0", NoReminders: true, RateLimit: 0.01}, c)
	for _, id := range []string{"acme", "globex"} {
		if _, err := tl.srv.Ledger().CreateAccount(context.Background(), ledger.Meta{Actor: "test"},
			commands.CreateAccount{ID: id, Name: id, FulfillmentContact: "ops@" + id + ".example"}); err != nil {
			t.Fatal(err)
		}
	}
	tok1, tok2, tok3 := goToken(tl, events.RoleAccountAdmin, "acme"), goToken(tl, events.RoleAccountAdmin, "acme"),
		goToken(tl, events.RoleAccountAdmin, "globex")
	as := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }
	tl.must(201, "POST", "/v1/accounts/acme/users", map[string]any{"email": "a@x.example"}, as(tok1)...)
	r := tl.do("POST", "/v1/accounts/acme/users", map[string]any{"email": "b@x.example"}, as(tok1)...)
	if r.Status != 429 || r.code() != "rate_limited" || r.details()["limit"] != "commands" || r.details()["scope"] != "token" {
		t.Fatalf("past the token's rate: %d %s, want 429 naming commands of the token", r.Status, r.Raw)
	}
	if r := tl.do("POST", "/v1/accounts/acme/users", map[string]any{"emial": "a@x.example"}, as(tok1)...); r.Status != 400 {
		t.Errorf("a malformed body past the rate: %d, want 400 (the body is read and checked first)", r.Status)
	}
	if r := tl.do("GET", "/v1/accounts/acme", nil, as(tok1)...); r.Status != 200 {
		t.Errorf("a read past the rate: %d, want 200", r.Status)
	}
	c.Advance(48 * time.Hour)
	if r := tl.do("POST", "/v1/accounts/acme/users", map[string]any{"email": "b@x.example"}, as(tok1)...); r.Status != 429 {
		t.Errorf("after the business clock moved two days: %d %s, want 429 still (the buckets run on the wall clock)", r.Status, r.Raw)
	}
	r = tl.do("POST", "/v1/accounts/acme/users", map[string]any{"email": "b@x.example"}, as(tok2)...)
	if r.Status != 429 || r.details()["scope"] != "account" {
		t.Errorf("another token of the same account: %d %s, want 429 of the account", r.Status, r.Raw)
	}
	tl.must(201, "POST", "/v1/accounts/globex/users", map[string]any{"email": "g@x.example"}, as(tok3)...)
}

// TestRateLimitRetryAfter checks the header itself.
func TestRateLimitRetryAfter(t *testing.T) {
	c := newClock(T0)
	tl := startConfigured(t, server.Config{HTTPAddr: "127.0.0.1:0", NoReminders: true, RateLimit: 0.5}, c)
	tl.must(201, "POST", "/v1/accounts", map[string]any{"id": "acme", "name": "Acme", "fulfillment_contact": "ops@acme.example"})
	resp := tl.send("POST", "/v1/accounts", []byte(`{"id":"globex","name":"G","fulfillment_contact":"o@g.example"}`))
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "2" {
		t.Errorf("429 answer: %d, Retry-After %q; want 429 and 2", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key (with mode
// keyMode) into dir.
func selfSigned(t *testing.T, dir string, keyMode os.FileMode) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ledger"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), keyMode)
	os.Chmod(keyFile, keyMode)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// Item 6: the API over TLS; a key file others may read is refused.
func TestAPIOverTLS(t *testing.T) {
	certs := t.TempDir()
	cert, key, _ := selfSigned(t, certs, 0o644)
	_, err := server.Start(context.Background(), server.Config{DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", TLSCert: cert, TLSKey: key})
	if err == nil || !strings.Contains(err.Error(), "readable by others") {
		t.Fatalf("a world-readable key: %v, want a refusal", err)
	}
	cert, key, pool := selfSigned(t, certs, 0o600)
	srv, err := server.Start(context.Background(), server.Config{DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", TLSCert: cert, TLSKey: key,
		NoReminders: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get("https://" + srv.Addr() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || srv.Scheme() != "https" {
		t.Errorf("over TLS: %d, scheme %s", resp.StatusCode, srv.Scheme())
	}
	if resp, err := http.Get("http://" + srv.Addr() + "/healthz"); err == nil {
		if resp.StatusCode == 200 {
			t.Error("plain HTTP was served beside TLS")
		}
		resp.Body.Close()
	}
}
