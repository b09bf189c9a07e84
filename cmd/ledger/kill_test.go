package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/entledger/ledger/internal/testlock"
	"github.com/entledger/ledger/server"
)

// A ledger killed with SIGKILL in the middle of a stream of commands loses
// no acknowledged command, applies none twice, keeps every atomic batch
// whole, and answers every replayed Idempotency-Key with its first answer.
// The ledger runs as the real binary in a subprocess on the default
// embedded JetStream (fsync before acknowledging) and Pebble.

// killBinary builds the ledger binary once per test run.
func killBinary(tb testing.TB) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), "ledger")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// killProc is a running `ledger serve`.
type killProc struct {
	tb     testing.TB
	cmd    *exec.Cmd
	base   string        // http://host:port
	token  string        // the admin token the first start wrote
	exited chan struct{} // closed once the process has been waited for
	err    error         // its exit status, once exited is closed
	stderr string        // path of its log
}

// killStart starts `ledger serve` on dir and returns once it has printed
// the address it listens on.
func killStart(tb testing.TB, bin, dir string) *killProc {
	tb.Helper()
	logf, err := os.CreateTemp(tb.TempDir(), "stderr-*.log")
	if err != nil {
		tb.Fatal(err)
	}
	p := &killProc{tb: tb, exited: make(chan struct{}), stderr: logf.Name()}
	// The kill tests drive the ledger as fast as it goes: the limits of S9
	// are off.
	p.cmd = exec.Command(bin, "serve", "--data", dir, "--http", "127.0.0.1:0", "--nats-listen", "",
		"--rate-limit", "0", "--usage-rate", "0", "--report-rate", "0", "--body-rate", "0", "--max-inflight", "0")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LEDGER_") {
			p.cmd.Env = append(p.cmd.Env, kv)
		}
	}
	p.cmd.Stderr = logf
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	logf.Close()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				select {
				case addr <- a:
				default:
				}
			}
		}
		io.Copy(io.Discard, stdout)
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	tb.Cleanup(func() { p.kill() })
	select {
	case a := <-addr:
		p.base = a
		raw, err := os.ReadFile(server.AdminTokenFile(dir))
		if err != nil {
			tb.Fatalf("ledger serve wrote no admin token: %v", err)
		}
		p.token = strings.TrimSpace(string(raw))
	case <-p.exited:
		tb.Fatalf("ledger serve exited before listening: %v\n%s", p.err, p.log())
	case <-time.After(30 * time.Second):
		tb.Fatalf("ledger serve printed no address within 30s\n%s", p.log())
	}
	return p
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *killProc) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

func (p *killProc) log() string {
	b, _ := os.ReadFile(p.stderr)
	return string(b)
}

// waitReady polls /readyz until it answers 200: the stream is reachable and
// the projections have caught up with it.
func (p *killProc) waitReady() {
	p.tb.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := client.Get(p.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-p.exited:
			p.tb.Fatalf("ledger exited while starting: %v\n%s", p.err, p.log())
		default:
		}
		if time.Now().After(deadline) {
			p.tb.Fatalf("ledger not ready after 20s (last: %v)\n%s", err, p.log())
		}
	}
}

// killAnswer is one HTTP answer, or the transport error in its place.
type killAnswer struct {
	status int
	body   string
	err    error
}

