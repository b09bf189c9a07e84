package ledger_test

import (
	"testing"

	"github.com/entledger/ledger/events"
)

// logBrokenChains logs every event of each subject whose hash chain is
// broken: sequence, type, ids, prevhash, own hash, recording time and atomic
// batch, for diagnosing the cluster test's known failure.
func logBrokenChains(t *testing.T, tl *testLedger) {
	t.Helper()
	last := map[string]string{}
	bad := map[string]bool{}
	msgs := tl.streamEvents()
	for _, m := range msgs {
		e, err := events.Unmarshal(m.Data)
		if err != nil {
			continue
		}
		if e.PrevHash != last[m.Subject] {
			bad[m.Subject] = true
		}
		last[m.Subject] = events.Hash(m.Data)
	}
	for _, m := range msgs {
		if !bad[m.Subject] {
			continue
		}
		e, _ := events.Unmarshal(m.Data)
		t.Logf("broken chain: seq %d %s %s id %s cmd %s prev %.8s hash %.8s rec %s batch %q", m.Sequence, m.Subject, e.Type(), e.ID, e.CommandID, e.PrevHash, events.Hash(m.Data), e.RecordedAt.Format("15:04:05.000"), m.Header.Get("Nats-Batch-Id"))
	}
}
