package ledger_test

import (
	"bytes"
	"fmt"
	"net/http"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/entledger/ledger/internal/natscluster"
	"github.com/entledger/ledger/server"
)

// This file starts ledgers as a team runs them on a cluster: three
// nats-server processes of deploy/nats/cluster.conf (internal/natscluster),
// an R3 stream, two ledger processes with the deployment's secrets and one
// signing key, and watches the requests sent to them.

// shippedPair is two ledgers on a three-server cluster of cluster.conf.
type shippedPair struct {
	cluster *natscluster.Cluster
	secrets server.NATSSecrets
	a, b    *testLedger
	cfgA    server.Config
	cfgB    server.Config
}

// startShippedPair starts the cluster and the ledgers a and b on clock c,
// each configured as base (its reminders and logger, say) and given every
// server's URL. b shares a's signing key and sends a's admin token.
func startShippedPair(t *testing.T, c *clock, base server.Config) *shippedPair {
	t.Helper()
	s, env := natscluster.Secrets(t)
	cl := natscluster.Start(t, s, env)
	ports := freePorts(t, 2)
	cfgA := base
	cfgA.DataDir, cfgA.HTTPAddr = t.TempDir(), fmt.Sprintf("127.0.0.1:%d", ports[0])
	cfgA.NATSURLs, cfgA.Replicas = cl.URLs(), 3
	cfgA.NATSPassword, cfgA.NATSCalloutKey, cfgA.NATSSysPassword = s.LedgerPassword, s.CalloutKey, s.SysPassword
	a := startClusterLedger(t, cfgA, c, "")
	cfgB := cfgA
	cfgB.DataDir, cfgB.HTTPAddr = t.TempDir(), fmt.Sprintf("127.0.0.1:%d", ports[1])
	cfgB.SigningKey = filepath.Join(cfgA.DataDir, "keys", "events.ed25519")
	b := startClusterLedger(t, cfgB, c, a.token)
	return &shippedPair{cluster: cl, secrets: s, a: a, b: b, cfgA: cfgA, cfgB: cfgB}
}

// requestWatch is an http.RoundTripper that times every request sent
// through it and, when one has been waiting longer than promise, takes a
// goroutine dump of the test process (the ledgers run in it) to show where
// the request waits.
type requestWatch struct {
	next    http.RoundTripper
	promise time.Duration
	maxDump int // dumps taken at most

	mu struct {
		sync.Mutex
		next  int
		live  map[int]*watched
		done  []watched
		dumps []string
	}
}

type watched struct {
	what   string // method and path
	start  time.Time
	took   time.Duration
	status int // 0: a transport error
	dumped bool
}

func newRequestWatch(promise time.Duration, maxDump int) *requestWatch {
	w := &requestWatch{next: &http.Transport{MaxIdleConnsPerHost: 16}, promise: promise, maxDump: maxDump}
	w.mu.live = map[int]*watched{}
	return w
}

func (w *requestWatch) RoundTrip(r *http.Request) (*http.Response, error) {
	w.mu.Lock()
	id := w.mu.next
	w.mu.next++
	req := &watched{what: r.Method + " " + r.URL.Host + r.URL.Path, start: time.Now()}
	w.mu.live[id] = req
	w.mu.Unlock()
	resp, err := w.next.RoundTrip(r)
	w.mu.Lock()
	delete(w.mu.live, id)
	req.took = time.Since(req.start)
	if err == nil {
		req.status = resp.StatusCode
	}
	w.mu.done = append(w.mu.done, *req)
	w.mu.Unlock()
	return resp, err
}

// check takes a goroutine dump if a request has waited longer than the
// promise and none was taken for it yet; call it every so often.
func (w *requestWatch) check() {
	w.mu.Lock()
	defer w.mu.Unlock()
	var late []string
	for _, r := range w.mu.live {
		if !r.dumped && time.Since(r.start) > w.promise {
			r.dumped = true
			late = append(late, fmt.Sprintf("%s waiting %s", r.what, time.Since(r.start).Round(time.Millisecond)))
		}
	}
	if len(late) == 0 || len(w.mu.dumps) >= w.maxDump {
		return
	}
	var buf bytes.Buffer
	pprof.Lookup("goroutine").WriteTo(&buf, 2)
	w.mu.dumps = append(w.mu.dumps, fmt.Sprintf("%s\n%s", strings.Join(late, "\n"), ledgerGoroutines(buf.String())))
}

// ledgerGoroutines keeps the goroutines of a debug=2 dump that run the
// ledger's own code, leaving out the test's and idle ones.
func ledgerGoroutines(dump string) string {
	var keep []string
	for _, g := range strings.Split(dump, "\n\n") {
		if strings.Contains(g, "nats.go/jetstream.") || strings.Contains(g, "entledger/ledger/") && !strings.Contains(g, "_test.go") &&
			(strings.Contains(g, "/ledger.") || strings.Contains(g, "/projections.") || strings.Contains(g, "/api.")) {
			keep = append(keep, g)
		}
	}
	return strings.Join(keep, "\n\n")
}

// report is the requests' durations: how many, the slowest, and how many
// took longer than the promise, with the slowest few.
func (w *requestWatch) report() (n int, slowest time.Duration, over []watched) {
	w.mu.Lock()
	defer w.mu.Unlock()
	done := slices.Clone(w.mu.done)
	slices.SortFunc(done, func(x, y watched) int { return int(y.took - x.took) })
	for _, r := range done {
		if r.took > w.promise {
			over = append(over, r)
		}
	}
	if len(done) > 0 {
		slowest = done[0].took
	}
	return len(done), slowest, over
}

// inFlight is how many requests are waiting for their answer.
func (w *requestWatch) inFlight() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.mu.live)
}

// dumps are the goroutine dumps taken.
func (w *requestWatch) dumps() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.mu.dumps)
}
