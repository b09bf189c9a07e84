package ledger_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/internal/testlock"
	"github.com/entledger/ledger/server"
)

// This file proves the ledger on a three-node JetStream cluster (issue 11):
// an R3 stream, two ledger processes on it, the stream leader's server
// stopped and one ledger stopped under load, both restarted, and nothing
// acknowledged lost or doubled.

// natsNode is one nats-server of an in-process cluster, restartable on the
// same ports and store directory.
type natsNode struct {
	name              string
	port, clusterPort int    // client and cluster ports
	routes            string // every node's cluster URL
	storeDir          string
	clusterName       string
	srv               *natsserver.Server
}

// freePorts returns n distinct free loopback ports. The listeners stay open
// until all are taken, so no port is handed out twice.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}

// options are the node's server options, the same at every start (as in
// nats-server's own createJetStreamClusterExplicit).
func (n *natsNode) options() *natsserver.Options {
	return &natsserver.Options{
		ServerName: n.name,
		Host:       "127.0.0.1",
		Port:       n.port,
		JetStream:  true,
		StoreDir:   n.storeDir,
		Cluster:    natsserver.ClusterOpts{Name: n.clusterName, Host: "127.0.0.1", Port: n.clusterPort},
		Routes:     natsserver.RoutesFromStr(n.routes),
		Users:      []*natsserver.User{{Username: "ledger", Password: clusterPassword, Permissions: ledgerPermissions()}},
		NoSigs:     true,
		NoLog:      true,
	}
}

// clusterPassword is the password of the ledgers' NATS user on the test
// cluster.
const clusterPassword = "cluster-test-secret"

// ledgerPermissions are what the ledger's own work needs of NATS, without
// accounts or subscribers (docs/operations.md, The leader-loss test): the
// test runs the ledgers with nothing more. The shipped deployments give the
// ledger's user its whole account instead (deploy/nats/accounts.conf).
func ledgerPermissions() *natsserver.Permissions {
	return &natsserver.Permissions{
		Publish:   &natsserver.SubjectPermission{Allow: []string{"ledger.events.>", "$JS.API.>", "$KV.LEDGER_ANSWERS.>"}},
		Subscribe: &natsserver.SubjectPermission{Allow: []string{"_INBOX.>"}},
	}
}

// start starts the node and waits until it accepts clients.
func (n *natsNode) start(t *testing.T) {
	t.Helper()
	s, err := natsserver.NewServer(n.options())
	if err != nil {
		t.Fatalf("nats-server %s: %v", n.name, err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatalf("nats-server %s not ready", n.name)
	}
	n.srv = s
}

// stop shuts the node down; calling it twice is fine.
func (n *natsNode) stop() {
	if n.srv == nil {
		return
	}
	n.srv.Shutdown()
	n.srv.WaitForShutdown()
	n.srv = nil
}

// url is the node's client URL, with the ledger's user and password.
func (n *natsNode) url() string {
	return fmt.Sprintf("nats://ledger:%s@127.0.0.1:%d", clusterPassword, n.port)
}

// startNATSCluster starts three JetStream nodes routed to each other and
// waits for the cluster to elect a meta leader that sees all three.
func startNATSCluster(t *testing.T) []*natsNode {
	t.Helper()
	ports := freePorts(t, 6)
	var routes []string
	for i := range 3 {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", ports[3+i]))
	}
	nodes := make([]*natsNode, 3)
	for i := range nodes {
		nodes[i] = &natsNode{name: fmt.Sprintf("n%d", i+1), port: ports[i], clusterPort: ports[3+i],
			routes: strings.Join(routes, ","), storeDir: t.TempDir(), clusterName: "ledger-test"}
	}
	for _, n := range nodes {
		n.start(t)
		t.Cleanup(n.stop) // registered before the ledgers', so run after them
	}
	// As nats-server's own waitOnPeerCount: the meta leader must see every
	// peer online with its stats, or it cannot place three replicas.
	eventually(t, 20*time.Second, "a JetStream meta leader seeing three peers", func() bool {
		peers := 0
		for _, n := range nodes {
			if !n.srv.JetStreamIsCurrent() {
				return false
			}
			if n.srv.JetStreamIsLeader() {
				peers = len(n.srv.JetStreamClusterPeers())
			}
		}
		return peers == len(nodes)
	})
	return nodes
}

// eventually waits up to d for cond, checking it every few milliseconds,
// and fails the test naming what if it never holds.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("no %s after %s", what, d)
		}
	}
}

