package ledger_test

import (
	"bytes"
	"testing"
	"time"
)

// A request with an Idempotency-Key whose first answer was a rejection gets
// that answer again, byte for byte, even after the rule would allow it and
// after a restart, and appends nothing (API.md: "the same key with the same
// body returns the first answer again and appends nothing new").
func TestIdempotentRejectionReplays(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	const p1 = "/v1/accounts/acme/licenses/P1"
	tl.must(200, "POST", p1+"/assign", map[string]any{"email": "a@x.example"})
	tl.clock.Advance(25 * time.Hour) // rule C3: locked
	body := map[string]any{"email": "b@x.example"}
	first := tl.do("POST", p1+"/reassign", body, "Idempotency-Key", "move-1")
	if first.Status != 409 || first.code() != "license_locked" {
		t.Fatalf("first answer %d %s, want 409 license_locked", first.Status, first.Raw)
	}
	tl.clock.Advance(31 * 24 * time.Hour) // rule C4: the lock is over
	events := len(tl.streamEvents())
	again := tl.do("POST", p1+"/reassign", body, "Idempotency-Key", "move-1")
	if again.Status != first.Status || !bytes.Equal(again.Raw, first.Raw) {
		t.Errorf("replay: %d %s, want the first answer %d %s", again.Status, again.Raw, first.Status, first.Raw)
	}
	other := tl.do("POST", p1+"/reassign", map[string]any{"email": "c@x.example"}, "Idempotency-Key", "move-1")
	if other.Status != 409 || other.code() != "idempotency_key_reused" {
		t.Errorf("same key, other body: %d %s, want 409 idempotency_key_reused", other.Status, other.Raw)
	}

	dir, clk := tl.dir, tl.clock
	tl.stop()
	tl = startLedger(t, dir, clk)
	after := tl.do("POST", p1+"/reassign", body, "Idempotency-Key", "move-1")
	if after.Status != first.Status || !bytes.Equal(after.Raw, first.Raw) {
		t.Errorf("replay after restart: %d %s, want the first answer", after.Status, after.Raw)
	}
	if n := len(tl.streamEvents()); n != events {
		t.Errorf("replays appended %d events", n-events)
	}
	// Without a key the same request is decided now, and succeeds.
	tl.must(200, "POST", p1+"/reassign", body)
	tl.checkStream()
}
