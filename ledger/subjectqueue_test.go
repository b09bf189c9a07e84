package ledger_test

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// rules E1, E3: many checks on one product at once are each answered and
// recorded; none runs out of attempts against the others (409 conflict).
func TestChecksOnOneProductAtOnce(t *testing.T) {
	tl := chkStart(t)
	chkLicense(tl, "C1", "commercial", 5, T0.Add(-24*time.Hour), chkFar, "microstation")
	before := e2eStreamLen(t, tl.srv)
	const n = 64
	answers := make([]response, n)
	var wg sync.WaitGroup
	for i := range answers {
		wg.Go(func() {
			answers[i] = tl.do("POST", chkChecks, chkReq("b@x.example", "microstation", fmt.Sprintf("m-%d", i), chkNew))
		})
	}
	wg.Wait()
	for i, r := range answers {
		if r.Status != 200 {
			t.Errorf("check %d: %d %.200s", i, r.Status, r.Raw)
			continue
		}
		chkBodyIs(t, fmt.Sprintf("check %d", i), r.Body, chkPooled("C1"))
	}
	if got := e2eStreamLen(t, tl.srv) - before; got != n {
		t.Errorf("the stream grew by %d events, want %d (one check.recorded each)", got, n)
	}
	tl.checkStream()
}