// startClusterLedger starts a ledger with cfg on clock c. token is the
// admin token to send ("": the one this start wrote into cfg.DataDir).
func startClusterLedger(t *testing.T, cfg server.Config, c *clock, token string) *testLedger {
	t.Helper()
	cfg.Now = c.Now
	srv := startRetrying(t, cfg)
	if token == "" {
		token = readAdminToken(t, cfg.DataDir)
	}
	tl := &testLedger{tb: t, srv: srv, clock: c, dir: cfg.DataDir, base: "http://" + srv.Addr(), token: token}
	t.Cleanup(tl.stop)
	tl.waitReady()
	return tl
}

// stopDraining stops tl gracefully, as tl.stop does, but gives requests in
// flight longer to end: during a leader election a request can wait for
// the stream through more than one timeout (a lookup, then a batch commit
// of up to 10 s) before it is answered 503.
func stopDraining(t *testing.T, tl *testLedger) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	if err := tl.srv.Close(ctx); err != nil {
		t.Errorf("close ledger: %v", err)
	}
	tl.srv = nil
}

// startRetrying starts a ledger with cfg, again on failure for up to 30 s,
// as a supervisor would: just after a server rejoined, the cluster may not
// answer the ledger's start-up requests (the answers bucket) in time.
func startRetrying(t *testing.T, cfg server.Config) *server.Server {
	t.Helper()
	var srv *server.Server
	var err error
	eventually(t, 30*time.Second, "ledger start on the cluster", func() bool {
		if srv, err = server.Start(context.Background(), withoutLimits(cfg)); err != nil {
			t.Logf("start ledger on the cluster: %v (starting again)", err)
		}
		return err == nil
	})
	return srv
}

// clusterClient sends commands to a ledger and retries, with the same body
// and Idempotency-Key, what was not acknowledged: a transport error (the
// ledger is down) or a 503 (the stream did not answer). It records every
// acknowledged write.
type clusterClient struct {
	token string
	http  *http.Client
	ctx   context.Context
	stop  chan struct{} // closed: the load is over, workers start nothing new

	mu    sync.Mutex
	acked map[string]bool // "kind:id" of every acknowledged write
	n     atomic.Int64    // len(acked), read without the lock
	tries atomic.Int64    // requests answered 503 or not at all
}

// send posts body to base+path until it is answered with something other
// than 503, and returns the status and the decoded answer.
func (cc *clusterClient) send(base, path, key string, body any) (int, map[string]any, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return 0, nil, err
	}
	for backoff := 20 * time.Millisecond; ; backoff = min(2*backoff, 500*time.Millisecond) {
		status, ans, err := cc.post(base, path, key, raw)
		if err == nil && status != http.StatusServiceUnavailable {
			return status, ans, nil
		}
		cc.tries.Add(1)
		// The client's retry policy: back off, give up with the test.
		select {
		case <-cc.ctx.Done():
			return 0, nil, fmt.Errorf("POST %s (key %s) never acknowledged: last %d %v", path, key, status, err)
		case <-time.After(backoff):
		}
	}
}

// post sends one request.
func (cc *clusterClient) post(base, path, key string, raw []byte) (int, map[string]any, error) {
	req, err := http.NewRequestWithContext(cc.ctx, "POST", base+path, bytes.NewReader(raw))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+cc.token)
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := cc.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	var ans map[string]any
	if len(bytes.TrimSpace(b)) > 0 {
		if err := json.Unmarshal(b, &ans); err != nil {
			return 0, nil, fmt.Errorf("status %d, not JSON: %q", resp.StatusCode, b)
		}
	}
	return resp.StatusCode, ans, nil
}

// command sends a keyed command and records it as acknowledged under id
// when answered want.
func (cc *clusterClient) command(base, path, id string, want int, body any) error {
	status, ans, err := cc.send(base, path, "k-"+id, body)
	if err != nil {
		return err
	}
	if status != want {
		return fmt.Errorf("POST %s (%s): status %d, want %d: %v", path, id, status, want, ans)
	}
	cc.ack(id)
	return nil
}

// usage sends a batch of usage records (without a key: usage ids make a
// retry safe) and records each as acknowledged when the batch is answered.
func (cc *clusterClient) usage(base string, recs []useRec) error {
	batch := make([]any, len(recs))
	for i, r := range recs {
		batch[i] = r
	}
	status, ans, err := cc.send(base, usePath, "", useBatch(batch...))
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("usage batch %v: status %d: %v", recs[0]["usage_id"], status, ans)
	}
	if got := ans["accepted"].(float64) + ans["duplicates"].(float64); got != float64(len(recs)) {
		return fmt.Errorf("usage batch %v: accepted+duplicates %v of %d", recs[0]["usage_id"], got, len(recs))
	}
	for _, r := range recs {
		cc.ack("usage:" + r["usage_id"].(string))
	}
	return nil
}

