package ledger_test

import (
	"bytes"
	"testing"
	"time"
)

// A request with an Idempotency-Key whose first answer was a rejection gets
// that answer again, byte for byte, even after the rule would allow it and
// after a restart, and appends nothing (docs/api.md: "the same key with the same
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

// A keyed request whose first answer changed nothing (a sign-out without a
// session) or was refused before the command (an unknown account) answers
// the same when replayed later, and appends nothing.
func TestIdempotentNoOpAndPrecheckReplays(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	out := tl.do("DELETE", "/v1/accounts/acme/sessions/a@x.example", nil, "Idempotency-Key", "out-1")
	if out.Status != 204 {
		t.Fatalf("sign-out without a session: %d %s", out.Status, out.Raw)
	}
	tl.must(201, "POST", "/v1/accounts/acme/sessions", map[string]any{"email": "a@x.example", "machine_id": "m1",
		"client_version": "10.00.18", "client_time": tl.clock.Now().Format(time.RFC3339Nano)})
	n := len(tl.streamEvents())
	if again := tl.do("DELETE", "/v1/accounts/acme/sessions/a@x.example", nil, "Idempotency-Key", "out-1"); again.Status != 204 {
		t.Errorf("replayed sign-out: %d %s", again.Status, again.Raw)
	}
	if got := len(tl.streamEvents()); got != n {
		t.Errorf("the replayed no-op appended %d events (it ended the later session)", got-n)
	}
	if r := tl.must(200, "GET", "/v1/accounts/acme/users/a@x.example", nil); r.Body["session"] == nil {
		t.Error("the later session was ended by a replay")
	}

	body := map[string]any{"id": "lic", "name": "Late", "fulfillment_contact": "o@late.example"}
	first := tl.do("POST", "/v1/accounts/late/licenses", map[string]any{"id": "L1", "kind": "trial",
		"products": []string{"p"}, "valid_from": "2025-01-01T00:00:00Z", "valid_until": "2030-01-01T00:00:00Z"},
		"Idempotency-Key", "lic-1")
	if first.Status != 404 || first.code() != "account_not_found" {
		t.Fatalf("licence in an unknown account: %d %s", first.Status, first.Raw)
	}
	body["id"] = "late"
	tl.must(201, "POST", "/v1/accounts", body)
	n = len(tl.streamEvents())
	again := tl.do("POST", "/v1/accounts/late/licenses", map[string]any{"id": "L1", "kind": "trial",
		"products": []string{"p"}, "valid_from": "2025-01-01T00:00:00Z", "valid_until": "2030-01-01T00:00:00Z"},
		"Idempotency-Key", "lic-1")
	if again.Status != first.Status || !bytes.Equal(again.Raw, first.Raw) {
		t.Errorf("replay once the account exists: %d %s, want the first answer %d %s", again.Status, again.Raw, first.Status, first.Raw)
	}
	if got := len(tl.streamEvents()); got != n {
		t.Errorf("the replay appended %d events", got-n)
	}
	tl.checkStream()
}
