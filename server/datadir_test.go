package server_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/entledger/ledger/server"
)

func startServer(tb testing.TB, dir string) *server.Server {
	tb.Helper()
	srv, err := server.Start(context.Background(), server.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0"})
	if err != nil {
		tb.Fatalf("start: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Close(ctx)
	})
	return srv
}

// A second process on a live data directory is refused before it opens
// anything, with a message naming the directory and the holder's pid; once
// the first one stops, the directory can be opened again.
func TestDataDirOneProcess(t *testing.T) {
	dir := t.TempDir()
	first, err := server.OpenDataDir(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	_, err = server.OpenDataDir(dir, true)
	if !errors.Is(err, server.ErrDataDirInUse) {
		t.Fatalf("second open: %v, want ErrDataDirInUse", err)
	}
	for _, want := range []string{"another ledger process is using " + dir, "pid " + strconv.Itoa(os.Getpid()), "stop the ledger"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not say %q", err, want)
		}
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := server.OpenDataDir(dir, true)
	if err != nil {
		t.Fatalf("open after close: %v", err)
	}
	again.Close()
}

// Every subcommand that opens a live ledger's data directory is refused by
// its lock: a second serve, rebuild, digest, and verify with the embedded
// server. The second serve creates nothing: no second JetStream starts on
// the same files.
func TestDataDirRefusedWhileServing(t *testing.T) {
	dir := t.TempDir()
	startServer(t, dir)
	before, _ := os.ReadDir(dir)
	ctx := context.Background()
	_, serveErr := server.Start(ctx, server.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0"})
	_, rebuildErr := server.RebuildProjections(ctx, server.Config{DataDir: dir})
	_, _, digestErr := server.ProjectionsDigest(dir)
	_, verifyErr := server.DialExisting(ctx, server.Config{DataDir: dir})
	for name, err := range map[string]error{"serve": serveErr, "rebuild": rebuildErr, "digest": digestErr, "verify": verifyErr} {
		if !errors.Is(err, server.ErrDataDirInUse) || !strings.Contains(err.Error(), "pid ") {
			t.Errorf("%s beside a live ledger: %v, want the data directory in use, with the pid", name, err)
		}
	}
	if after, _ := os.ReadDir(dir); len(after) != len(before) {
		t.Errorf("the refused commands changed the data directory: %d entries before, %d after", len(before), len(after))
	}
}

// The read-only subcommands refuse a directory that holds no ledger, and
// create nothing there.
func TestDataDirNoLedger(t *testing.T) {
	typo := filepath.Join(t.TempDir(), "dta")
	ctx := context.Background()
	_, _, digestErr := server.ProjectionsDigest(typo)
	_, rebuildErr := server.RebuildProjections(ctx, server.Config{DataDir: typo})
	_, verifyErr := server.DialExisting(ctx, server.Config{DataDir: typo})
	for name, err := range map[string]error{"digest": digestErr, "rebuild": rebuildErr, "verify": verifyErr} {
		if !errors.Is(err, server.ErrNoLedger) || !strings.Contains(err.Error(), typo) {
			t.Errorf("%s on a missing directory: %v, want ErrNoLedger naming it", name, err)
		}
	}
	if _, err := os.Stat(typo); !os.IsNotExist(err) {
		t.Errorf("a read-only command created %s", typo)
	}
	empty := t.TempDir()
	if _, _, err := server.ProjectionsDigest(empty); !errors.Is(err, server.ErrNoLedger) {
		t.Errorf("digest on an empty directory: %v, want ErrNoLedger", err)
	}
	if entries, _ := os.ReadDir(empty); len(entries) != 0 {
		t.Errorf("digest left %d entries in an empty directory", len(entries))
	}
}

// --nats-url failures name the setting and the URL.
func TestNATSURLErrorNamesTheSetting(t *testing.T) {
	_, err := server.Start(context.Background(), server.Config{DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0",
		NATSURLs: []string{"nats://127.0.0.1:1"}})
	if err == nil || !strings.Contains(err.Error(), "--nats-url nats://127.0.0.1:1") {
		t.Fatalf("start against nothing: %v, want the setting and the URL named", err)
	}
}
