package ledger_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// e2eCmd is one mutating request.
type e2eCmd struct {
	method, path string
	body         any
	status       int
}

// e2eReplay sends c with key twice more, after its first answer, and
// checks each replay is the first answer, byte for byte, appending nothing.
func e2eReplay(tl *testLedger, key string, c e2eCmd, first response) {
	tl.tb.Helper()
	before := len(tl.streamEvents())
	for i := 0; i < 2; i++ {
		r := tl.do(c.method, c.path, c.body, "Idempotency-Key", key)
		if r.Status != first.Status || !bytes.Equal(r.Raw, first.Raw) {
			tl.tb.Errorf("%s %s replay %d: got %d %s, want the first answer %d %s", c.method, c.path, i+1,
				r.Status, r.Raw, first.Status, first.Raw)
		}
	}
	if after := len(tl.streamEvents()); after != before {
		tl.tb.Errorf("%s %s: replays appended %d events", c.method, c.path, after-before)
	}
}

// e2eIdemCmds is a tour of every mutating endpoint, each with a fresh key.
func e2eIdemCmds() []e2eCmd {
	return []e2eCmd{
		{"POST", "/v1/accounts", map[string]any{"id": "initech", "name": "Initech", "fulfillment_contact": "x@initech.example"}, 201},
		{"POST", e2eAcme + "/users", map[string]any{"email": "d@x.example"}, 201},
		{"PATCH", e2eAcme + "/users/d@x.example", map[string]any{"entitlement_country": "NL"}, 200},
		{"PATCH", e2eAcme + "/users/b@x.example", map[string]any{"entitlement_country": "FR"}, 200},
		{"POST", e2eAcme + "/licenses", e2eLicense("P2", "practitioner", 0, T0, T0.AddDate(1, 0, 0), "microstation"), 201},
		{"POST", e2eP1 + "/assign", e2eAssign("a@x.example"), 200},
		{"POST", e2eP1 + "/reassign", e2eAssign("b@x.example"), 200},
		{"POST", e2eP1 + "/unassign", nil, 200},
		{"POST", e2eP1 + "/renew", map[string]any{"valid_until": "2029-01-01T00:00:00Z"}, 200},
		{"POST", e2eAcme + "/licenses/P2/assign", e2eAssign("d@x.example"), 200},
		{"DELETE", e2eAcme + "/users/d@x.example", nil, 204},
	}
}

// e2eIdemKeep tells which commands of e2eIdemCmds to replay at the end of
// a tour: all but the PATCH of the user the tour removes, which is
// TestIdempotentReplayPatchAfterRemoval's subject.
func e2eIdemKeep(c e2eCmd) bool {
	return !(c.method == "PATCH" && c.path == e2eAcme+"/users/d@x.example")
}

// docs/api.md: the same Idempotency-Key with the same body returns the first
// answer again and appends nothing new — also after later commands changed
// the aggregate, and for a DELETE whose user is gone by now.
func TestIdempotentReplay(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	cmds := e2eIdemCmds()
	firsts := make([]response, len(cmds))
	for i, c := range cmds {
		key := fmt.Sprintf("key-%d", i)
		before := len(tl.streamEvents())
		firsts[i] = tl.must(c.status, c.method, c.path, c.body, "Idempotency-Key", key)
		if len(tl.streamEvents()) == before {
			t.Fatalf("%s %s appended nothing", c.method, c.path)
		}
		e2eReplay(tl, key, c, firsts[i])
	}
	// Every aggregate has moved on since; the replays still answer as the
	// first time.
	for i, c := range cmds {
		if e2eIdemKeep(c) {
			e2eReplay(tl, fmt.Sprintf("key-%d", i), c, firsts[i])
		}
	}
	if r := tl.must(200, "GET", e2eP1, nil); r.Body["assignee"] != nil {
		t.Errorf("replays changed the licence: %s", r.Raw)
	}
	tl.checkStream()
}

// docs/api.md: a key reused with another body is rejected and appends nothing;
// the key still answers its first request.
func TestIdempotencyKeyReused(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	first := tl.must(200, "POST", e2eP1+"/assign", e2eAssign("a@x.example"), "Idempotency-Key", "k")
	for _, body := range []any{
		e2eAssign("b@x.example"),
		e2eAssign("a@x.example", T0), // the same command with an explicit at
		map[string]any{"email": "A@X.example"},
	} {
		e2eReject(tl, 409, "idempotency_key_reused", "POST", e2eP1+"/assign", body, "Idempotency-Key", "k")
	}
	e2eReplay(tl, "k", e2eCmd{"POST", e2eP1 + "/assign", e2eAssign("a@x.example"), 200}, first)
	if r := tl.must(200, "GET", e2eP1, nil); r.Body["assignee"] != "a@x.example" {
		t.Errorf("assignee got %v, want a@x.example", r.Body["assignee"])
	}
	tl.checkStream()
}

