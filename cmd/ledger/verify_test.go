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

// rule H3: `ledger verify` exits 0 on a stream the ledger alone wrote, and
// 1 naming the first break once a forged event is on it: a well-formed
// event on an acme subject, published beside the ledger, without its MAC
// or signature.
func TestVerifyExitCodeWithForgedEvent(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	at := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	forged := events.Event{ID: events.NewID(), Account: "acme", AggregateID: "P9", OccurredAt: at, RecordedAt: at,
		Actor: "intruder", CommandID: events.NewID(), CorrelationID: "forged",
		Data: events.LicenseCreated{ID: "P9", Kind: events.KindPractitioner, Products: []string{"microstation"},
			ValidFrom: at, ValidUntil: at.AddDate(5, 0, 0)}}
	data, err := events.Marshal(forged)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.Start(ctx, server.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", NoReminders: true})
	if err != nil {
		t.Fatal(err)
	}
	stop := func() {
		t.Helper()
		closeCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := srv.Close(closeCtx); err != nil {
			t.Fatal(err)
		}
	}
	stop()

	code, stdout, stderr := run("verify", "--data", dir)
	if code != 0 || !strings.Contains(stdout, "ok:") {
		t.Fatalf("verify of the ledger's own stream: exit %d, stdout %q, stderr %q; want 0 and ok", code, stdout, stderr)
	}

	if srv, err = server.Start(ctx, server.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", NoReminders: true}); err != nil {
		t.Fatal(err)
	}
	ack, err := srv.Conn().JS.Publish(ctx, forged.Subject(), data)
	if err != nil {
		t.Fatal(err)
	}
	stop()
	code, stdout, stderr = run("verify", "--data", dir)
	want := fmt.Sprintf("1 break; the first at sequence %d on %s:", ack.Sequence, forged.Subject())
	if code != 1 || !strings.Contains(stdout, want) || !strings.Contains(stderr, "does not verify") {
		t.Errorf("verify after a forged event: exit %d, stdout %q, stderr %q; want 1 and %q", code, stdout, stderr, want)
	}
}