func (cc *clusterClient) ack(id string) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if !cc.acked[id] {
		cc.acked[id] = true
		cc.n.Add(1)
	}
}

// endpoint is where a worker sends its writes: a ledger's HTTP address,
// which stays the same across its restarts.
type endpoint struct{ base string }

// over reports whether the test has ended the load.
func (cc *clusterClient) over() bool {
	select {
	case <-cc.stop:
		return true
	default:
		return false
	}
}

// userWorker registers up to n users on ep, until the load is over.
func userWorker(cc *clusterClient, ep endpoint, name string, n int) error {
	for i := 0; i < n && !cc.over(); i++ {
		email := fmt.Sprintf("%s-%d@x.example", name, i)
		if err := cc.command(ep.base, useAcme+"/users", "user:"+email, 201,
			map[string]any{"email": email, "entitlement_country": "DE"}); err != nil {
			return err
		}
	}
	return nil
}

// licenseWorker registers a user, creates a practitioner licence and
// assigns it to the user, up to n times, on ep, until the load is over.
func licenseWorker(cc *clusterClient, ep endpoint, name string, n int) error {
	from, until := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < n && !cc.over(); i++ {
		email, lic := fmt.Sprintf("%s-%d@x.example", name, i), fmt.Sprintf("%s-%d", strings.ToUpper(name), i)
		if err := cc.command(ep.base, useAcme+"/users", "user:"+email, 201,
			map[string]any{"email": email, "entitlement_country": "DE"}); err != nil {
			return err
		}
		if err := cc.command(ep.base, useAcme+"/licenses", "license:"+lic, 201,
			e2eLicense(lic, "practitioner", 0, from, until, "microstation")); err != nil {
			return err
		}
		if err := cc.command(ep.base, useAcme+"/licenses/"+lic+"/assign", "assign:"+lic, 200, e2eAssign(email)); err != nil {
			return err
		}
	}
	return nil
}

// usageWorker records up to n batches of size records of user a on ep,
// each on the worker's machine in a 40 s slot of its own, with stable usage ids,
// until the load is over.
func usageWorker(cc *clusterClient, ep endpoint, name string, n, size int, now time.Time) error {
	for i := 0; i < n && !cc.over(); i++ {
		recs := make([]useRec, size)
		for j := range recs {
			k := i*size + j
			start := now.Add(-10*time.Hour + time.Duration(k)*40*time.Second) // k < 900 ends before now
			recs[j] = useR(fmt.Sprintf("%s-%d", name, k), start, 20*time.Second).set("machine_id", name)
		}
		if err := cc.usage(ep.base, recs); err != nil {
			return err
		}
	}
	return nil
}

// streamLeader is the name of the server leading the LEDGER stream, as
// tl's connection sees it ("" while there is none).
func streamLeader(tl *testLedger) string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	info, err := tl.srv.Conn().Stream.Info(ctx)
	if err != nil || info.Cluster == nil {
		return ""
	}
	return info.Cluster.Leader
}

// moveStreamLeader asks the stream's leader to step down in favour of the
// server named to, and waits until that server leads the stream.
func moveStreamLeader(t *testing.T, tl *testLedger, to string) {
	t.Helper()
	if streamLeader(tl) == to {
		return
	}
	req, _ := json.Marshal(map[string]any{"placement": map[string]any{"preferred": to}})
	for range 5 {
		from := streamLeader(tl)
		if _, err := tl.srv.Conn().NC.Request("$JS.API.STREAM.LEADER.STEPDOWN."+server.StreamName, req, 5*time.Second); err != nil {
			t.Logf("stream leader step down: %v", err)
		}
		eventually(t, 10*time.Second, "stream leader after a step down", func() bool {
			l := streamLeader(tl)
			return l != "" && l != from
		})
		if streamLeader(tl) == to {
			return
		}
	}
	t.Fatalf("the stream leader did not move to %s", to)
}

// replicasCurrent reports whether the stream has a leader and every other
// replica is current, as tl's connection sees it.
func replicasCurrent(tl *testLedger, want int) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	info, err := tl.srv.Conn().Stream.Info(ctx)
	if err != nil || info.Cluster == nil || info.Cluster.Leader == "" || len(info.Cluster.Replicas) != want-1 {
		return false
	}
	for _, r := range info.Cluster.Replicas {
		if !r.Current || r.Offline {
			return false
		}
	}
	return true
}

