package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/server"
)

// Item 8.3, rule S7: after a stream update deleted messages
// (max_msgs_per_subject = 1 and back), the running ledger's /readyz answers
// 503 naming them, `ledger verify` reports it and exits 1, and `ledger
// rebuild` refuses with the count, until told --accept-deleted; a ledger
// started on the projections that accepted the loss is ready again.
func TestRebuildAndVerifyRefuseDeletedMessages(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	srv, err := server.Start(ctx, server.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", NoReminders: true})
	if err != nil {
		t.Fatal(err)
	}
	js := srv.Conn().JS
	for i := range 6 {
		if _, err := js.Publish(ctx, events.Subject("acme", events.AggregateLicense, fmt.Sprintf("P%d", i%2)), []byte("{}")); err != nil {
			t.Fatal(err)
		}
	}
	cfg := server.StreamConfig(1)
	for _, limit := range []int64{1, -1} {
		cfg.MaxMsgsPerSubject = limit
		if _, err := js.UpdateStream(ctx, cfg); err != nil {
			t.Fatal(err)
		}
	}
	const want = "deleted messages: 4 "
	if code, body := readyz(t, srv); code != http.StatusServiceUnavailable || !strings.Contains(body, want) {
		t.Errorf("/readyz of a stream that lost messages: %d %s, want 503 naming them", code, body)
	}
	closeCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := srv.Close(closeCtx); err != nil {
		t.Fatal(err)
	}

	code, stdout, stderr := run("verify", "--data", dir)
	if code != 1 || !strings.Contains(stdout, want) {
		t.Errorf("verify: exit %d, stdout %q, stderr %q; want 1 and the deleted messages", code, stdout, stderr)
	}
	code, stdout, stderr = run("rebuild", "--data", dir)
	if code != 1 || !strings.Contains(stderr, want) || !strings.Contains(stderr, "--accept-deleted") {
		t.Errorf("rebuild: exit %d, stderr %q; want 1, the count and --accept-deleted", code, stderr)
	}
	t.Logf("verify and rebuild:\n%s\n%s", stdout, stderr)
	code, stdout, stderr = run("rebuild", "--data", dir, "--accept-deleted")
	if code != 0 || !strings.Contains(stdout, "lost 4 messages") {
		t.Errorf("rebuild --accept-deleted: exit %d, stdout %q, stderr %q; want 0 and a warning", code, stdout, stderr)
	}
	srv, err = server.Start(ctx, server.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", NoReminders: true, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(ctx)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for deadline := time.Now().Add(10 * time.Second); ; <-tick.C {
		code, body := readyz(t, srv)
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz after the loss was accepted: %d %s, want 200", code, body)
		}
	}
}

// readyz is srv's answer to GET /readyz.
func readyz(t *testing.T, srv *server.Server) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + srv.Addr() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
