package ledger_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// e2eFuzzEndpoints are the mutating endpoints FuzzAPIBodies sends bodies to,
// chosen by the input's first byte. The seeds in
// testdata/fuzz/FuzzAPIBodies name them by index: keep the order.
var e2eFuzzEndpoints = []struct{ method, path string }{
	{"POST", "/v1/accounts"},                         // 0
	{"POST", e2eAcme + "/users"},                     // 1
	{"PATCH", e2eAcme + "/users/a@x.example"},        // 2
	{"DELETE", e2eAcme + "/users/c@x.example"},       // 3
	{"POST", e2eAcme + "/licenses"},                  // 4
	{"POST", e2eP1 + "/renew"},                       // 5
	{"POST", e2eP1 + "/assign"},                      // 6
	{"POST", e2eP1 + "/reassign"},                    // 7
	{"POST", e2eP1 + "/unassign"},                    // 8
	{"POST", e2eAcme + "/licenses/C1/assign"},        // 9
	{"PATCH", e2eAcme + "/users/n@x.example"},        // 10
	{"POST", e2eAcme + "/licenses/P2/reassign"},      // 11
	{"POST", "/v1/accounts/nope/licenses/P1/assign"}, // 12
	{"POST", e2eAcme + "/usage"},                     // 13
	{"POST", e2eAcme + "/checks"},                    // 14
	{"POST", e2eAcme + "/sessions"},                  // 15
	{"PUT", e2eAcme + "/access/microstation"},        // 16
	{"POST", e2eAcme + "/licenses/P2/checkout"},      // 17
}

// e2eSend sends raw bytes as Content-Type application/json and returns the
// status and body. It takes tb
// (not a testLedger) so that a fuzz function can use it with its own t.
func e2eSend(tb testing.TB, base, token, method, path string, body []byte) (int, []byte) {
	tb.Helper()
	req, err := http.NewRequest(method, base+path, bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("%s %s: reading the answer: %v", method, path, err)
	}
	return resp.StatusCode, raw
}

// FuzzAPIBodies sends arbitrary bodies to the mutating endpoints of one
// server (started once, not per input) and checks the API's contract: never
// a 5xx, always a JSON object (or no body for 204), an error always has a
// code and a message, and a rejected command appends nothing.
func FuzzAPIBodies(f *testing.F) {
	tl := startLedger(f, "", nil)
	tl.setup()
	tl.must(201, "POST", e2eAcme+"/users", map[string]any{"email": "n@x.example"})
	tl.must(201, "POST", e2eAcme+"/licenses", e2eLicense("C1", "commercial", 3, T0, T0.AddDate(1, 0, 0), "microstation"))
	tl.must(201, "POST", e2eAcme+"/licenses", e2eLicense("P2", "practitioner", 0, T0, T0.AddDate(1, 0, 0), "microstation"))
	tl.must(200, "POST", e2eAcme+"/licenses/P2/assign", e2eAssign("b@x.example"))
	base, token, srv := tl.base, tl.token, tl.srv

	f.Fuzz(func(t *testing.T, ep uint8, body []byte) {
		e := e2eFuzzEndpoints[int(ep)%len(e2eFuzzEndpoints)]
		before := e2eStreamLen(t, srv)
		status, raw := e2eSend(t, base, token, e.method, e.path, body)
		what := e.method + " " + e.path
		if status >= 500 {
			t.Fatalf("%s %q: status %d (a 5xx is always a bug): %s", what, body, status, raw)
		}
		if status == http.StatusNoContent {
			if len(raw) != 0 {
				t.Fatalf("%s %q: 204 with a body %q", what, body, raw)
			}
			return
		}
		var doc map[string]any
		if err := json.Unmarshal(raw, &doc); err != nil || doc == nil {
			t.Fatalf("%s %q: status %d, the answer is not a JSON object: %q", what, body, status, raw)
		}
		if status < 300 {
			return
		}
		r := response{Status: status, Body: doc, Raw: raw}
		if r.code() == "" {
			t.Fatalf("%s %q: status %d without error.code: %s", what, body, status, raw)
		}
		e2eErrorShape(t, what, r)
		if after := e2eStreamLen(t, srv); after != before {
			t.Fatalf("%s %q: rejected %d %s, but the stream grew from %d to %d", what, body, status, r.code(), before, after)
		}
	})
}