// Issue 17, item 6 (docs/api.md): a key is compared by the meaning of its
// request, its canonical JSON: the same members and values written with
// other white space, member order or escapes replay the first answer (an
// accepted command's, a kept refusal's, a usage batch's); other values are
// idempotency_key_reused.
func TestIdempotencyKeyComparesMeaning(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	first := tl.must(200, "POST", e2eP1+"/assign", `{"email":"a@x.example"}`, "Idempotency-Key", "k")
	for _, body := range []string{`{"email": "a@x.example"}`, "{\n  \"email\" : \"a@x.example\"\n}", `{"email":"a\u0040x.example"}`} {
		e2eReplay(tl, "k", e2eCmd{"POST", e2eP1 + "/assign", body, 200}, first)
	}
	e2eReject(tl, 409, "idempotency_key_reused", "POST", e2eP1+"/assign", `{"email": "b@x.example"}`, "Idempotency-Key", "k")

	refused := tl.must(404, "POST", e2eAcme+"/licenses/P7/assign", `{"email":"b@x.example","at":"2026-01-05T00:00:00Z"}`, "Idempotency-Key", "r")
	e2eReplay(tl, "r", e2eCmd{"POST", e2eAcme + "/licenses/P7/assign", `{ "at": "2026-01-05T00:00:00Z", "email": "b@x.example" }`, 404}, refused)

	rec := `{"usage_id":"u-1","email":"b@x.example","product":"microstation","machine_id":"m","client_version":"10.00.18.25",` +
		`"started_at":"2026-01-04T10:00:00Z","ended_at":"2026-01-04T11:00:00Z","offline":false}`
	usage := tl.must(200, "POST", usePath, `{"records":[`+rec+`]}`, "Idempotency-Key", "u")
	var reordered map[string]any
	if err := json.Unmarshal([]byte(rec), &reordered); err != nil {
		t.Fatal(err)
	}
	e2eReplay(tl, "u", e2eCmd{"POST", usePath, map[string]any{"records": []any{reordered}}, 200}, usage)
	tl.checkStream()
}

// The same key on another endpoint (another method or path) is another
// command.
func TestIdempotencyKeyPerEndpoint(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	tl.must(201, "POST", e2eAcme+"/licenses", e2eLicense("P2", "practitioner", 0, T0, T0.AddDate(1, 0, 0), "microstation"))
	const key = "shared-key"
	steps := []e2eCmd{
		{"POST", e2eAcme + "/users", map[string]any{"email": "d@x.example", "entitlement_country": "DE"}, 201},
		{"POST", e2eAcme + "/licenses", e2eLicense("P9", "trial", 0, T0, T0.AddDate(1, 0, 0), "microstation"), 201},
		{"POST", e2eP1 + "/assign", e2eAssign("a@x.example"), 200},
		{"POST", e2eAcme + "/licenses/P2/assign", e2eAssign("b@x.example"), 200}, // same body shape, other licence
		{"POST", e2eAcme + "/licenses/P2/reassign", e2eAssign("c@x.example"), 200},
		{"PATCH", e2eAcme + "/users/d@x.example", map[string]any{"entitlement_country": "FR"}, 200},
		{"POST", "/v1/accounts/acme/users", map[string]any{"email": "e@x.example"}, 409}, // same path as step 1: idempotency_key_reused
	}
	for i, c := range steps {
		before := len(tl.streamEvents())
		r := tl.must(c.status, c.method, c.path, c.body, "Idempotency-Key", key)
		grew := len(tl.streamEvents()) > before
		if c.status < 300 && !grew {
			t.Errorf("step %d %s %s: appended nothing: the key was taken as another endpoint's", i, c.method, c.path)
		}
		if c.status >= 300 && (grew || r.code() != "idempotency_key_reused") {
			t.Errorf("step %d: got %s, grew %v; want idempotency_key_reused appending nothing", i, r.Raw, grew)
		}
	}
	e2eFields(t, "P2", tl.must(200, "GET", e2eAcme+"/licenses/P2", nil).Body, map[string]any{"assignee": "c@x.example"})
	e2eFields(t, "d", tl.must(200, "GET", e2eAcme+"/users/d@x.example", nil).Body, map[string]any{"entitlement_country": "FR"})
	tl.checkStream()
}

