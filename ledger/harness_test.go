package ledger_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/entledger/ledger/auth"
	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/server"
)

// clock is a settable clock for the ledger under test: no test waits for
// real time to pass.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t.UTC()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t.UTC()
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// T0 is the start of every test's clock: the worked example's first day.
var T0 = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)

// testLedger is a ledger server on a real embedded JetStream and a real
// Pebble store in a temporary directory, with its HTTP API on a free port.
type testLedger struct {
	tb    testing.TB
	srv   *server.Server
	clock *clock
	dir   string
	base  string // http://host:port
	token string // the admin token the first start wrote; every request sends it unless told otherwise
}

// startLedger starts a server on dir (a fresh temporary directory if "").
// It emits no daily reminders (G5), which would land in the stream at any
// moment of a test that counts its events; startReminding starts one that
// does.
func startLedger(tb testing.TB, dir string, c *clock) *testLedger {
	tb.Helper()
	return startServer(tb, dir, c, true)
}

// startReminding is startLedger with the daily reminders on, looking at the
// (fake) clock every few milliseconds.
func startReminding(tb testing.TB, dir string, c *clock) *testLedger {
	tb.Helper()
	return startServer(tb, dir, c, false)
}

func startServer(tb testing.TB, dir string, c *clock, noReminders bool) *testLedger {
	tb.Helper()
	return startConfigured(tb, server.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", NoReminders: noReminders}, c)
}

// startConfigured starts a server with cfg, on a fresh temporary directory
// if cfg.DataDir is "", with the clock c (T0 if nil).
func startConfigured(tb testing.TB, cfg server.Config, c *clock) *testLedger {
	tb.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = tb.TempDir()
	}
	if c == nil {
		c = newClock(T0)
	}
	cfg = withoutLimits(cfg)
	cfg.Now, cfg.ReminderPoll = c.Now, 5*time.Millisecond
	dir := cfg.DataDir
	srv, err := server.Start(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("start ledger: %v", err)
	}
	tl := &testLedger{tb: tb, srv: srv, clock: c, dir: dir, base: "http://" + srv.Addr(), token: readAdminToken(tb, dir)}
	tb.Cleanup(tl.stop)
	tl.waitReady()
	return tl
}

// stop shuts the server down cleanly; calling it twice is fine.
func (tl *testLedger) stop() {
	if tl.srv == nil {
		return
	}
	// Connections the client dialled but never used look new to the
	// server, and a graceful shutdown waits five seconds for them.
	http.DefaultClient.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tl.srv.Close(ctx); err != nil {
		tl.tb.Errorf("close ledger: %v", err)
	}
	tl.srv = nil
}

// waitReady polls /readyz until the projections have caught up.
func (tl *testLedger) waitReady() {
	tl.tb.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		// Ready, and caught up: /readyz is 200 while the projections follow
		// within its bounds (a few events behind under load is ready), and
		// the tests compare state, so they wait for the whole stream.
		resp, err := http.Get(tl.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && tl.caughtUp() {
				return
			}
		}
		if time.Now().After(deadline) {
			tl.tb.Fatalf("ledger not ready after 30s: %v", err)
		}
		// Poll without sleeping a fixed time: wait for the next checkpoint
		// move or a short bound, whichever comes first.
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		tl.srv.Store().WaitFor(ctx, tl.srv.Store().Checkpoint()+1)
		cancel()
	}
}

// caughtUp reports whether the projections have applied everything the
// stream holds.
func (tl *testLedger) caughtUp() bool {
	info, err := tl.srv.Conn().Stream.Info(context.Background())
	return err == nil && tl.srv.Store().Checkpoint() >= info.State.LastSeq
}

// response is an HTTP answer with its decoded JSON body.
type response struct {
	Status int
	Body   map[string]any
	Raw    []byte
}

// code is the error code of an error response ("" otherwise).
func (r response) code() string {
	e, _ := r.Body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// details is the details object of an error response.
func (r response) details() map[string]any {
	e, _ := r.Body["error"].(map[string]any)
	d, _ := e["details"].(map[string]any)
	return d
}

// readAdminToken reads the admin token the ledger's first start wrote into
// dir.
func readAdminToken(tb testing.TB, dir string) string {
	tb.Helper()
	raw, err := os.ReadFile(server.AdminTokenFile(dir))
	if err != nil {
		tb.Fatalf("the first start wrote no admin token: %v", err)
	}
	return strings.TrimSpace(string(raw))
}

// actor is how events name what the admin token did (S3).
func (tl *testLedger) actor() string {
	tl.tb.Helper()
	id, ok := auth.ID(tl.token)
	if !ok {
		tl.tb.Fatalf("the admin token %q... has not the form of a token", tl.token[:min(len(tl.token), 10)])
	}
	return "token:" + id
}

// do sends a request with a JSON body (nil: none, and no Content-Type) and
// optional headers as key, value pairs. A body goes with Content-Type
// application/json, as the API requires; a header given overrides it. It
// sends the admin token unless the headers name another Authorization (""
// sends none).
func (tl *testLedger) do(method, path string, body any, headers ...string) response {
	tl.tb.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			tl.tb.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, tl.base+path, rd)
	if err != nil {
		tl.tb.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+tl.token)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	if req.Header.Get("Authorization") == "" {
		req.Header.Del("Authorization")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tl.tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		tl.tb.Fatal(err)
	}
	r := response{Status: resp.StatusCode, Raw: raw}
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &r.Body); err != nil {
			tl.tb.Fatalf("%s %s: status %d, body is not a JSON object: %q", method, path, resp.StatusCode, raw)
		}
	}
	if r.Status >= 500 {
		tl.tb.Errorf("%s %s: status %d (a 5xx is always a bug): %s", method, path, r.Status, raw)
	}
	return r
}

