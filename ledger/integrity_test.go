package ledger_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/ledger"
	"github.com/entledger/ledger/server"
)

// Tests of what someone with a plain NATS client and rights on the ledger's
// stream and bucket can try, and how the ledger detects it or makes it
// impossible (issue "Authentication, tenant isolation and scoped NATS
// access", item 8).

// rawJS is a NATS client of its own on the ledger's embedded server: what an
// intruder with rights on the stream and the bucket has (the ledger's own
// user and password).
func rawJS(tb testing.TB, tl *testLedger) jetstream.JetStream {
	tb.Helper()
	pw, err := server.LedgerNATSPassword(tl.dir)
	if err != nil {
		tb.Fatal(err)
	}
	nc, err := nats.Connect("", nats.InProcessServer(tl.srv.Conn().Embedded), nats.Name("intruder"), nats.UserInfo(server.LedgerNATSUser, pw))
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

// integrityBreaks reads ledger_integrity_breaks_total{kind} from /metrics.
func integrityBreaks(tl *testLedger, kind string) string {
	tl.tb.Helper()
	resp, err := http.Get(tl.base + "/metrics")
	if err != nil {
		tl.tb.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		tl.tb.Fatal(err)
	}
	prefix := fmt.Sprintf("ledger_integrity_breaks_total{kind=%q} ", kind)
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			return v
		}
	}
	tl.tb.Fatalf("/metrics has no %s", strings.TrimSpace(prefix))
	return ""
}

// An entry of the replay-answers bucket that the ledger did not keep — a
// made-up answer without the ledger's MAC, with the MAC of another answer,
// in the format of before the MAC, another command's answer moved to this
// key, bytes that are not JSON — is treated as absent: the keyed request is
// decided again (neither 200 with the made-up assignee nor 500), the break
// is counted once, and the answer decided again is kept in its place.
func TestForgedReplayAnswerIsDecidedAgain(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	ctx := context.Background()
	const p1 = "/v1/accounts/acme/licenses/P1"
	tl.must(200, "POST", p1+"/assign", map[string]any{"email": "a@x.example"})
	kv, err := rawJS(t, tl).KeyValue(ctx, ledger.ReplayAnswersBucket)
	if err != nil {
		t.Fatal(err)
	}
	// keyedRejection makes a keyed assign to email that is rejected, and
	// returns the key of its kept answer in the bucket and what it holds.
	keyedRejection := func(email, idemKey string) (string, []byte) {
		t.Helper()
		before, _ := kv.Keys(ctx)
		r := tl.do("POST", p1+"/assign", map[string]any{"email": email}, "Idempotency-Key", idemKey)
		if r.Status != 409 || r.code() != "license_assigned" {
			t.Fatalf("keyed assign of an assigned licence: %d %s, want 409 license_assigned", r.Status, r.Raw)
		}
		after, err := kv.Keys(ctx)
		if err != nil || len(after) != len(before)+1 {
			t.Fatalf("bucket keys %v after %v, %v; want one more", after, before, err)
		}
		for _, k := range after {
			if !slices.Contains(before, k) {
				e, err := kv.Get(ctx, k)
				if err != nil {
					t.Fatal(err)
				}
				return k, e.Value()
			}
		}
		panic("unreachable")
	}
	body := map[string]any{"email": "b@x.example"}
	key, kept := keyedRejection("b@x.example", "assign-b")
	_, otherKept := keyedRejection("c@x.example", "assign-c")
	var sealed struct {
		Answer struct {
			Hash string `json:"hash"`
		} `json:"answer"`
		MAC string `json:"mac"`
	}
	if err := json.Unmarshal(kept, &sealed); err != nil || sealed.MAC == "" || sealed.Answer.Hash == "" {
		t.Fatalf("stored answer %s: %v; want an answer and its MAC", kept, err)
	}
	// The forger copies the request hash (it is in the bucket for all to
	// read), or the made-up answer would be idempotency_key_reused.
	hash, realMAC := sealed.Answer.Hash, sealed.MAC
	madeUp := func(mac string) []byte {
		answer := fmt.Sprintf(`{"hash":%q,"state":{"id":"P1","assignee":"mallory@evil.example"},"decided_at":"2026-01-05T00:00:00Z"}`, hash)
		if mac == "none" {
			return []byte(answer)
		}
		return fmt.Appendf(nil, `{"answer":%s,"mac":%q}`, answer, mac)
	}
	forgeries := []struct {
		name  string
		value []byte
	}{
		{"made-up answer without a MAC", madeUp("")},
		{"made-up answer with the kept answer's MAC", madeUp(realMAC)},
		{"made-up answer in the format before the MAC", madeUp("none")},
		{"another command's answer", otherKept},
		{"not JSON", []byte("\x00garbage{")},
	}
	for i, f := range forgeries {
		if _, err := kv.Put(ctx, key, f.value); err != nil {
			t.Fatalf("%s: put: %v", f.name, err)
		}
		for range 2 { // decided again once; then answered from what was kept again
			r := tl.do("POST", p1+"/assign", body, "Idempotency-Key", "assign-b")
			if r.Status != 409 || r.code() != "license_assigned" {
				t.Errorf("%s: replay answered %d %s, want it decided again: 409 license_assigned", f.name, r.Status, r.Raw)
			}
		}
		if got, want := integrityBreaks(tl, ledger.IntegrityReplayAnswer), fmt.Sprint(i+1); got != want {
			t.Errorf("%s: %s replay-answer breaks counted, want %s", f.name, got, want)
		}
		if e, err := kv.Get(ctx, key); err != nil || string(e.Value()) == string(f.value) {
			t.Errorf("%s: the bucket still holds the forged entry (%v)", f.name, err)
		}
	}
	if got := tl.must(200, "GET", p1, nil).Body["assignee"]; got != "a@x.example" {
		t.Errorf("P1 assignee %v, want a@x.example", got)
	}

	// Once the licence is free again, a forged answer is decided again for
	// real: b gets the licence, not the made-up assignee.
	if _, err := kv.Put(ctx, key, madeUp("")); err != nil {
		t.Fatal(err)
	}
	tl.must(200, "POST", p1+"/unassign", map[string]any{})
	r := tl.must(200, "POST", p1+"/assign", body, "Idempotency-Key", "assign-b")
	if got := r.Body["assignee"]; got != "b@x.example" {
		t.Errorf("keyed assign decided again: assignee %v, want b@x.example: %s", got, r.Raw)
	}
	if got := tl.must(200, "GET", p1, nil).Body["assignee"]; got != "b@x.example" {
		t.Errorf("P1 assignee %v, want b@x.example", got)
	}
	tl.checkStream()
}

