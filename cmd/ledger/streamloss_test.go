package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/server"
)

// Item 8.3: after a stream update deleted messages (max_msgs_per_subject = 1
// and back), `ledger verify` reports it and exits 1, and `ledger rebuild`
// refuses with the count, until told --accept-deleted.
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
	closeCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := srv.Close(closeCtx); err != nil {
		t.Fatal(err)
	}

	const want = "deleted messages: 4 "
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
}
