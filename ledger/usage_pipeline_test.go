package ledger_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
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