// rule H5: kept answers live ReplayAnswersTTL: a new bucket is made with
// that TTL; an existing bucket is taken as it is, even without one (made by
// an earlier ledger: it keeps answers longer, and no process changes what
// the others share; server.Dial refuses a shorter TTL).
func TestReplayAnswersBucketTTL(t *testing.T) {
	js := embeddedJS(t)
	ctx := context.Background()
	ttl := func() time.Duration {
		t.Helper()
		kv, err := ledger.OpenReplayAnswers(ctx, js, 1)
		if err != nil {
			t.Fatal(err)
		}
		st, err := kv.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st.TTL()
	}
	if got := ttl(); got != ledger.ReplayAnswersTTL || ledger.ReplayAnswersTTL != 24*time.Hour {
		t.Errorf("new bucket's TTL %s, want %s (24h)", got, ledger.ReplayAnswersTTL)
	}
	if err := js.DeleteKeyValue(ctx, ledger.ReplayAnswersBucket); err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: ledger.ReplayAnswersBucket, History: 1}); err != nil {
		t.Fatal(err)
	}
	if got := ttl(); got != 0 {
		t.Errorf("an existing bucket without a TTL has %s after OpenReplayAnswers, want it as it was", got)
	}
}

// rule F2, item 8.2: a usage event's message id is derived from its usage
// id with the ledger's key, so a message published beforehand under the id
// anyone could derive from (account, usage id) does not make JetStream
// refuse the real record as a duplicate.
func TestSquattedUsageIDDoesNotBlockTheBatch(t *testing.T) {
	tl := useStart(t)
	ctx := context.Background()
	js := rawJS(t, tl)
	rec := useR("squatted-1", useNow.Add(-2*time.Hour), time.Hour)
	for _, id := range []string{"squatted-1", "squatted-2"} {
		squat := &nats.Msg{Subject: events.UsageShardSubject("acme", "microstation", 0), Data: []byte("{}"), Header: nats.Header{}}
		squat.Header.Set("Nats-Msg-Id", events.DerivedID("usage", "acme", id))
		if _, err := js.PublishMsg(ctx, squat); err != nil {
			t.Fatalf("squat %s: %v", id, err)
		}
	}
	useAccepted(tl, 1, 0, rec)
	useAccepted(tl, 2, 1, rec, useR("squatted-2", useNow.Add(-4*time.Hour), time.Hour), useR("free-1", useNow.Add(-6*time.Hour), time.Hour))
	for _, e := range tl.streamEvents() {
		if e.Header.Get("Nats-Msg-Id") == events.DerivedID("usage", "acme", "free-1") {
			t.Errorf("sequence %d: a usage event's message id is the public derivation", e.Sequence)
		}
	}
}

