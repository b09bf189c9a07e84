package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/internal/testlock"
	"github.com/entledger/ledger/server"
	"github.com/nats-io/nats.go/jetstream"
)

// Crash safety at scale (issue 11, item 6): `ledger serve` is killed with
// SIGKILL again and again, each time after a random number of acknowledged
// commands, while a few clients ingest usage batches and register users,
// create and assign licences. Each restart reuses the data directory, and
// the clients send again what was not acknowledged, with the same
// Idempotency-Key and usage ids. At the end no acknowledged record is lost
// and none is counted twice (F2), the live projections equal a rebuild, and
// the stream verifies (H3).

const (
	crashClients  = 4  // concurrent clients
	crashPerBatch = 10 // usage records per batch
	crashMaxGap   = 40 // at most this many acknowledged commands between kills
	crashUsers    = 8  // users registered before the first kill, the usage's emails
)

// crashSeed replays the kill points of a logged seed.
var crashSeed = flag.Int64("crash.seed", 0, "TestKillRepeatedlyDuringMixedIngestion: seed of the kill points (0: the time)")

// crashClient is one client's commands, sent in order: each one is sent
// until it is acknowledged before the next.
type crashClient struct {
	cmds []killCmd
	next int // index of the first command not acknowledged
}

// crashWorkload is the clients and the count of commands they have had
// acknowledged.
type crashWorkload struct {
	clients []*crashClient
	usage   []string     // every usage id of every command
	acked   atomic.Int64 // commands acknowledged, over all rounds
	cut     atomic.Int64 // requests the kills left without an answer, each sent again
}

// newCrashWorkload gives each client units of six commands: three usage
// batches (every other one with an Idempotency-Key, the rest deduplicated by
// their usage ids alone) and a user registered, a licence created and
// assigned to that user. It makes at least total commands in all.
func newCrashWorkload(total int, began time.Time) *crashWorkload {
	w := &crashWorkload{}
	units := total/(6*crashClients) + 1
	for c := range crashClients {
		cl := &crashClient{}
		for u := range units {
			email := fmt.Sprintf("n%d-%d@x.example", c, u)
			lic := fmt.Sprintf("L-%d-%d", c, u)
			batch := func(b int) killCmd {
				recs := make([]map[string]any, crashPerBatch)
				for i := range recs {
					id := fmt.Sprintf("c%d-u%d-b%d-r%d", c, u, b, i)
					w.usage = append(w.usage, id)
					recs[i] = killUsageRecord(id, fmt.Sprintf("u%d@x.example", i%crashUsers), fmt.Sprintf("m%d", (u+i)%13), began)
				}
				key := ""
				if b%2 == 0 {
					key = fmt.Sprintf("usage-%d-%d-%d", c, u, b)
				}
				return killCmd{key: key, path: "/v1/accounts/acme/usage", status: 200, body: map[string]any{"records": recs}}
			}
			cl.cmds = append(cl.cmds,
				batch(0),
				killCmd{key: "register-" + email, path: "/v1/accounts/acme/users", status: 201,
					body: map[string]any{"email": email, "entitlement_country": "DE"}},
				batch(1),
				killCmd{key: "create-" + lic, path: "/v1/accounts/acme/licenses", status: 201, body: map[string]any{
					"id": lic, "kind": "practitioner", "products": []string{"microstation"},
					"valid_from": "2025-01-01T00:00:00Z", "valid_until": "2099-01-01T00:00:00Z"}},
				killCmd{key: "assign-" + lic, path: "/v1/accounts/acme/licenses/" + lic + "/assign", status: 200,
					body: map[string]any{"email": email}},
				batch(2),
			)
		}
		w.clients = append(w.clients, cl)
	}
	return w
}

// round runs every client against p until the killAt-th acknowledged
// command (counted over all rounds), whose client kills p with SIGKILL; with
// killAt 0 it runs them to their last command. It reports whether p was
// killed. A client stops at its first unanswered request after the kill;
// anything else that goes wrong fails the test.
func (w *crashWorkload) round(tb testing.TB, p *killProc, killAt int64) bool {
	var (
		wg     sync.WaitGroup
		once   sync.Once
		killed atomic.Bool
	)
	client := &http.Client{Timeout: 20 * time.Second}
	for _, cl := range w.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for cl.next < len(cl.cmds) && !killed.Load() {
				c := cl.cmds[cl.next]
				a := killSend(client, p.token, "POST", p.base+c.path, c.key, c.body)
				if a.err != nil {
					if !killed.Load() {
						tb.Errorf("%s %s before the kill: %v", c.path, c.key, a.err)
					}
					w.cut.Add(1)
					return
				}
				if a.status != c.status {
					tb.Errorf("%s %s: status %d, want %d: %s", c.path, c.key, a.status, c.status, a.body)
					return
				}
				cl.next++
				if w.acked.Add(1) == killAt {
					once.Do(func() {
						killed.Store(true)
						p.kill()
					})
				}
			}
		}()
	}
	wg.Wait()
	return killed.Load()
}

// done reports whether every client had every command acknowledged.
func (w *crashWorkload) done() bool {
	for _, cl := range w.clients {
		if cl.next < len(cl.cmds) {
			return false
		}
	}
	return true
}

