package deploy_test

// The NATS files the project ships, started as an operator starts them:
// real nats-server processes (internal/natsproc builds the version go.mod
// requires) run deploy/nats/server.conf, the configuration of
// docker-compose.yml's NATS service (Docker itself is not run here), and
// three of them run deploy/nats/cluster.conf as a cluster. Command-line
// flags choose only what a test must: ports, store directories, names.
// A ledger then runs against them, and the tests attack them as a stranger
// and as a subscriber would.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/internal/injection"
	"github.com/entledger/ledger/internal/natscluster"
	"github.com/entledger/ledger/internal/natsproc"
	"github.com/entledger/ledger/internal/poll"
	"github.com/entledger/ledger/internal/testlock"
	"github.com/entledger/ledger/server"
	"github.com/entledger/ledger/subscriber"
)

// conf is a shipped configuration file's path.
func conf(name string) string { return natscluster.Conf(name) }

// secrets makes a deployment's secrets and their environment, as `ledger
// nats secrets` writes them.
func secrets(t *testing.T) (server.NATSSecrets, []string) {
	t.Helper()
	return natscluster.Secrets(t)
}

// startSingle starts deploy/nats/server.conf, the compose file's NATS.
func startSingle(t *testing.T, env []string) *natsproc.Proc {
	t.Helper()
	ports := natsproc.FreePorts(t, 2)
	return natsproc.Start(t, natsproc.Options{Config: conf("server.conf"), Env: append(env, "NATS_STORE_DIR="+t.TempDir()), Port: ports[0],
		Args: []string{"-m", fmt.Sprint(ports[1])}})
}

// startCluster starts three servers of deploy/nats/cluster.conf.
func startCluster(t *testing.T, s server.NATSSecrets, env []string) *natscluster.Cluster {
	t.Helper()
	return natscluster.Start(t, s, env)
}

// getJSON decodes the JSON answer of a GET.
func getJSON(url string, v any) error { return natscluster.GetJSON(url, v) }

// ledgerProc is a ledger running against the shipped servers.
type ledgerProc struct {
	t     *testing.T
	srv   *server.Server
	token string
}

func startLedger(t *testing.T, urls []string, s server.NATSSecrets, replicas int) *ledgerProc {
	t.Helper()
	dir := t.TempDir()
	srv, err := server.Start(context.Background(), server.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", NATSURLs: urls,
		NATSPassword: s.LedgerPassword, NATSCalloutKey: s.CalloutKey, NATSSysPassword: s.SysPassword, Replicas: replicas, NoReminders: true})
	if err != nil {
		t.Fatalf("the ledger on the shipped servers: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		srv.Close(ctx)
	})
	tok, err := os.ReadFile(server.AdminTokenFile(dir))
	if err != nil {
		t.Fatal(err)
	}
	return &ledgerProc{t: t, srv: srv, token: strings.TrimSpace(string(tok))}
}

// try sends a request with an Idempotency-Key made of its body, and
// returns the status: retrying it is safe.
func (l *ledgerProc) try(method, path string, body any) int {
	l.t.Helper()
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, "http://"+l.srv.Addr()+path, bytes.NewReader(raw))
	req.Header.Set("Authorization", "Bearer "+l.token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", fmt.Sprintf("%x", raw))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		l.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// do sends a request to the ledger's API and decodes its answer.
func (l *ledgerProc) do(want int, method, path string, body any) map[string]any {
	l.t.Helper()
	var r io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		r = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, "http://"+l.srv.Addr()+path, r)
	req.Header.Set("Authorization", "Bearer "+l.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		l.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		l.t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, raw, want)
	}
	out := map[string]any{}
	json.Unmarshal(raw, &out)
	return out
}

