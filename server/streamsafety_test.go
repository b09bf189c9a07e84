package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/internal/poll"
	"github.com/entledger/ledger/projections"
)

// logLines is a logger's output that a test can wait on.
type logLines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logLines) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

// waitFor checks cond every few milliseconds until it holds, failing the
// test naming what if it does not within d.
func waitFor(tb testing.TB, d time.Duration, what string, cond func() bool) {
	tb.Helper()
	poll.Until(tb, d, what, cond)
}

// get answers GET url: its status and body.
func get(tb testing.TB, url string) (int, string) {
	tb.Helper()
	resp, err := http.Get(url)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// streamBreaks is the ledger_integrity_breaks_total{kind="stream"} line of
// the server's /metrics.
func streamBreaks(tb testing.TB, s *Server) string {
	tb.Helper()
	_, body := get(tb, "http://"+s.Addr()+"/metrics")
	for line := range strings.SplitSeq(body, "\n") {
		if strings.HasPrefix(line, `ledger_integrity_breaks_total{kind="stream"}`) {
			return strings.TrimSpace(strings.TrimPrefix(line, `ledger_integrity_breaks_total{kind="stream"}`))
		}
	}
	return ""
}

// outsider connects to s's embedded server as another client would.
func outsider(tb testing.TB, s *Server) jetstream.JetStream {
	tb.Helper()
	nc, err := nats.Connect("", nats.InProcessServer(s.Conn().Embedded), nats.UserInfo(LedgerNATSUser, s.conn.secrets.LedgerPassword))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	return js
}

// closeServer stops s, failing the test if it does not stop cleanly.
func closeServer(tb testing.TB, s *Server) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		tb.Fatalf("close: %v", err)
	}
}

// rule S7: a stream deleted under a running ledger is an integrity break at
// once (the stream check runs on JetStream's advisory; its own interval is
// an hour here), logged and counted, and /readyz answers 503 naming it. The
// projections stop following: a stream created again under the name, with
// more events than they applied, is not applied to them, and is reported as
// created again. Stopped, the ledger refuses to start on that stream,
// naming what it expected and what it found, changes nothing, and keeps its
// projections as they were; started with NewStream (--new-stream) it starts
// over on it, keeping the old projections aside.
func TestStreamDeletedUnderRunningLedger(t *testing.T) {
	dir := t.TempDir()
	var logs logLines
	cfg := Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", NoReminders: true, StreamCheckInterval: time.Hour, Logger: logs.logger()}
	ctx := context.Background()
	s, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if s != nil {
			closeServer(t, s)
		}
	}()
	base := "http://" + s.Addr()
	waitFor(t, 10*time.Second, "/readyz 200", func() bool { code, _ := get(t, base+"/readyz"); return code == 200 })
	token, err := os.ReadFile(AdminTokenFile(dir))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"acme", "beta"} {
		req, _ := http.NewRequest("POST", base+"/v1/accounts",
			strings.NewReader(`{"id":"`+id+`","name":"A","fulfillment_contact":"ops@`+id+`.example"}`))
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("create account %s: %s", id, resp.Status)
		}
	}
	applied := s.Store().Checkpoint()
	before, err := s.Store().Digest()
	if err != nil {
		t.Fatal(err)
	}
	identity := StreamIdentity(s.Conn().Stream.CachedInfo())

	js := outsider(t, s)
	if err := js.DeleteStream(ctx, StreamName); err != nil {
		t.Fatal(err)
	}
	deleted := time.Now()
	waitFor(t, 5*time.Second, "a logged integrity break naming the deleted stream", func() bool {
		return strings.Contains(logs.String(), "integrity break") && strings.Contains(logs.String(), "does not exist: it was deleted")
	})
	t.Logf("the deletion was logged as a break %s after it", time.Since(deleted).Round(time.Millisecond))
	if got := streamBreaks(t, s); got == "" || got == "0" {
		t.Errorf("ledger_integrity_breaks_total{kind=\"stream\"} %q, want at least 1", got)
	}
	code, body := get(t, base+"/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "does not exist") {
		t.Errorf("/readyz with the stream deleted: %d %s, want 503 naming it", code, body)
	}
	waitFor(t, 5*time.Second, "the projections stop following", func() bool { lost, _ := s.gate.state(); return lost != "" })

	// Someone creates the stream again and fills it past the checkpoint.
	if _, err := js.CreateStream(ctx, StreamConfig(1)); err != nil {
		t.Fatal(err)
	}
	for i := range applied + 3 {
		subject := events.Subject("acme", events.AggregateLicense, fmt.Sprintf("X%d", i))
		if _, err := js.Publish(ctx, subject, []byte("{}")); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, "the stream created again reported", func() bool {
		return strings.Contains(logs.String(), "deleted and created again")
	})
	code, body = get(t, base+"/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "created again") {
		t.Errorf("/readyz on a stream created again: %d %s, want 503 naming it", code, body)
	}
	closeServer(t, s)
	s = nil
	if cp, digest, err := ProjectionsDigest(dir); err != nil || cp != applied || digest != before {
		t.Fatalf("projections after the other stream: checkpoint %d, digest %s, %v; want %d and %s as before", cp, digest, err, applied, before)
	}

	// The restart refuses, naming both streams, and changes nothing.
	_, err = Start(ctx, cfg)
	if !errors.Is(err, ErrStreamReplaced) {
		t.Fatalf("start on the stream created again: %v, want ErrStreamReplaced", err)
	}
	for _, want := range []string{identity, fmt.Sprintf("up to sequence %d", applied), fmt.Sprintf("last sequence %d", applied+3), "--new-stream"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not name %q", err, want)
		}
	}
	t.Logf("refusal: %v", err)
	if cp, digest, err := ProjectionsDigest(dir); err != nil || cp != applied || digest != before {
		t.Fatalf("projections after the refusal: checkpoint %d, digest %s, %v; want %d and %s as before", cp, digest, err, applied, before)
	}

	// --new-stream starts over on it; the old projections are kept.
	cfg.NewStream = true
	if s, err = Start(ctx, cfg); err != nil {
		t.Fatalf("start with NewStream: %v", err)
	}
	waitFor(t, 10*time.Second, "/readyz 200 on the new stream", func() bool { code, _ := get(t, "http://"+s.Addr()+"/readyz"); return code == 200 })
	if got := StreamIdentity(s.Conn().Stream.CachedInfo()); got == identity {
		t.Errorf("started over on %s, the old stream", got)
	}
	kept, _ := filepath.Glob(filepath.Join(dir, "projections.old-*"))
	if len(kept) != 1 {
		t.Fatalf("projections set aside: %v, want one", kept)
	}
	if d := digestOf(t, kept[0]); d != before {
		t.Errorf("the projections set aside have digest %s, want %s", d, before)
	}
	closeServer(t, s)
	s = nil
	cfg.NewStream = false
	if s, err = Start(ctx, cfg); err != nil {
		t.Fatalf("restart on the new stream without NewStream: %v", err)
	}
	closeServer(t, s)
	cfg.NewStream = true
	s, err = Start(ctx, cfg)
	if err == nil || !strings.Contains(err.Error(), "nothing to start over") {
		t.Errorf("NewStream on the stream the projections know: %v, want a refusal", err)
	}
	if s != nil {
		closeServer(t, s)
		s = nil
	}
}

// digestOf is the digest of the projections in dir.
func digestOf(tb testing.TB, dir string) string {
	tb.Helper()
	st, err := projections.Open(dir, projections.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	defer st.Close()
	d, err := st.Digest()
	if err != nil {
		tb.Fatal(err)
	}
	return d
}
