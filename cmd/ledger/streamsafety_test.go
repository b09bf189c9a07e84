package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/ledger"
	"github.com/entledger/ledger/projections"
	"github.com/entledger/ledger/server"
)

// ledgerRun starts a ledger on dir, creates the accounts ids, and stops it;
// it returns the stream's identity.
func ledgerRun(t *testing.T, dir string, ids ...string) string {
	t.Helper()
	ctx := context.Background()
	srv, err := server.Start(ctx, server.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", NoReminders: true, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if _, err := srv.Ledger().CreateAccount(ctx, ledger.Meta{},
			commands.CreateAccount{ID: id, Name: id, FulfillmentContact: "o@" + id + ".example"}); err != nil {
			t.Fatal(err)
		}
	}
	identity := server.StreamIdentity(srv.Conn().Stream.CachedInfo())
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := srv.Close(cctx); err != nil {
		t.Fatal(err)
	}
	return identity
}

// digest is the checkpoint and digest of dir's projections.
func digest(t *testing.T, dir string) (uint64, string) {
	t.Helper()
	cp, d, err := server.ProjectionsDigest(dir)
	if err != nil {
		t.Fatal(err)
	}
	return cp, d
}

// embeddedStreams lists the streams in the embedded JetStream store of
// dir (its LEDGER account, as the ledger starts it), and runs do (if not
// nil) on it first, as another client with the ledger's user would.
func embeddedStreams(t *testing.T, dir string, do func(jetstream.JetStream)) []string {
	t.Helper()
	secrets, err := server.EmbeddedSecrets(dir)
	if err != nil {
		t.Fatal(err)
	}
	ns, err := server.StartEmbedded(server.EmbeddedOptions{StoreDir: filepath.Join(dir, "nats"), Secrets: secrets})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
	nc, err := nats.Connect("", nats.InProcessServer(ns), nats.UserInfo(server.LedgerNATSUser, secrets.LedgerPassword))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if do != nil {
		do(js)
	}
	var names []string
	for name := range js.StreamNames(context.Background()).Name() {
		names = append(names, name)
	}
	return names
}

// rule S7: with the stream gone (DATA/nats lost), `ledger serve` refuses to
// start, naming the stream the projections were built from and the last
// sequence they applied, and creates nothing: no stream, no bucket;
// `ledger rebuild` refuses too; the projections are as they were.
func TestServeAndRebuildRefuseMissingStream(t *testing.T) {
	dir := t.TempDir()
	identity := ledgerRun(t, dir, "acme", "beta")
	cp, before := digest(t, dir)
	if err := os.RemoveAll(filepath.Join(dir, "nats")); err != nil {
		t.Fatal(err)
	}

	code, _, stderr := run("serve", "--data", dir, "--http", "127.0.0.1:0")
	for _, want := range []string{"is missing", identity, fmt.Sprintf("up to sequence %d", cp), "no stream LEDGER", "Nothing was created", "--new-stream"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("serve's refusal does not name %q:\n%s", want, stderr)
		}
	}
	if code != 1 {
		t.Errorf("serve: exit %d, want 1", code)
	}
	t.Logf("serve:\n%s", stderr)
	code, _, stderr = run("rebuild", "--data", dir)
	if code != 1 || !strings.Contains(stderr, "is missing") || !strings.Contains(stderr, identity) {
		t.Errorf("rebuild: exit %d, %s; want 1 and the missing stream", code, stderr)
	}
	if got := embeddedStreams(t, dir, nil); len(got) != 0 {
		t.Errorf("streams after the refusals: %v, want none", got)
	}
	if gotCP, got := digest(t, dir); gotCP != cp || got != before {
		t.Errorf("projections after the refusals: %d %s, want %d %s", gotCP, got, cp, before)
	}
}