func killSend(client *http.Client, token, method, url, key string, body any) killAnswer {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return killAnswer{err: err}
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return killAnswer{err: err}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return killAnswer{err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return killAnswer{status: resp.StatusCode, body: string(raw), err: err}
}

// must sends a request and fails the test unless it answers want.
func (p *killProc) must(want int, method, path, key string, body any) map[string]any {
	p.tb.Helper()
	a := killSend(http.DefaultClient, p.token, method, p.base+path, key, body)
	if a.err != nil {
		p.tb.Fatalf("%s %s: %v\n%s", method, path, a.err, p.log())
	}
	if a.status != want {
		p.tb.Fatalf("%s %s: status %d, want %d: %s", method, path, a.status, want, a.body)
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(a.body), &out); err != nil && a.body != "" {
		p.tb.Fatalf("%s %s: %v: %q", method, path, err, a.body)
	}
	return out
}

// killCmd is one command of the workload: its Idempotency-Key makes it
// safe to send again.
type killCmd struct {
	key    string
	path   string
	body   map[string]any
	status int // the status it answers when it succeeds
}

// historyTypes returns the event types of a licence's history (nil: 404).
func (p *killProc) historyTypes(lic string) []string {
	p.tb.Helper()
	a := killSend(http.DefaultClient, p.token, "GET", p.base+"/v1/accounts/acme/licenses/"+lic+"/history", "", nil)
	if a.err != nil {
		p.tb.Fatal(a.err)
	}
	if a.status == http.StatusNotFound {
		return nil
	}
	if a.status != http.StatusOK {
		p.tb.Fatalf("history of %s: status %d: %s", lic, a.status, a.body)
	}
	var h struct {
		Events []struct {
			Type string `json:"type"`
		} `json:"events"`
	}
	if err := json.Unmarshal([]byte(a.body), &h); err != nil {
		p.tb.Fatal(err)
	}
	types := make([]string, len(h.Events))
	for i, e := range h.Events {
		types[i] = e.Type
	}
	return types
}

func killCount(types []string, typ string) int {
	n := 0
	for _, t := range types {
		if t == typ {
			n++
		}
	}
	return n
}

func TestKillMidStreamLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs it as a subprocess")
	}
	const (
		workers = 4
		n       = 240 // licences: each is created, then assigned (two commands)
		killAt  = 200 // acknowledged commands before SIGKILL
	)
	testlock.Heavy(t) // never beside the cluster test of package ledger
	testStart := time.Now()
	bin := killBinary(t)
	dir := t.TempDir()
	p := killStart(t, bin, dir)
	p.waitReady()

	p.must(201, "POST", "/v1/accounts", "", map[string]any{"id": "acme", "name": "Acme", "fulfillment_contact": "ops@acme.example"})
	user := func(i int) string { return fmt.Sprintf("u%03d@x.example", i) }
	lic := func(i int) string { return fmt.Sprintf("L-%03d", i) }
	cmds := make([][2]killCmd, n) // per licence: create, then assign
	for i := range n {
		cmds[i] = [2]killCmd{
			{key: "create-" + lic(i), path: "/v1/accounts/acme/licenses", status: 201, body: map[string]any{
				"id": lic(i), "kind": "practitioner", "products": []string{"microstation"},
				"valid_from": "2025-01-01T00:00:00Z", "valid_until": "2099-01-01T00:00:00Z"}},
			{key: "assign-" + lic(i), path: "/v1/accounts/acme/licenses/" + lic(i) + "/assign", status: 200,
				body: map[string]any{"email": user(i)}},
		}
	}
	// Users first, from the same workers, all acknowledged before the kill.
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				a := killSend(http.DefaultClient, p.token, "POST", p.base+"/v1/accounts/acme/users", "",
					map[string]any{"email": user(i), "entitlement_country": "DE"})
				if a.err != nil || a.status != 201 {
					t.Errorf("register %s: %v %d %s", user(i), a.err, a.status, a.body)
					return
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	// The workload: 4 workers create and assign licences; the worker whose
	// answer is the killAt-th 2xx kills the ledger.
	var (
		mu      sync.Mutex
		acked   = map[string]killAnswer{} // key → first answer
		unknown = map[string]bool{}       // sent, no answer
		nAcked  atomic.Int64
		killed  atomic.Bool
		once    sync.Once
	)
	client := &http.Client{Timeout: 20 * time.Second}
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n && !killed.Load(); i += workers {
				for _, c := range cmds[i] {
					a := killSend(client, p.token, "POST", p.base+c.path, c.key, c.body)
					if a.err != nil {
						if !killed.Load() {
							t.Errorf("%s before the kill: %v", c.key, a.err)
						}
						mu.Lock()
						unknown[c.key] = true
						mu.Unlock()
						return
					}
					if a.status != c.status {
						t.Errorf("%s: status %d, want %d: %s", c.key, a.status, c.status, a.body)
						return
					}
					mu.Lock()
					acked[c.key] = a
					mu.Unlock()
					if nAcked.Add(1) == killAt {
						once.Do(func() {
							killed.Store(true)
							p.kill()
						})
					}
				}
			}
		}()
	}
	wg.Wait()
	if !killed.Load() {
		t.Fatalf("the workload finished (%d acknowledged) before the kill; raise n", nAcked.Load())
	}
	t.Logf("killed after %d acknowledged commands (%d answered in all), %d without an answer; exit: %v",
		killAt, len(acked), len(unknown), p.err)

	// Restart on the same directory.
	p = killStart(t, bin, dir)
	p.waitReady()

	// Every acknowledged command is there exactly once; every assignment
	// batch is whole (licence and user agree) whether acknowledged or not.
	before := make([][]string, n)
	for i := range n {
		types := p.historyTypes(lic(i))
		before[i] = types
		created, assigned := killCount(types, "license.created"), killCount(types, "license.assigned")
		if _, ok := acked[cmds[i][0].key]; ok && created != 1 {
			t.Errorf("%s: acknowledged create, %d license.created events (history %v)", lic(i), created, types)
		}
		if _, ok := acked[cmds[i][1].key]; ok && assigned != 1 {
			t.Errorf("%s: acknowledged assign, %d license.assigned events (history %v)", lic(i), assigned, types)
		}
		if created > 1 || assigned > 1 {
			t.Errorf("%s: applied twice: history %v", lic(i), types)
		}
		if created == 0 {
			continue
		}
		l := p.must(200, "GET", "/v1/accounts/acme/licenses/"+lic(i), "", nil)
		u := p.must(200, "GET", "/v1/accounts/acme/users/"+user(i), "", nil)
		if (l["assignee"] == user(i)) != (u["license_id"] == lic(i)) || (assigned == 1) != (l["assignee"] == user(i)) {
			t.Errorf("%s: torn assignment: assignee %v, %s license_id %v, %d license.assigned events",
				lic(i), l["assignee"], user(i), u["license_id"], assigned)
		}
	}

	// Every command again, with its key: acknowledged ones answer their
	// first answer and append nothing; the others complete now.
	for i := range n {
		for _, c := range cmds[i] {
			a := killSend(http.DefaultClient, p.token, "POST", p.base+c.path, c.key, c.body)
			if a.err != nil {
				t.Fatalf("%s after restart: %v", c.key, a.err)
			}
			if a.status != c.status {
				t.Errorf("%s after restart: status %d, want %d: %s", c.key, a.status, c.status, a.body)
				continue
			}
			if first, ok := acked[c.key]; ok && first.body != a.body {
				t.Errorf("%s replayed after restart answered\n%s\nwant the first answer\n%s", c.key, a.body, first.body)
			}
		}
		after := p.historyTypes(lic(i))
		want := before[i]
		if _, ok := acked[cmds[i][1].key]; !ok {
			want = []string{"license.created", "license.assigned"} // completed by the replay
		}
		if strings.Join(after, ",") != strings.Join(want, ",") {
			t.Errorf("%s: history after replays %v, want %v", lic(i), after, want)
		}
	}

	// A clean stop, then an offline rebuild reaches the same store as the
	// one that recovered from the kill.
	p.cmd.Process.Signal(syscall.SIGTERM)
	<-p.exited
	if p.err != nil {
		t.Errorf("ledger serve after SIGTERM: %v\n%s", p.err, p.log())
	}
	recovered := filepath.Join(t.TempDir(), "recovered")
	if err := os.CopyFS(recovered, os.DirFS(server.ProjectionsDir(dir))); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "rebuild", "--data", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("ledger rebuild: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "equals the rebuilt store") {
		t.Errorf("the store recovered after SIGKILL differs from a rebuild:\n%s\n%s", out, storeDiff(t, recovered, server.ProjectionsDir(dir)))
	}
	t.Logf("took %s", time.Since(testStart))
}

// storeDiff lists the first keys whose values differ between two
// projection stores (for a failure's message).
func storeDiff(t *testing.T, a, b string) string {
	t.Helper()
	read := func(dir string) map[string]string {
		db, err := pebble.Open(dir, &pebble.Options{Logger: quietPebble{}, ReadOnly: true})
		if err != nil {
			return map[string]string{"(open)": err.Error()}
		}
		defer db.Close()
		out := map[string]string{}
		it, _ := db.NewIter(nil)
		for ok := it.First(); ok; ok = it.Next() {
			out[string(it.Key())] = string(it.Value())
		}
		it.Close()
		return out
	}
	ka, kb := read(a), read(b)
	var diffs []string
	for k, v := range ka {
		if w, ok := kb[k]; !ok || w != v {
			diffs = append(diffs, fmt.Sprintf("recovered %q = %.120q, rebuilt %.120q (present %v)", k, v, w, ok))
		}
	}
	for k, w := range kb {
		if _, ok := ka[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("rebuilt only %q = %.120q", k, w))
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 12 {
		diffs = append(diffs[:12], fmt.Sprintf("... %d in all", len(diffs)))
	}
	return strings.Join(diffs, "\n")
}