// seed makes two accounts with a user each and a subscriber of acme.
func (l *ledgerProc) seed() subscriber.Credentials {
	l.t.Helper()
	for _, a := range []string{"acme", "globex"} {
		l.do(201, "POST", "/v1/accounts", map[string]any{"id": a, "name": a, "fulfillment_contact": "it@" + a + ".example"})
		l.do(201, "POST", "/v1/accounts/"+a+"/users", map[string]any{"email": "u@" + a + ".example", "entitlement_country": "DE"})
	}
	raw, _ := json.Marshal(l.do(201, "POST", "/v1/accounts/acme/subscribers", map[string]any{"name": "feed"}))
	var creds subscriber.Credentials
	if err := json.Unmarshal(raw, &creds); err != nil {
		l.t.Fatal(err)
	}
	return creds
}

// refusedConnect wants a connection with opts to be refused.
func refusedConnect(t *testing.T, url, who string, opts ...nats.Option) {
	t.Helper()
	nc, err := nats.Connect(url, append(opts, nats.NoReconnect(), nats.Timeout(5*time.Second))...)
	if err == nil {
		nc.Close()
		t.Errorf("%s connected", who)
	}
}

// rule S7: the compose file's NATS (deploy/nats/server.conf, as a process)
// refuses a client without credentials or with wrong ones; the operator's
// read-only user reads the stream's state and nothing of it can change;
// the ledger runs on it, and a subscriber made through the API reads its
// account's events with the package subscriber, through the consumer the
// ledger made.
func TestComposeNATSAuthenticatesEveryClient(t *testing.T) {
	testlock.Heavy(t)
	s, env := secrets(t)
	p := startSingle(t, env)
	refusedConnect(t, p.URL(), "a client without credentials, no ledger running")
	l := startLedger(t, []string{p.URL()}, s, 1)
	refusedConnect(t, p.URL(), "a client without credentials")
	refusedConnect(t, p.URL(), "the ledger's user with a wrong password", nats.UserInfo(server.LedgerNATSUser, "guess"))
	refusedConnect(t, p.URL(), "a made-up user", nats.UserInfo("admin", "admin"))
	refusedConnect(t, p.URL(), "the system user with the ledger's password", nats.UserInfo(server.SysNATSUser, s.LedgerPassword))
	creds := l.seed()
	creds.NATSURLs = []string{p.URL()}

	// The read-only operator: the stream's state, and no change to it.
	nc, err := nats.Connect(p.URL(), nats.UserInfo(server.ReaderNATSUser, s.ReaderPassword), nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
	if err != nil {
		t.Fatalf("the read-only user: %v", err)
	}
	defer nc.Close()
	js, err := jetstream.NewWithAPIPrefix(nc, "$LEDGER.API")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := js.Stream(ctx, "LEDGER")
	if err != nil {
		t.Fatalf("the read-only user's stream info: %v", err)
	}
	if _, err := st.GetMsg(ctx, 1); err != nil {
		t.Errorf("the read-only user's message by sequence: %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := js.DeleteStream(short, "LEDGER"); err == nil {
		t.Error("the read-only user deleted the stream")
	}
	if err := nc.Publish(events.UserSubject("acme", "forged@x.example"), []byte("{}")); err == nil {
		nc.Flush()
	}

	var got []string
	err = subscriber.Run(ctx, subscriber.Config{Credentials: creds, Key: l.srv.Ledger().EventKey(), StopWhenIdle: true},
		func(_ context.Context, ev subscriber.Event) error { got = append(got, ev.Subject); return nil })
	if err != nil {
		t.Fatalf("the subscriber on the compose NATS: %v", err)
	}
	if len(got) < 2 {
		t.Fatalf("the subscriber read %d events, want acme's account and user: %v", len(got), got)
	}
	for _, subj := range got {
		if !strings.HasPrefix(subj, "ledger.events.acme.") {
			t.Errorf("a subscriber of acme read %s", subj)
		}
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := server.VerifyStream(ctx, l.srv.Conn().Stream, events.NewVerifier(l.srv.Ledger().EventKey()))
	if err != nil || !rep.OK() {
		t.Errorf("verify after the read-only user's tries: %+v %v (stream %d messages)", rep, err, info.State.Msgs)
	}
}

// rules S6, S8: on a three-server cluster of deploy/nats/cluster.conf, a
// subscriber made through the API of a ledger connected to the first
// server reads through the third; its injection probe lands nothing; its
// revocation cuts it off within a second: its reads fail and its
// credentials no longer connect, with no edit of any server's
// configuration. A server killed and started again takes its place.
func TestClusterSubscribersAndRevocation(t *testing.T) {
	testlock.Heavy(t)
	s, env := secrets(t)
	c := startCluster(t, s, env)
	l := startLedger(t, c.URLs()[:1], s, 3)
	creds := l.seed()
	far := c.Procs[2].URL()
	creds.NATSURLs = []string{far}
	refusedConnect(t, far, "a client without credentials")

	errs := make(chan error, 64)
	dropped := make(chan struct{}, 1)
	nc, err := nats.Connect(far, nats.UserInfo(creds.NATSUser, creds.NATSPassword), nats.CustomInboxPrefix(creds.InboxPrefix),
		nats.DisconnectErrHandler(func(*nats.Conn, error) {
			select {
			case dropped <- struct{}{}:
			default:
			}
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			select {
			case errs <- err:
			default:
			}
		}))
	if err != nil {
		t.Fatalf("the subscriber on the third server: %v", err)
	}
	defer nc.Close()
	ctx := context.Background()
	before, err := l.srv.Conn().Stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tried, err := injection.Probe(nc, creds.Durable, creds.JSAPIPrefix, "globex")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Request(creds.ConsumerService, []byte("{}"), 10*time.Second); err != nil {
		t.Fatalf("the consumer service after the probe: %v", err)
	}
	l.do(201, "POST", "/v1/accounts/globex/users", map[string]any{"email": "after@globex.example", "entitlement_country": "DE"})
	after, err := l.srv.Conn().Stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := server.VerifyStream(ctx, l.srv.Conn().Stream, events.NewVerifier(l.srv.Ledger().EventKey()))
	if err != nil || !rep.OK() || !after.Created.Equal(before.Created) {
		t.Fatalf("after %d probes on the cluster: verify %+v %v; stream created %s, was %s", len(tried), rep, err, after.Created, before.Created)
	}
	if grew := after.State.Msgs - before.State.Msgs; grew > 2 {
		t.Errorf("the stream grew by %d messages; the one command after the probe appends 1 or 2", grew)
	}

	js, err := jetstream.NewWithAPIPrefix(nc, creds.JSAPIPrefix)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := js.Consumer(ctx, "LEDGER", creds.Durable)
	if err != nil {
		t.Fatalf("its consumer, through the third server: %v", err)
	}
	if b, err := cons.Fetch(10, jetstream.FetchMaxWait(5*time.Second)); err != nil || drain(b) == 0 {
		t.Fatalf("fetch through the third server: %v", err)
	}

	live, err := nc.SubscribeSync("ledger.events.acme.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	// The subscription's interest reaches the other servers over the routes
	// a moment later: write until an event arrives.
	n := 0
	poll.Until(t, 10*time.Second, "a live event through the third server", func() bool {
		n++
		l.do(201, "POST", "/v1/accounts/acme/users", map[string]any{"email": fmt.Sprintf("live%d@acme.example", n), "entitlement_country": "DE"})
		_, err := live.NextMsg(200 * time.Millisecond)
		return err == nil
	})

	// Revoked through the ledger on the first server; the subscriber is on
	// the third.
	revoked := time.Now()
	l.do(200, "DELETE", "/v1/accounts/acme/subscribers/feed", nil)
	answered := time.Since(revoked)
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := js.Consumer(short, "LEDGER", creds.Durable); err == nil {
		t.Error("the revoked subscriber's consumer still answers")
	}
	if b, err := cons.Fetch(1, jetstream.FetchMaxWait(500*time.Millisecond)); err == nil && drain(b) > 0 {
		t.Error("the revoked subscriber still reads events")
	}
	refusedConnect(t, far, "the revoked credentials", nats.UserInfo(creds.NATSUser, creds.NATSPassword))
	select {
	case <-dropped: // its live subscription ends with it
	case <-time.After(time.Second):
		t.Error("the revoked subscriber's connection is still open a second after the revocation")
	}
	cutOff := time.Since(revoked)
	t.Logf("revocation: answered after %s, reads and connects refused %s after the request", answered, cutOff)
	if answered > time.Second {
		t.Errorf("the revocation took %s to answer; its effect must be within a second", answered)
	}

	// A server killed and started again: the ledger and the cluster go on
	// (a write may meet the stream's leader election: 503, retried).
	c.Procs[1].Restart()
	poll.Until(t, 30*time.Second, "a write after a server's restart", func() bool {
		return l.try("POST", "/v1/accounts/globex/users", map[string]any{"email": "restart@globex.example", "entitlement_country": "DE"}) == 201
	})
}

// drain counts a fetch's messages.
func drain(b jetstream.MessageBatch) int {
	n := 0
	for range b.Messages() {
		n++
	}
	return n
}

// rule S7: the cluster's routes authenticate. A nats-server that knows the
// route port but not the route password (the same file, another password)
// does not join: the cluster's servers keep their routes to each other
// only, and it holds no JetStream peer.
func TestClusterRoutesAuthenticate(t *testing.T) {
	testlock.Heavy(t)
	s, env := secrets(t)
	c := startCluster(t, s, env)
	routes := func() int {
		var rz struct {
			Routes []struct {
				RemoteName string `json:"remote_name"`
			} `json:"routes"`
		}
		if err := getJSON(fmt.Sprintf("http://127.0.0.1:%d/routez", c.Monitoring[0]), &rz); err != nil {
			t.Fatal(err)
		}
		names := map[string]bool{}
		for _, r := range rz.Routes {
			names[r.RemoteName] = true
		}
		return len(names)
	}
	if n := routes(); n != 2 {
		t.Fatalf("the first server routes to %d servers, want 2", n)
	}
	ss, strangerEnv := secrets(t) // every secret different: the route password too
	ports := natsproc.FreePorts(t, 3)
	stranger := natsproc.Start(t, natsproc.Options{Config: conf("cluster.conf"), Port: ports[0],
		Env: append([]string{"NATS_SERVER_NAME=stranger", "NATS_STORE_DIR=" + t.TempDir(), fmt.Sprintf("NATS_CLUSTER_LISTEN=127.0.0.1:%d", ports[1]),
			server.RoutesEnv(ss.RoutePassword, c.Routes)}, strangerEnv...),
		Args: []string{"-m", fmt.Sprint(ports[2])}})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("stranger:\n%s\nfirst:\n%s", stranger.Log(), c.Procs[0].Log())
		}
	})
	poll.Until(t, 20*time.Second, "the cluster refusing the stranger's route", func() bool {
		return strings.Contains(stranger.Log(), "Authorization Violation") || strings.Contains(c.Procs[0].Log()+c.Procs[1].Log()+c.Procs[2].Log(), "Authorization Violation")
	})
	if n := routes(); n != 2 {
		t.Errorf("after the stranger tried, the first server routes to %d servers, want 2", n)
	}
}

// natsCLI is the nats command (natscli) if it is installed; .ci/run
// installs it and sets LEDGER_NATSCLI_TEST=1, which makes its absence a
// failure rather than a skip.
func natsCLI(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("nats"); err == nil {
		return p
	}
	if gopath, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(gopath)), "bin", "nats")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("LEDGER_NATSCLI_TEST") == "1" {
		t.Fatal("LEDGER_NATSCLI_TEST=1 but no nats command: go install github.com/nats-io/natscli/nats@v0.5.1")
	}
	t.Skip("no nats command (natscli); .ci/run installs it")
	return ""
}

