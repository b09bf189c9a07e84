// Package ledgertest starts a real ledger (embedded JetStream listening on
// loopback, Pebble, the HTTP API) for the tests of programs that use it
// from outside, as the examples do. It is for tests only.
package ledgertest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/server"
)

// Ledger is a running ledger and its admin token.
type Ledger struct {
	T     testing.TB
	Dir   string
	Srv   *server.Server
	Token string
}

// Start starts a ledger on a temporary directory; the test's cleanup stops
// it.
func Start(t testing.TB) *Ledger { return StartIn(t, t.TempDir()) }

// StartIn starts a ledger on dir (a restart, if dir holds one); the test's
// cleanup stops it, unless Stop did.
func StartIn(t testing.TB, dir string) *Ledger {
	t.Helper()
	srv, err := server.Start(context.Background(), server.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", NATSListen: "127.0.0.1:0",
		NoReminders: true, SyncInterval: time.Minute, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(server.AdminTokenFile(dir))
	if err != nil {
		t.Fatal(err)
	}
	l := &Ledger{T: t, Dir: dir, Srv: srv, Token: strings.TrimSpace(string(raw))}
	t.Cleanup(l.Stop)
	return l
}

// Stop stops the ledger; calling it twice is fine.
func (l *Ledger) Stop() {
	if l.Srv == nil {
		return
	}
	http.DefaultClient.CloseIdleConnections()
	l.Srv.Close(context.Background())
	l.Srv = nil
}

// Post sends body as JSON with the admin token and wants a 2xx; it returns
// the answer.
func (l *Ledger) Post(path string, body any) []byte {
	l.T.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		l.T.Fatal(err)
	}
	req, err := http.NewRequest("POST", "http://"+l.Srv.Addr()+path, bytes.NewReader(raw))
	if err != nil {
		l.T.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+l.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		l.T.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		l.T.Fatalf("POST %s: %d %s", path, resp.StatusCode, out)
	}
	return out
}

// Subscriber makes subscriber credentials of account and writes them to a
// file, as a service's operator would; it returns the file.
func (l *Ledger) Subscriber(account, name string) string {
	l.T.Helper()
	path := filepath.Join(l.T.TempDir(), name+".json")
	if err := os.WriteFile(path, l.Post("/v1/accounts/"+account+"/subscribers", map[string]string{"name": name}), 0o600); err != nil {
		l.T.Fatal(err)
	}
	return path
}

// Key is the ledger's event public key.
func (l *Ledger) Key() ed25519.PublicKey {
	l.T.Helper()
	k, err := events.LoadKey(filepath.Join(l.Dir, "keys", "events.ed25519"))
	if err != nil {
		l.T.Fatal(err)
	}
	return k.Public().(ed25519.PublicKey)
}

// KeyFile writes the ledger's event public key (PEM) to a file.
func (l *Ledger) KeyFile() string {
	l.T.Helper()
	path := filepath.Join(l.T.TempDir(), "events.pub")
	if err := os.WriteFile(path, events.PublicKeyPEM(l.Key()), 0o644); err != nil {
		l.T.Fatal(err)
	}
	return path
}
