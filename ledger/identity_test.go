package ledger_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/entledger/ledger/server"
)

// rule S7: projections built from one stream are never served against
// another, and no stream is created over them: with the stream lost, a start
// refuses and creates nothing, a rebuild refuses too, and only a start told
// --new-stream (Config.NewStream) starts over.
func TestProjectionsOfAnotherStreamAreRefused(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	dir := tl.dir
	tl.stop()
	if err := os.RemoveAll(filepath.Join(dir, "nats")); err != nil {
		t.Fatal(err)
	}
	_, err := server.Start(context.Background(), server.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0"})
	if !errors.Is(err, server.ErrStreamMissing) || !strings.Contains(err.Error(), "--new-stream") {
		t.Fatalf("start on a lost stream: %v, want ErrStreamMissing naming --new-stream", err)
	}
	if _, err := server.RebuildProjections(context.Background(), server.Config{DataDir: dir}); !errors.Is(err, server.ErrStreamMissing) {
		t.Fatalf("rebuild on a lost stream: %v, want ErrStreamMissing", err)
	}
	tl = startConfigured(t, server.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", NoReminders: true, NewStream: true}, nil)
	tl.must(404, "GET", "/v1/accounts/acme", nil)
	tl.must(201, "POST", "/v1/accounts", map[string]any{"id": "acme", "name": "Acme", "fulfillment_contact": "ops@acme.example"})
}

// A stream with events is only appended to with the key that signed them:
// no key is invented for it, and another key is refused (H3).
func TestSigningKeyMustMatchTheStream(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	dir := tl.dir
	tl.stop()
	keyPath := filepath.Join(dir, "keys", "events.ed25519")
	saved, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(keyPath)
	_, err = server.Start(context.Background(), server.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0"})
	if err == nil || !strings.Contains(err.Error(), "signing key") {
		t.Fatalf("start without the key: %v, want a refusal about the signing key", err)
	}
	if _, err := os.Stat(keyPath); err == nil {
		t.Error("a new key was created for a stream that already holds events")
	}
	other := filepath.Join(t.TempDir(), "other.ed25519")
	fresh, err := server.Start(context.Background(), server.Config{DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0",
		SigningKey: other})
	if err != nil {
		t.Fatalf("a fresh ledger with its own key: %v", err)
	}
	if err := fresh.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, err = server.Start(context.Background(), server.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", SigningKey: other})
	if err == nil || !strings.Contains(err.Error(), "did not write") {
		t.Fatalf("start with another key: %v, want a refusal", err)
	}
	if err := os.WriteFile(keyPath, saved, 0o600); err != nil {
		t.Fatal(err)
	}
	tl = startLedger(t, dir, nil)
	tl.must(200, "GET", "/v1/accounts/acme", nil)
}