// load is the test's writers: goroutines that send commands and usage to
// the two ledgers until the load is over.
type load struct {
	cc       *clusterClient
	wg       sync.WaitGroup
	errs     chan error
	runningA atomic.Int64 // writers on ledger A (always up) not done yet
}

// startLoad starts the writers: users, licences with assignments and usage
// on a, licences and usage on b. A writer that fails calls cancel, which
// ends the others.
func startLoad(cc *clusterClient, a, b endpoint, cancel func()) *load {
	type job struct {
		onA bool
		run func() error
	}
	work := []job{
		{true, func() error { return userWorker(cc, a, "ua", 400) }},
		{false, func() error { return licenseWorker(cc, b, "lb", 60) }},
		{true, func() error { return licenseWorker(cc, a, "la", 60) }},
		{true, func() error { return usageWorker(cc, a, "usa", 200, 4, useNow) }},
		{false, func() error { return usageWorker(cc, b, "usb", 60, 4, useNow) }},
	}
	ld := &load{cc: cc, errs: make(chan error, len(work))}
	for _, w := range work {
		ld.wg.Add(1)
		if w.onA {
			ld.runningA.Add(1)
		}
		go func() {
			defer ld.wg.Done()
			if w.onA {
				defer ld.runningA.Add(-1)
			}
			if err := w.run(); err != nil {
				ld.errs <- err
				cancel()
			}
		}()
	}
	return ld
}

// progress waits until n more writes are acknowledged, or the writers on
// ledger A are done.
func (ld *load) progress(t *testing.T, n int64, what string) {
	t.Helper()
	goal := ld.cc.n.Load() + n
	eventually(t, 30*time.Second, what, func() bool {
		return ld.cc.n.Load() >= goal || ld.runningA.Load() == 0 || ld.cc.ctx.Err() != nil
	})
}

// fail ends the test with the error and the writers' errors.
func (ld *load) fail(t *testing.T, format string, args ...any) {
	t.Helper()
	t.Errorf(format, args...)
	close(ld.cc.stop)
	for _, err := range ld.wait() {
		t.Errorf("writer: %v", err)
	}
	t.FailNow()
}

// wait waits for the writers and returns their errors.
func (ld *load) wait() []error {
	ld.wg.Wait()
	close(ld.errs)
	var errs []error
	for err := range ld.errs {
		errs = append(errs, err)
	}
	return errs
}