// rule S7: `ledger rebuild` refuses to replace projections with a stream
// that holds less than they applied (an older backup restored) or with
// another stream, naming both, unless --force; it never loses the old
// projections: refused, they are as they were; forced, they are kept beside
// the new ones. `ledger serve` refuses the shorter stream too.
func TestRebuildRefusesShorterOrOtherStream(t *testing.T) {
	dir := t.TempDir()
	identity := ledgerRun(t, dir, "acme")
	backup := filepath.Join(t.TempDir(), "nats")
	if err := os.CopyFS(backup, os.DirFS(filepath.Join(dir, "nats"))); err != nil {
		t.Fatal(err)
	}
	ledgerRun(t, dir, "beta", "gamma")
	cp, before := digest(t, dir)

	// An older backup of the stream is restored: the same stream, shorter.
	restore := func(from string) {
		t.Helper()
		if err := os.RemoveAll(filepath.Join(dir, "nats")); err != nil {
			t.Fatal(err)
		}
		if err := os.CopyFS(filepath.Join(dir, "nats"), os.DirFS(from)); err != nil {
			t.Fatal(err)
		}
	}
	restore(backup)
	code, _, stderr := run("rebuild", "--data", dir)
	if code != 1 || !strings.Contains(stderr, "holds less") || !strings.Contains(stderr, identity) ||
		!strings.Contains(stderr, fmt.Sprintf("up to sequence %d", cp)) || !strings.Contains(stderr, "--force") {
		t.Errorf("rebuild on a shorter stream: exit %d, stderr %s; want 1 naming both and --force", code, stderr)
	}
	t.Logf("rebuild:\n%s", stderr)
	if gotCP, got := digest(t, dir); gotCP != cp || got != before {
		t.Fatalf("projections after the refused rebuild: %d %s, want %d %s", gotCP, got, cp, before)
	}
	code, _, stderr = run("serve", "--data", dir, "--http", "127.0.0.1:0")
	if code != 1 || !strings.Contains(stderr, "holds less") {
		t.Errorf("serve on a shorter stream: exit %d, stderr %s; want 1", code, stderr)
	}
	code, stdout, stderr := run("rebuild", "--data", dir, "--force")
	if code != 0 || !strings.Contains(stdout, "kept") {
		t.Fatalf("rebuild --force: exit %d, stdout %s, stderr %s", code, stdout, stderr)
	}
	if got := storeDigest(t, keptProjections(t, dir, 1)[0]); got != before {
		t.Errorf("the kept projections' digest %s, want %s", got, before)
	}
	if gotCP, _ := digest(t, dir); gotCP >= cp {
		t.Errorf("rebuilt projections at %d, want fewer than %d", gotCP, cp)
	}

	// Another stream under the name: refused, then forced.
	_, before = digest(t, dir)
	if err := os.RemoveAll(filepath.Join(dir, "nats")); err != nil {
		t.Fatal(err)
	}
	embeddedStreams(t, dir, func(js jetstream.JetStream) {
		ctx := context.Background()
		if _, err := server.EnsureStream(ctx, js, 1); err != nil {
			t.Fatal(err)
		}
		for i := range 20 {
			if _, err := js.Publish(ctx, events.Subject("acme", events.AggregateLicense, fmt.Sprint("P", i)), []byte("{}")); err != nil {
				t.Fatal(err)
			}
		}
	})
	code, _, stderr = run("rebuild", "--data", dir)
	if code != 1 || !strings.Contains(stderr, "not the one") || !strings.Contains(stderr, "created again") {
		t.Errorf("rebuild on another stream: exit %d, stderr %s; want 1", code, stderr)
	}
	if code, stdout, stderr = run("rebuild", "--data", dir, "--force"); code != 0 {
		t.Fatalf("rebuild --force on another stream: exit %d, stdout %s, stderr %s", code, stdout, stderr)
	}
	if got := storeDigest(t, keptProjections(t, dir, 2)[1]); got != before {
		t.Errorf("the projections kept the second time: digest %s, want %s", got, before)
	}
}

// keptProjections lists the projections rebuilds kept in dir, oldest
// first, failing unless there are n.
func keptProjections(t *testing.T, dir string, n int) []string {
	t.Helper()
	kept, err := filepath.Glob(filepath.Join(dir, "projections.old-*"))
	if err != nil || len(kept) != n {
		t.Fatalf("kept projections %v, %v; want %d", kept, err, n)
	}
	return kept
}

// storeDigest is the digest of the projections in dir.
func storeDigest(t *testing.T, dir string) string {
	t.Helper()
	s, err := projections.Open(dir, projections.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	d, err := s.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}
