package ledger_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/entledger/ledger/internal/natscluster"
	"github.com/entledger/ledger/internal/natsproc"
	"github.com/entledger/ledger/internal/testlock"
	"github.com/entledger/ledger/server"
)

// This file proves the bounds of a ledger's waits on the stream (rule H5,
// docs/operations.md: Losing a server): a command is answered within its
// deadline when the stream answers nothing, and the projections follow
// again at once when their consumer is lost.

// rule H5: a command sent while its NATS server hangs (the process
// stopped: the connection stays open, nothing is answered) is answered
// 503 within the command deadline, not when the server comes back; its
// retry with the same Idempotency-Key, once the server answers, lands the
// command once.
func TestCommandAnsweredWithinItsDeadline(t *testing.T) {
	testlock.Heavy(t)
	s, env := natscluster.Secrets(t)
	ports := natsproc.FreePorts(t, 2)
	p := natsproc.Start(t, natsproc.Options{Config: natscluster.Conf("server.conf"), Env: append(env, "NATS_STORE_DIR="+t.TempDir()),
		Port: ports[0], Args: []string{"-m", fmt.Sprint(ports[1])}})
	const deadline = time.Second
	tl := startConfigured(t, server.Config{HTTPAddr: "127.0.0.1:0", NATSURLs: []string{p.URL()}, NATSPassword: s.LedgerPassword,
		NoReminders: true, CommandTimeout: deadline}, nil)
	tl.must(201, "POST", "/v1/accounts", map[string]any{"id": "acme", "name": "Acme", "fulfillment_contact": "ops@acme.example"})

	p.Pause()
	resumed := false
	defer func() {
		if !resumed {
			p.Resume()
		}
	}()
	user := []byte(`{"email": "late@x.example", "entitlement_country": "DE"}`)
	post := func() int {
		t.Helper()
		// Not tl.do, which fails the test on a 5xx: this one is expected.
		req, err := http.NewRequest("POST", tl.base+"/v1/accounts/acme/users", bytes.NewReader(user))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tl.token)
		req.Header.Set("Idempotency-Key", "late-user")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for range 3 {
		start := time.Now()
		status := post()
		took := time.Since(start)
		if status != 503 {
			t.Fatalf("a command while the server hangs: %d, want 503", status)
		}
		if took > deadline+time.Second {
			t.Errorf("a command while the server hangs was answered after %s; its deadline is %s", took.Round(time.Millisecond), deadline)
		}
	}
	p.Resume()
	resumed = true
	eventually(t, 30*time.Second, "the command answered once the server answers", func() bool { return post() == 201 })
	if again := tl.must(201, "POST", "/v1/accounts/acme/users", user, "Idempotency-Key", "late-user"); again.Body["email"] != "late@x.example" {
		t.Errorf("the replay answered %s", again.Raw)
	}
	n := 0
	for _, e := range tl.checkStream() {
		if e.Type() == "user.registered" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d user.registered events, want 1", n)
	}
}

// rule H5: when the projections' consumer is lost (deleted here; on a
// cluster, gone with its server), they follow again at once from their
// checkpoint, and a command, which waits for them to show its write, is
// answered.
func TestProjectionsFollowAgainAfterTheirConsumerIsLost(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.must(201, "POST", "/v1/accounts", map[string]any{"id": "acme", "name": "Acme", "fulfillment_contact": "ops@acme.example"})
	ctx := context.Background()
	st := tl.srv.Conn().Stream
	var deleted []string
	for name := range st.ConsumerNames(ctx).Name() {
		if strings.HasPrefix(name, "ledger_projections_") {
			if err := st.DeleteConsumer(ctx, name); err != nil {
				t.Fatal(err)
			}
			deleted = append(deleted, name)
		}
	}
	if len(deleted) != 1 {
		t.Fatalf("deleted the consumers %v, want the projections' one", deleted)
	}
	for i := range 5 {
		start := time.Now()
		tl.must(201, "POST", "/v1/accounts/acme/users", map[string]any{"email": fmt.Sprintf("u%d@x.example", i), "entitlement_country": "DE"})
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("a command after the projections' consumer was lost took %s", took.Round(time.Millisecond))
		}
	}
	tl.waitReady()
	if got := tl.must(200, "GET", "/v1/accounts/acme/users", nil).Body["items"].([]any); len(got) != 5 {
		t.Errorf("%d users listed, want 5", len(got))
	}
	tl.checkStream()
}