// TestClusterLeaderLossAndRestarts (issue 11): two ledgers on an R3 stream
// of a three-node cluster, under mixed load. The stream leader's server is
// stopped, then one ledger; both are restarted. The running ledger keeps
// serving across the leader change without a restart, every acknowledged
// command and usage record is on the stream exactly once, both ledgers'
// projections agree, and the stream verifies.
//
// It is not parallel, so no other test of the package runs beside it, and
// -short skips it (it stops and restarts servers, about 10-20 s).
func TestClusterLeaderLossAndRestarts(t *testing.T) {
	if testing.Short() {
		t.Skip("a three-node NATS cluster with restarts: not with -short")
	}
	// Seen to fail once, in about 35 runs of an earlier version: after the
	// leader change, events on a usage shard carried a prevhash of no event
	// on the subject (the chain broken, the digests different). The cause
	// was not found, and 45 runs in a row passed since; if it happens
	// again, logBrokenChains prints the subject's events.
	testlock.Heavy(t) // never beside the kill tests of cmd/ledger
	nodes := startNATSCluster(t)
	urls := []string{nodes[0].url(), nodes[1].url(), nodes[2].url()}
	httpPorts := freePorts(t, 2)
	c := newClock(T0)
	dirA, dirB := t.TempDir(), t.TempDir()
	cfgA := server.Config{DataDir: dirA, HTTPAddr: fmt.Sprintf("127.0.0.1:%d", httpPorts[0]),
		NATSURLs: urls, Replicas: 3, NoReminders: true, ReminderPoll: 5 * time.Millisecond}
	a := startClusterLedger(t, cfgA, c, "")
	cfgB := cfgA
	cfgB.DataDir, cfgB.HTTPAddr = dirB, fmt.Sprintf("127.0.0.1:%d", httpPorts[1])
	cfgB.SigningKey = filepath.Join(dirA, "keys", "events.ed25519")
	b := startClusterLedger(t, cfgB, c, a.token)
	if info, err := a.srv.Conn().Stream.Info(context.Background()); err != nil || info.Config.Replicas != 3 {
		t.Fatalf("stream: replicas %v, err %v; want an R3 stream", info.Config.Replicas, err)
	}
	useWorld(a)
	c.Set(useNow)
	b.waitReady()

	ctx, cancel := context.WithTimeout(context.Background(), 75*time.Second)
	defer cancel()
	cc := &clusterClient{token: a.token, ctx: ctx, stop: make(chan struct{}), acked: map[string]bool{},
		http: &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 8}}}
	ld := startLoad(cc, endpoint{a.base}, endpoint{b.base}, cancel)
	progress := func(n int64, what string) { t.Helper(); ld.progress(t, n, what) }

	progress(60, "first writes")
	// Lead the stream from the server ledger A is connected to, so that
	// stopping the leader also takes A's connection: A must fail over.
	name := a.srv.Conn().NC.ConnectedServerName()
	moveStreamLeader(t, a, name)
	reconnects := a.srv.Conn().NC.Stats().Reconnects
	var leader *natsNode
	for _, n := range nodes {
		if n.name == name {
			leader = n
		}
	}
	if leader == nil {
		t.Fatalf("stream leader %q is none of the nodes", name)
	}
	leader.stop()
	t.Logf("stopped the stream leader %s at %d acknowledged writes", name, cc.n.Load())

	// The running ledger serves a write after the leader is gone, without a
	// restart (the client retries a 503 while the stream elects a leader).
	// It is checked beside the load: one request may wait for a timeout.
	afterLeader := make(chan error, 1)
	go func() {
		afterLeader <- cc.command(a.base, useAcme+"/users", "user:after-leader@x.example", 201,
			map[string]any{"email": "after-leader@x.example", "entitlement_country": "DE"})
	}()
	eventually(t, 20*time.Second, "new stream leader", func() bool { l := streamLeader(a); return l != "" && l != name })
	t.Logf("new stream leader %s", streamLeader(a))

	progress(40, "writes after the leader change")
	stopDraining(t, b)
	t.Logf("stopped ledger B at %d acknowledged writes", cc.n.Load())
	progress(30, "writes on ledger A while B is down")
	if err := <-afterLeader; err != nil {
		ld.fail(t, "a write on ledger A after the leader stopped: %v", err)
	}
	if got := a.srv.Conn().NC.Stats().Reconnects; got <= reconnects {
		t.Errorf("ledger A's NATS connection reconnected %d times, want more than %d: it was on the stopped leader", got, reconnects)
	}

	leader.start(t)
	b = startClusterLedger(t, cfgB, c, a.token)
	t.Logf("restarted %s and ledger B at %d acknowledged writes", name, cc.n.Load())
	// The restarted ledger serves writes again.
	if err := cc.command(b.base, useAcme+"/users", "user:after-restart@x.example", 201,
		map[string]any{"email": "after-restart@x.example", "entitlement_country": "DE"}); err != nil {
		ld.fail(t, "a write on ledger B after its restart: %v", err)
	}
	progress(40, "writes after the restarts")
	close(cc.stop)

	for _, err := range ld.wait() {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("%d writes acknowledged, %d requests retried", cc.n.Load(), cc.tries.Load())

	eventually(t, 30*time.Second, "all three replicas current", func() bool { return replicasCurrent(a, 3) })
	checkExactlyOnce(t, a.checkStream(), cc.acked)
	if t.Failed() {
		logBrokenChains(t, a)
	}
	if da, db := a.digest(), b.digest(); da != db {
		t.Errorf("projection digests differ: A %s, B %s", da, db)
	}
	checkVerify(t, a)
}

// checkExactlyOnce checks that every acknowledged write is on the stream
// exactly once, and that no write of the test is on it twice.
func checkExactlyOnce(t *testing.T, evs []events.Event, acked map[string]bool) {
	t.Helper()
	seen := map[string]int{}
	for _, e := range evs {
		switch d := e.Data.(type) {
		case events.UserRegistered:
			seen["user:"+d.Email]++
		case events.LicenseCreated:
			seen["license:"+d.ID]++
		case events.LicenseAssigned:
			seen["assign:"+d.ID]++
		case events.UsageRecorded:
			seen["usage:"+d.UsageID]++
		}
	}
	for id, n := range seen {
		if n > 1 {
			t.Errorf("%s is on the stream %d times", id, n)
		}
	}
	for id := range acked {
		if seen[id] != 1 {
			t.Errorf("acknowledged %s is on the stream %d times, want once", id, seen[id])
		}
	}
}

// checkVerify runs the verification `ledger verify` does on the stream,
// with the ledger's public key alone.
func checkVerify(t *testing.T, tl *testLedger) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rep, err := server.VerifyStream(ctx, tl.srv.Conn().Stream, eventVerifier(t, tl.dir))
	if err != nil || !rep.OK() {
		t.Errorf("verify: %+v, %v", rep, err)
	}
}
