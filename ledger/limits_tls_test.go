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

	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/server"
)

// Item 7 (abuse limits), over HTTP: past its rate a token is answered 429
// with Retry-After, after its body was read and decoded (S2: a malformed
// body is still 400; the values themselves are checked by the command,
// after the charge); reads are not limited; another token goes on; the
// bucket refills with the clock.
func TestRateLimitPerToken(t *testing.T) {
	c := newClock(T0)
	tl := startConfigured(t, server.Config{HTTPAddr: "127.0.0.1:0", NoReminders: true, RateLimit: 1}, c)
	tl.must(201, "POST", "/v1/accounts", map[string]any{"id": "acme", "name": "Acme", "fulfillment_contact": "ops@acme.example"})
	other := authToken(tl, events.RoleAccountAdmin, "acme") // the burst of 2 is spent
	r := tl.do("POST", "/v1/accounts/acme/users", map[string]any{"email": "a@x.example", "entitlement_country": "DE"})
	if r.Status != 429 || r.code() != "rate_limited" {
		t.Fatalf("past the rate: %d %s, want 429", r.Status, r.Raw)
	}
	if r := tl.do("POST", "/v1/accounts/acme/users", map[string]any{"emial": "a@x.example"}); r.Status != 400 {
		t.Errorf("a malformed body past the rate: %d, want 400 (the body is read and checked first)", r.Status)
	}
	if r := tl.do("GET", "/v1/accounts/acme", nil); r.Status != 200 {
		t.Errorf("a read past the rate: %d, want 200 (reads are not rate limited)", r.Status)
	}
	tl.must(201, "POST", "/v1/accounts/acme/users", map[string]any{"email": "b@x.example", "entitlement_country": "DE"},
		"Authorization", "Bearer "+other)
	c.Advance(time.Second)
	tl.must(201, "POST", "/v1/accounts/acme/users", map[string]any{"email": "a@x.example", "entitlement_country": "DE"})
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