// Item 8.3: with a raw client, updating the stream to
// max_msgs_per_subject = 1 and back deletes events although the stream
// denies deletes. The running ledger's stream check reports it as an
// integrity break (once) and in GET /v1/integrity, ledger verify reports
// it, and a rebuild refuses the stream unless told to accept the loss.
func TestStreamLimitSetAndUnsetIsDetected(t *testing.T) {
	warnings := make(chan string, 64)
	tl := startConfigured(t, server.Config{HTTPAddr: "127.0.0.1:0", NoReminders: true,
		StreamCheckInterval: 10 * time.Millisecond, Logger: warningLogger(warnings)}, nil)
	srv, dir := tl.srv, tl.dir
	tl.setup()
	tl.must(200, "POST", "/v1/accounts/acme/licenses/P1/assign", map[string]any{"email": "a@x.example"})
	ctx := context.Background()
	if problems, err := server.CheckStream(ctx, srv.Conn().Stream, srv.Conn().Stream.CachedInfo()); err != nil || problems != nil {
		t.Fatalf("clean stream: problems %q, %v", problems, err)
	}
	before := len(tl.streamEvents())

	js := rawJS(t, tl)
	cfg := server.StreamConfig(1)
	cfg.MaxMsgsPerSubject = 1
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatalf("set max_msgs_per_subject: %v", err)
	}
	cfg.MaxMsgsPerSubject = -1
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatalf("unset max_msgs_per_subject: %v", err)
	}
	info, err := srv.Conn().Stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	deleted := uint64(before) - info.State.Msgs
	if deleted == 0 {
		t.Fatalf("the limit deleted nothing (%d messages); the test proves nothing", before)
	}
	t.Logf("max_msgs_per_subject=1 and back deleted %d of %d events", deleted, before)

	want := fmt.Sprintf("deleted messages: %d ", deleted)
	problems, err := server.CheckStream(ctx, srv.Conn().Stream, nil)
	if err != nil || len(problems) != 1 || !strings.Contains(problems[0], want) {
		t.Errorf("CheckStream: %q, %v; want one problem naming %q", problems, err, want)
	}
	// The running ledger's own check finds it within an interval, warns
	// and counts it (and may have seen the limit itself, or part of the
	// deletions, on the way; streamcheck_test.go shows each is reported
	// once).
	waitWarning(t, warnings, want)
	if got := integrityBreaks(tl, ledger.IntegrityStream); got == "0" {
		t.Errorf("%s stream breaks counted, want at least 1", got)
	}
	// GET /v1/integrity gives the latest check's problems (H3).
	if got := integrityAs(tl, tl.token).StreamProblems; !slices.ContainsFunc(got, func(p string) bool { return strings.Contains(p, want) }) {
		t.Errorf("GET /v1/integrity: stream_problems %q, want one naming %q", got, want)
	}

	tl.stop()
	pub, err := events.LoadPublicKey(filepath.Join(dir, "keys", "events.ed25519.pub"))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := server.DialExisting(ctx, server.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := server.VerifyStream(ctx, conn.Stream, events.NewVerifier(pub))
	conn.Close()
	if err != nil || rep.OK() || len(rep.Stream) != 1 || !strings.Contains(rep.Stream[0], want) {
		t.Errorf("VerifyStream: stream problems %q, %v; want one naming %q", rep.Stream, err, want)
	}

	_, err = server.RebuildProjections(ctx, server.Config{DataDir: dir})
	if !errors.Is(err, server.ErrMessagesDeleted) || !strings.Contains(err.Error(), want) {
		t.Fatalf("rebuild of a stream that lost %d events: %v; want ErrMessagesDeleted naming them", deleted, err)
	}
	reb, err := server.RebuildProjections(ctx, server.Config{DataDir: dir, AcceptDeleted: true})
	if err != nil || reb.Deleted != deleted {
		t.Errorf("rebuild accepting the loss: %+v, %v; want it done, reporting %d deleted", reb, err, deleted)
	}
}

// warningLogger sends the problem of every warning to ch (dropping what
// does not fit) and writes nothing.
func warningLogger(ch chan<- string) *slog.Logger {
	return slog.New(warningHandler{ch: ch})
}

type warningHandler struct{ ch chan<- string }

func (h warningHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (h warningHandler) Handle(_ context.Context, r slog.Record) error {
	msg := r.Message
	r.Attrs(func(a slog.Attr) bool {
		msg += " " + a.Key + "=" + a.Value.String()
		return true
	})
	select {
	case h.ch <- msg:
	default:
	}
	return nil
}

func (h warningHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h warningHandler) WithGroup(string) slog.Handler      { return h }

// waitWarning waits for a warning of an integrity break containing want,
// and fails if another comes with it.
func waitWarning(tb testing.TB, warnings <-chan string, want string) {
	tb.Helper()
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	for {
		select {
		case w := <-warnings:
			if strings.Contains(w, "integrity break") && strings.Contains(w, want) {
				return
			}
			tb.Logf("warning: %s", w)
		case <-timeout.C:
			tb.Fatalf("no warning of an integrity break naming %q within 10s", want)
		}
	}
}
