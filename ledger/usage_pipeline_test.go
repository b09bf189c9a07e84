package ledger_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/server"
)

// appendConflicts reads ledger_append_conflicts_total from /metrics.
func appendConflicts(tl *testLedger) string {
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
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "ledger_append_conflicts_total "); ok {
			return v
		}
	}
	return "0"
}

// rules F1, F5: a usage batch is answered once JetStream holds it, before
// the projections apply it. The batches that follow on the same product
// append after the ledger's own tip without a conflict, and the summary read
// after a batch counts it.
func TestUsageAnsweredBeforeProjectionsReadsFollow(t *testing.T) {
	tl := useStart(t)
	q := "?from=2026-01-20&to=2026-01-20"
	const batches, size = 12, 40
	batch := func(b int) {
		t.Helper()
		recs := make([]useRec, size)
		for i := range recs {
			recs[i] = useR(fmt.Sprintf("pipe-%d-%d", b, i), useNow.Add(-3*time.Hour), time.Minute)
		}
		useAccepted(tl, size, 0, recs...)
	}
	pooledSessions := func() any {
		t.Helper()
		sum := tl.must(200, "GET", useSummary+q, nil)
		days, _ := sum.Body["days"].([]any)
		if len(days) != 1 {
			t.Fatalf("summary %s, want one day", sum.Raw)
		}
		return days[0].(map[string]any)["pooled"].(map[string]any)["sessions"]
	}
	// Back to back: each batch decides on the tip the one before left.
	for b := range batches {
		batch(b)
	}
	if c := appendConflicts(tl); c != "0" {
		t.Errorf("ledger_append_conflicts_total %s after consecutive batches on one product, want 0", c)
	}
	// Each read after a batch counts it.
	for b := batches; b < 2*batches; b++ {
		batch(b)
		if got, want := pooledSessions(), float64((b+1)*size); got != want {
			t.Fatalf("after batch %d: %v pooled sessions, want %v", b, got, want)
		}
	}
	tl.checkStream()
}

// rule F2 and idempotency: a usage request replayed with its Idempotency-Key
// right after its answer gets the same answer, even while the projections
// have applied only part of its batch.
func TestUsageKeyedReplayRightAfterTheAnswer(t *testing.T) {
	tl := useStart(t)
	for round := range 8 {
		batch := make([]any, 1000)
		for i := range batch {
			batch[i] = useR(fmt.Sprintf("k-%d-%d", round, i), useNow.Add(-3*time.Hour), time.Minute)
		}
		key := fmt.Sprintf("usage-key-%d", round)
		first := tl.must(200, "POST", usePath, useBatch(batch...), "Idempotency-Key", key)
		again := tl.must(200, "POST", usePath, useBatch(batch...), "Idempotency-Key", key)
		if string(again.Raw) != string(first.Raw) {
			t.Fatalf("round %d: the replay answered accepted %v, duplicates %v; the first answer was accepted %v, duplicates %v",
				round, again.Body["accepted"], again.Body["duplicates"], first.Body["accepted"], first.Body["duplicates"])
		}
	}
}

// rule F1: many big batches at once are each recorded whole; none is
// answered with a server error because JetStream limits the atomic batches
// in flight.
func TestUsageManyBigBatchesAtOnce(t *testing.T) {
	tl := useStart(t)
	const n, size = 80, 300
	bodies := make([]map[string]any, n)
	for g := range bodies {
		recs := make([]any, size)
		for i := range recs {
			recs[i] = useR(fmt.Sprintf("inf-%d-%d", g, i), useNow.Add(-3*time.Hour), time.Minute).set("product", fmt.Sprintf("p%d", g))
		}
		bodies[g] = useBatch(recs...)
	}
	answers := make([]response, n)
	var wg sync.WaitGroup
	for g := range bodies {
		wg.Go(func() { answers[g] = tl.do("POST", usePath, bodies[g]) })
	}
	wg.Wait()
	for g, r := range answers {
		if r.Status != 200 || r.Body["accepted"] != float64(size) {
			t.Errorf("batch %d: status %d: %.300s", g, r.Status, r.Raw)
		}
	}
	tl.checkStream()
}

// Idempotency: an Idempotency-Key reused right away with another usage body
// is idempotency_key_reused, even while the first batch is being applied;
// nothing of the second body is recorded.
func TestUsageKeyReusedWithAnotherBody(t *testing.T) {
	tl := useStart(t)
	for round := range 6 {
		first, second := make([]any, 1000), make([]any, 1000)
		for i := range first {
			first[i] = useR(fmt.Sprintf("ru-%d-%d", round, i), useNow.Add(-3*time.Hour), time.Minute)
			second[i] = first[i]
			if i%2 == 1 {
				second[i] = useR(fmt.Sprintf("ru-other-%d-%d", round, i), useNow.Add(-3*time.Hour), time.Minute)
			}
		}
		key := fmt.Sprintf("reuse-%d", round)
		tl.must(200, "POST", usePath, useBatch(first...), "Idempotency-Key", key)
		e2eReject(tl, 409, "idempotency_key_reused", "POST", usePath, useBatch(second...), "Idempotency-Key", key)
	}
	for _, recs := range useRecorded(tl) {
		for _, r := range recs {
			if strings.HasPrefix(r.UsageID, "ru-other-") {
				t.Fatalf("%s of the rejected body was recorded", r.UsageID)
			}
		}
	}
}

