package ledger_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
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