// client returns an HTTP client that sends the admin token with every
// request, keeping up to conns connections.
func (tl *testLedger) client(conns int) *http.Client {
	return &http.Client{Transport: bearer{token: tl.token, next: &http.Transport{MaxIdleConnsPerHost: conns}}}
}

// bearer adds a token to requests that carry none.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Header.Get("Authorization") == "" {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+b.token)
	}
	return b.next.RoundTrip(r)
}

// send sends body as JSON with the admin token and returns the raw
// answer, for a test that reads it as a stream.
func (tl *testLedger) send(method, path string, body []byte) *http.Response {
	tl.tb.Helper()
	req, err := http.NewRequest(method, tl.base+path, bytes.NewReader(body))
	if err != nil {
		tl.tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tl.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tl.tb.Fatalf("%s %s: %v", method, path, err)
	}
	return resp
}

// must sends a request and fails the test unless the status is want.
func (tl *testLedger) must(want int, method, path string, body any, headers ...string) response {
	tl.tb.Helper()
	r := tl.do(method, path, body, headers...)
	if r.Status != want {
		tl.tb.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, want, r.Raw)
	}
	return r
}

// setup creates account "acme", users with countries and licences.
func (tl *testLedger) setup() {
	tl.tb.Helper()
	tl.must(201, "POST", "/v1/accounts", map[string]any{"id": "acme", "name": "Acme", "fulfillment_contact": "ops@acme.example"})
	for _, u := range []string{"a@x.example", "b@x.example", "c@x.example"} {
		tl.must(201, "POST", "/v1/accounts/acme/users", map[string]any{"email": u, "entitlement_country": "DE"})
	}
	tl.must(201, "POST", "/v1/accounts/acme/licenses", map[string]any{
		"id": "P1", "kind": "practitioner", "products": []string{"microstation"},
		"valid_from": "2025-01-01T00:00:00Z", "valid_until": "2028-01-01T00:00:00Z"})
}

// streamEvents returns every message of the LEDGER stream, in order.
func (tl *testLedger) streamEvents() []jetstream.RawStreamMsg {
	tl.tb.Helper()
	ctx := context.Background()
	st := tl.srv.Conn().Stream
	info, err := st.Info(ctx)
	if err != nil {
		tl.tb.Fatal(err)
	}
	var out []jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			tl.tb.Fatalf("get message %d: %v", seq, err)
		}
		out = append(out, *m)
	}
	return out
}

// checkStream validates every stored event against the signatures, its JSON
// Schema, the strict decoder and the per-subject hash chain (H3).
func (tl *testLedger) checkStream() []events.Event {
	tl.tb.Helper()
	key, err := events.LoadKey(tl.dir + "/keys/events.ed25519")
	if err != nil {
		tl.tb.Fatal(err)
	}
	verifier, mac := events.NewChainVerifier(events.NewVerifier(key.Public().(ed25519.PublicKey))), events.NewMAC(key)
	last := map[string]string{}
	var out []events.Event
	for _, m := range tl.streamEvents() {
		for _, b := range verifier.Add(m.Sequence, m.Subject, m.Data, m.Header.Get(events.SignatureHeader)) {
			tl.tb.Errorf("sequence %d: %s", b.Seq, b.Reason)
		}
		if err := mac.Check(m.Subject, m.Data, m.Header.Get(events.MACHeader)); err != nil {
			tl.tb.Errorf("sequence %d: %v", m.Sequence, err)
		}
		if err := events.CheckSchema(m.Data); err != nil {
			tl.tb.Errorf("sequence %d: %v\n%s", m.Sequence, err, m.Data)
		}
		e, err := events.Unmarshal(m.Data)
		if err != nil {
			tl.tb.Errorf("sequence %d: %v", m.Sequence, err)
			continue
		}
		if !events.StoredOn(e, m.Subject) {
			tl.tb.Errorf("sequence %d: event for %s stored on %s", m.Sequence, e.Subject(), m.Subject)
		}
		if e.PrevHash != last[m.Subject] {
			tl.tb.Errorf("sequence %d on %s: prevhash %q, want %q", m.Sequence, m.Subject, e.PrevHash, last[m.Subject])
		}
		if m.Header.Get("Nats-Msg-Id") != e.ID {
			tl.tb.Errorf("sequence %d: Nats-Msg-Id %q, want the event id %q", m.Sequence, m.Header.Get("Nats-Msg-Id"), e.ID)
		}
		last[m.Subject] = events.Hash(m.Data)
		out = append(out, e)
	}
	for _, b := range verifier.Finish() {
		tl.tb.Errorf("sequence %d: %s", b.Seq, b.Reason)
	}
	return out
}

// digest is the projection store's digest once it has caught up.
func (tl *testLedger) digest() string {
	tl.tb.Helper()
	tl.waitReady()
	d, err := tl.srv.Store().Digest()
	if err != nil {
		tl.tb.Fatal(err)
	}
	return d
}

// withoutLimits turns the limits of S9 off in cfg unless it sets one: they
// are for tenants, not for tests that drive the ledger as fast as it goes;
// the tests of the limits set them.
func withoutLimits(cfg server.Config) server.Config {
	if cfg.RateLimit == 0 && cfg.UsageRate == 0 && cfg.ReportRate == 0 && cfg.BodyRate == 0 && cfg.MaxInFlight == 0 {
		cfg.RateLimit, cfg.UsageRate, cfg.ReportRate, cfg.BodyRate, cfg.MaxInFlight = -1, -1, -1, -1, -1
	}
	return cfg
}