// killStreamCounts walks the stream of the stopped ledger in dir and counts
// its events: usage.recorded by usage id, the others by aggregate id, each
// under "type/id".
func killStreamCounts(tb testing.TB, dir string) map[string]int {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := server.DialExisting(ctx, server.Config{DataDir: dir, Logger: quietLogger()})
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close()
	info, err := conn.Stream.Info(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	counts := map[string]int{}
	if info.State.Msgs == 0 {
		return counts
	}
	cons, err := conn.Stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		tb.Fatal(err)
	}
	it, err := cons.Messages()
	if err != nil {
		tb.Fatal(err)
	}
	defer it.Stop()
	for {
		m, err := it.Next()
		if err != nil {
			tb.Fatal(err)
		}
		md, err := m.Metadata()
		if err != nil {
			tb.Fatal(err)
		}
		e, err := events.Unmarshal(m.Data())
		if err != nil {
			tb.Fatalf("stream sequence %d: %v", md.Sequence.Stream, err)
		}
		id := e.AggregateID
		if u, ok := e.Data.(events.UsageRecorded); ok {
			id = u.UsageID
		}
		counts[e.Type()+"/"+id]++
		if md.Sequence.Stream >= info.State.LastSeq {
			return counts
		}
	}
}

// killRun runs the binary and returns its exit error and combined output.
func killRun(bin string, args ...string) (string, error) {
	out, err := exec.Command(bin, args...).CombinedOutput()
	return string(out), err
}

func TestKillRepeatedlyDuringMixedIngestion(t *testing.T) {
	rounds := 20
	if testing.Short() {
		rounds = 5
	}
	testlock.Heavy(t) // never beside the cluster test of package ledger
	testStart := time.Now()
	seed := *crashSeed
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	rng := rand.New(rand.NewSource(seed))
	t.Logf("seed %d, %d rounds", seed, rounds)
	// The kill points first, each a number of acknowledged commands after
	// the restart before it: the workload is sized to outlast them, and
	// the answers that arrive after each kill.
	gaps := make([]int64, rounds)
	var sum int64
	for r := range gaps {
		gaps[r] = 1 + int64(rng.Intn(crashMaxGap))
		sum += gaps[r]
	}
	began := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Second)
	w := newCrashWorkload(int(sum)+rounds*crashClients+crashMaxGap, began)

	bin := killBinary(t)
	dir := t.TempDir()
	p := killStart(t, bin, dir)
	p.waitReady()
	p.must(201, "POST", "/v1/accounts", "", map[string]any{"id": "acme", "name": "Acme", "fulfillment_contact": "o@acme.example"})
	for u := range crashUsers {
		p.must(201, "POST", "/v1/accounts/acme/users", "", map[string]any{"email": fmt.Sprintf("u%d@x.example", u), "entitlement_country": "DE"})
	}
	for r, gap := range gaps {
		at := w.acked.Load() + gap
		if !w.round(t, p, at) {
			t.Fatalf("round %d: the workload ended (%d acknowledged) before the kill at %d", r, w.acked.Load(), at)
		}
		if t.Failed() {
			t.FailNow()
		}
		p = killStart(t, bin, dir)
		p.waitReady()
	}
	t.Logf("%d kills in %s", rounds, time.Since(testStart))
	w.round(t, p, 0)
	if !w.done() {
		t.Fatalf("after the last restart %d commands were acknowledged, want all", w.acked.Load())
	}

	// F2: the summary counts each acknowledged record once.
	if got := p.usageSessions(); got != len(w.usage) {
		t.Errorf("summary counts %d records, want each of the %d acknowledged exactly once", got, len(w.usage))
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	<-p.exited
	if p.err != nil {
		t.Errorf("ledger serve after SIGTERM: %v\n%s", p.err, p.log())
	}

	// F2 on the stream: every acknowledged usage id is recorded exactly
	// once, and so is every registration, licence and assignment.
	counts := killStreamCounts(t, dir)
	want := map[string]int{}
	for _, id := range w.usage {
		want[events.TypeUsageRecorded+"/"+id] = 1
	}
	for c := range crashClients {
		for u := range len(w.clients[c].cmds) / 6 {
			lic := fmt.Sprintf("L-%d-%d", c, u)
			want[events.TypeUserRegistered+"/"+fmt.Sprintf("n%d-%d@x.example", c, u)] = 1
			want[events.TypeLicenseCreated+"/"+lic] = 1
			want[events.TypeLicenseAssigned+"/"+lic] = 1
		}
	}
	for k, n := range want {
		if counts[k] != n {
			t.Errorf("%s: %d events in the stream, want %d", k, counts[k], n)
		}
	}
	extra := 0
	for k, n := range counts {
		if strings.HasPrefix(k, events.TypeUsageRecorded+"/") && want[k] == 0 {
			extra += n
		}
	}
	if extra != 0 {
		t.Errorf("%d usage.recorded events for usage ids never sent", extra)
	}

	// H3: the stream verifies; the live projections equal a rebuild.
	if out, err := killRun(bin, "verify", "--data", dir); err != nil {
		t.Errorf("ledger verify: %v\n%s", err, out)
	}
	out, err := killRun(bin, "rebuild", "--data", dir)
	if err != nil {
		t.Fatalf("ledger rebuild: %v\n%s", err, out)
	}
	if !strings.Contains(out, "equals the rebuilt store") {
		t.Errorf("the projections recovered after %d kills differ from a rebuild:\n%s", rounds, out)
	}
	t.Logf("%d commands (%d cut off by a kill and sent again), %d usage records, %d rounds: took %s",
		w.acked.Load(), w.cut.Load(), len(w.usage), rounds, time.Since(testStart))
}