// runNATS runs the nats command and returns its combined output.
func runNATS(t *testing.T, bin string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "NO_COLOR=1") // no saved context of the machine's user
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// rules S5, S7, as an operator and a subscriber use them with natscli: the
// subscriber's credentials from the API read its consumer with `nats
// consumer next`; a client without credentials cannot even connect, so
// `nats stream rm` fails; the read-only user sees the stream and cannot
// remove it; the backup user takes a `nats stream backup` that `nats
// stream restore` puts back, whole, on a new server.
func TestNATSCLIOperatorAndSubscriber(t *testing.T) {
	testlock.Heavy(t)
	bin := natsCLI(t)
	s, env := secrets(t)
	p := startSingle(t, env)
	l := startLedger(t, []string{p.URL()}, s, 1)
	creds := l.seed()

	out, err := runNATS(t, bin, "--server", p.URL(), "--user", creds.NATSUser, "--password", creds.NATSPassword,
		"--inbox-prefix", creds.InboxPrefix, "--js-api-prefix", creds.JSAPIPrefix, "consumer", "next", "LEDGER", creds.Durable, "--count", "2", "--raw")
	if err != nil || !strings.Contains(out, `"type":"account.created"`) {
		t.Errorf("nats consumer next with the subscriber's credentials: %v\n%s", err, out)
	}
	if out, err := runNATS(t, bin, "--server", p.URL(), "stream", "rm", "LEDGER", "-f"); err == nil {
		t.Errorf("nats stream rm without credentials succeeded:\n%s", out)
	}
	reader := []string{"--server", p.URL(), "--user", server.ReaderNATSUser, "--password", s.ReaderPassword, "--js-api-prefix", "$LEDGER.API"}
	if out, err := runNATS(t, bin, append(reader, "stream", "info", "LEDGER", "--json")...); err != nil || !strings.Contains(out, `"deny_delete": true`) {
		t.Errorf("nats stream info as the read-only user: %v\n%s", err, out)
	}
	if out, err := runNATS(t, bin, append(reader, "stream", "rm", "LEDGER", "-f")...); err == nil {
		t.Errorf("nats stream rm as the read-only user succeeded:\n%s", out)
	}

	backup := []string{"--user", server.BackupNATSUser, "--password", s.BackupPassword}
	dir := filepath.Join(t.TempDir(), "backup")
	if out, err := runNATS(t, bin, append(append([]string{"--server", p.URL()}, backup...), "stream", "backup", "LEDGER", dir, "--no-progress")...); err != nil {
		t.Fatalf("nats stream backup as the backup user: %v\n%s", err, out)
	}
	want, err := l.srv.Conn().Stream.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	// A new server of the same deployment, empty: the backup goes back.
	fresh := startSingle(t, env)
	if out, err := runNATS(t, bin, append(append([]string{"--server", fresh.URL()}, backup...), "stream", "restore", dir, "--no-progress")...); err != nil {
		t.Fatalf("nats stream restore as the backup user: %v\n%s", err, out)
	}
	nc, err := nats.Connect(fresh.URL(), nats.UserInfo(server.LedgerNATSUser, s.LedgerPassword))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	st, err := js.Stream(context.Background(), "LEDGER")
	if err != nil {
		t.Fatalf("the restored stream: %v", err)
	}
	got := st.CachedInfo()
	if got.State.Msgs != want.State.Msgs || got.State.LastSeq != want.State.LastSeq || !got.Config.DenyDelete || !got.Config.DenyPurge {
		t.Errorf("restored: %d messages to %d, deny delete %v purge %v; backed up: %d to %d",
			got.State.Msgs, got.State.LastSeq, got.Config.DenyDelete, got.Config.DenyPurge, want.State.Msgs, want.State.LastSeq)
	}
	rep, err := server.VerifyStream(context.Background(), st, events.NewVerifier(l.srv.Ledger().EventKey()))
	if err != nil || !rep.OK() {
		t.Errorf("verify of the restored stream: %+v %v", rep, err)
	}
}