// A replay after a restart on the same data directory still returns the
// first answer and appends nothing: the ledger remembers commands durably.
func TestIdempotentReplayAfterRestart(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	cmds := e2eIdemCmds()
	firsts := make([]response, len(cmds))
	for i, c := range cmds {
		firsts[i] = tl.must(c.status, c.method, c.path, c.body, "Idempotency-Key", fmt.Sprintf("key-%d", i))
	}
	n := len(tl.streamEvents())
	digest := tl.digest()
	tl.stop()

	tl = startLedger(t, tl.dir, tl.clock)
	if got := len(tl.streamEvents()); got != n {
		t.Fatalf("after restart the stream holds %d events, want %d", got, n)
	}
	for i, c := range cmds {
		if e2eIdemKeep(c) {
			e2eReplay(tl, fmt.Sprintf("key-%d", i), c, firsts[i])
		}
	}
	e2eReject(tl, 409, "idempotency_key_reused", "POST", e2eP1+"/assign", e2eAssign("c@x.example"), "Idempotency-Key", "key-5")
	if got := tl.digest(); got != digest {
		t.Errorf("replays after restart changed the projections: digest %s, want %s", got, digest)
	}
	tl.checkStream()
}

// docs/api.md: "returns the first answer again", even when the user the PATCH
// changed has been removed since (a client retrying after a lost answer).
func TestIdempotentReplayPatchAfterRemoval(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	c := e2eCmd{"PATCH", e2eAcme + "/users/c@x.example", map[string]any{"entitlement_country": "NL"}, 200}
	first := tl.must(c.status, c.method, c.path, c.body, "Idempotency-Key", "patch-c")
	tl.must(204, "DELETE", e2eAcme+"/users/c@x.example", nil)
	e2eReplay(tl, "patch-c", c, first)
}

// docs/api.md: "returns the first answer again". A replay after the ledger's
// clock moved on must still be the first answer, not a fresh view of the
// licence at the new time.
func TestIdempotentReplayAfterClockMoves(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	c := e2eCmd{"POST", e2eP1 + "/assign", e2eAssign("a@x.example"), 200}
	first := tl.must(c.status, c.method, c.path, c.body, "Idempotency-Key", "assign-a")
	tl.clock.Set(T0.Add(48 * time.Hour)) // the window has closed since
	e2eReplay(tl, "assign-a", c, first)
}

// Read-your-writes: after every 2xx command, the very next GET shows its
// effect.
func TestReadYourWrites(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	tl.clock.Set(T0.Add(12 * time.Hour))
	users := []string{"a@x.example", "b@x.example", "c@x.example"}
	holder := ""
	for i := 0; i < 50; i++ {
		at := T0.Add(time.Duration(i) * time.Minute)
		var r response
		if holder == "" {
			holder = users[i%len(users)]
			r = tl.must(200, "POST", e2eP1+"/assign", e2eAssign(holder, at))
		} else {
			holder = ""
			r = tl.must(200, "POST", e2eP1+"/unassign", e2eAt(at))
		}
		var want any
		if holder != "" {
			want = holder
		}
		e2eFields(t, fmt.Sprintf("step %d answer", i), r.Body, map[string]any{"assignee": want})
		g := tl.must(200, "GET", e2eP1, nil)
		e2eFields(t, fmt.Sprintf("step %d GET", i), g.Body, map[string]any{"assignee": want})
		e2eTimers(t, fmt.Sprintf("step %d GET", i), g.Body, T0)
		if holder != "" {
			u := tl.must(200, "GET", e2eAcme+"/users/"+holder, nil)
			e2eFields(t, fmt.Sprintf("step %d user", i), u.Body, map[string]any{"license_id": "P1"})
		}
		rem := e2eReminders(tl, "acme")
		if (rem["P1"] == nil) != (holder != "") {
			t.Errorf("step %d: reminders %v with holder %q", i, rem, holder)
		}
		if t.Failed() {
			t.FailNow()
		}
	}
	if got := len(e2eHistory(tl, e2eP1+"/history")); got != 51 {
		t.Errorf("licence history has %d events, want 51", got)
	}
	tl.checkStream()
}