// copyDir copies the directory tree src to dst.
func copyDir(tb testing.TB, src, dst string) {
	tb.Helper()
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		tb.Fatal(err)
	}
}

// rules F1, F4: a ledger whose projections start behind the stream (their
// last writes lost, or a restored copy) decides no usage before they have
// caught up with what the stream held at start: a user registered before
// the restart is known to the first requests after it.
func TestUsageAfterRestartBehindTheStream(t *testing.T) {
	c := newClock(T0)
	dir := t.TempDir()
	tl := startLedger(t, dir, c)
	useWorld(tl)
	c.Set(useNow)
	tl.stop()
	old := filepath.Join(t.TempDir(), "projections")
	copyDir(t, server.ProjectionsDir(dir), old)

	tl = startLedger(t, dir, c)
	for b := range 6 {
		recs := make([]any, 1000)
		for i := range recs {
			recs[i] = useR(fmt.Sprintf("pad-%d-%d", b, i), useNow.Add(-3*time.Hour), time.Minute).set("product", fmt.Sprintf("pp%d", b))
		}
		tl.must(200, "POST", usePath, useBatch(recs...))
	}
	tl.must(201, "POST", useAcme+"/users", map[string]any{"email": "late@x.example", "entitlement_country": "DE"})
	tl.stop()
	if err := os.RemoveAll(server.ProjectionsDir(dir)); err != nil {
		t.Fatal(err)
	}
	copyDir(t, old, server.ProjectionsDir(dir))

	srv, err := server.Start(context.Background(), withoutLimits(server.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", Now: c.Now}))
	if err != nil {
		t.Fatal(err)
	}
	tl = &testLedger{tb: t, srv: srv, clock: c, dir: dir, base: "http://" + srv.Addr(), token: readAdminToken(t, dir)}
	t.Cleanup(tl.stop)
	answers := make([]response, 16)
	var wg sync.WaitGroup
	for g := range answers {
		wg.Go(func() {
			answers[g] = tl.do("POST", usePath, useBatch(useR(fmt.Sprintf("late-%d", g), useNow.Add(-3*time.Hour), time.Minute).
				set("email", "late@x.example")))
		})
	}
	wg.Wait()
	for g, r := range answers {
		if r.Status != 200 {
			t.Errorf("request %d right after the restart: %d %.200s", g, r.Status, r.Raw)
		}
	}
}

// rules F1, F2: 64 clients sending usage for one product at once, several
// batches each, some records sent twice by two clients: every batch is
// answered (no 409 conflict), every record is counted exactly once, and the
// product's usage is spread over its shards, each a sound hash chain.
func TestUsage64ClientsOnOneProduct(t *testing.T) {
	tl := useStart(t)
	const clients, batches, size = 64, 3, 20
	// Client c's last batch repeats the first batch of client c+1 (mod
	// clients): racing duplicates across shards count once.
	body := func(c, b int) map[string]any {
		if b == batches-1 {
			c, b = (c+1)%clients, 0
		}
		recs := make([]any, size)
		for i := range recs {
			recs[i] = useR(fmt.Sprintf("c%d-b%d-r%d", c, b, i), useNow.Add(-3*time.Hour), time.Minute).
				set("machine_id", fmt.Sprintf("m%d", c))
		}
		return useBatch(recs...)
	}
	answers := make([][]response, clients)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			for b := range batches {
				answers[c] = append(answers[c], tl.do("POST", usePath, body(c, b)))
			}
		})
	}
	wg.Wait()
	accepted, duplicates := 0, 0
	for c, rs := range answers {
		for b, r := range rs {
			if r.Status != 200 {
				t.Fatalf("client %d batch %d: %d %.300s", c, b, r.Status, r.Raw)
			}
			accepted += int(r.Body["accepted"].(float64))
			duplicates += int(r.Body["duplicates"].(float64))
		}
	}
	unique := clients * (batches - 1) * size
	if accepted != unique || duplicates != clients*size {
		t.Errorf("accepted %d, duplicates %d; want %d and %d", accepted, duplicates, unique, clients*size)
	}
	recorded := useRecorded(tl)
	if len(recorded) != unique {
		t.Errorf("the stream holds %d usage ids, want %d", len(recorded), unique)
	}
	for id, us := range recorded {
		if len(us) != 1 {
			t.Errorf("usage %s recorded %d times", id, len(us))
		}
	}
	shards := map[string]bool{}
	for _, m := range tl.streamEvents() {
		if strings.HasPrefix(m.Subject, events.UsageSubject("acme", "microstation")+".") {
			shards[m.Subject] = true
		}
	}
	if len(shards) < 2 {
		t.Errorf("usage of one product went to %d shard subjects, want it spread over several", len(shards))
	}
}
