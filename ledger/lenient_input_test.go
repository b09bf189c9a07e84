package ledger_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/entledger/ledger/server"
)

// Issue "Authentication, tenant isolation...", item 8: lenient input and
// cross-site requests, through the HTTP API of a real ledger. Every attempt
// here used to succeed or to be bent into something else; each must now be
// refused, appending nothing.

// lenientUsage is a usage batch of one valid record, with the raw JSON
// values of set in place of the usual ones and the members extra added as
// written (so that a key can be given twice).
func lenientUsage(set map[string]string, extra ...string) string {
	values := map[string]string{"usage_id": `"u-lenient"`, "email": `"a@x.example"`, "product": `"microstation"`,
		"machine_id": `"m1"`, "client_version": `"10.00.18"`, "started_at": `"2026-01-04T09:00:00Z"`,
		"ended_at": `"2026-01-04T10:00:00Z"`, "offline": `false`}
	var members []string
	for _, field := range []string{"usage_id", "email", "product", "machine_id", "client_version", "started_at", "ended_at", "offline"} {
		v := values[field]
		if s, ok := set[field]; ok {
			v = s
		}
		members = append(members, `"`+field+`":`+v)
	}
	return `{"records":[{` + strings.Join(append(members, extra...), ",") + `}]}`
}

// sendAs sends body with exactly the given Content-Type headers (none if
// contentTypes is empty) through a client that follows no redirect, and
// fails the test if a refused request made the stream grow.
func sendAs(tl *testLedger, method, path, body string, contentTypes ...string) response {
	tl.tb.Helper()
	before := len(tl.streamEvents())
	req, err := http.NewRequest(method, tl.base+path, strings.NewReader(body))
	if err != nil {
		tl.tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tl.token)
	for _, ct := range contentTypes {
		req.Header.Add("Content-Type", ct)
	}
	r := roundTrip(tl.tb, req)
	if after := len(tl.streamEvents()); after != before && r.Status >= 300 {
		tl.tb.Errorf("%s %s: refused %d %s, but the stream grew from %d to %d", method, path, r.Status, r.code(), before, after)
	}
	return r
}

// roundTrip sends req without following redirects and decodes the answer.
func roundTrip(tb testing.TB, req *http.Request) response {
	tb.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	r := response{Status: resp.StatusCode, Raw: raw}
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &r.Body); err != nil {
			tb.Fatalf("%s %s: status %d, the answer is not a JSON object: %q", req.Method, req.URL, r.Status, raw)
		}
	}
	if loc := resp.Header.Get("Location"); loc != "" {
		tb.Errorf("%s %s: answered %d with a redirect to %s", req.Method, req.URL, r.Status, loc)
	}
	return r
}

// wantRefused checks an answer's status, code and (if not "") the field it
// names, and the error contract.
func wantRefused(tb testing.TB, what string, r response, status int, code, field string) {
	tb.Helper()
	if r.Status != status || r.code() != code {
		tb.Errorf("%s: got %d %q, want %d %q: %s", what, r.Status, r.code(), status, code, r.Raw)
		return
	}
	if field != "" && r.details()["field"] != field {
		tb.Errorf("%s: names the field %v, want %q: %s", what, r.details()["field"], field, r.Raw)
	}
	e2eErrorShape(tb, what, r)
}

// wantBadRecord checks a refused usage batch: record 0 is bad with code,
// naming field.
func wantBadRecord(tb testing.TB, what string, r response, code, field string) {
	tb.Helper()
	wantRefused(tb, what, r, http.StatusBadRequest, code, "")
	recs, _ := r.details()["records"].([]any)
	if len(recs) != 1 {
		tb.Errorf("%s: details.records %v, want one bad record", what, r.details()["records"])
		return
	}
	rec, _ := recs[0].(map[string]any)
	if rec["index"] != 0.0 || rec["code"] != code || rec["field"] != field {
		tb.Errorf("%s: bad record %v, want index 0, code %s, field %s", what, rec, code, field)
	}
}

// S2, item 8: a page on another site can POST text/plain, a form or
// multipart to the ledger without asking (no CORS preflight); a body that
// is not declared application/json is refused 415, on every kind of
// endpoint, the usage endpoint and body-less ones included.
func TestS2CrossSiteBodiesAreRefused(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	tl.must(200, "POST", e2eP1+"/assign", e2eAssign("a@x.example"))
	register := `{"email":"mallory@x.example","entitlement_country":"DE"}`
	for _, tc := range []struct {
		name, method, path, body string
		contentTypes             []string
	}{
		// S2: a cross-site text/plain POST is refused (415).
		{"text/plain", "POST", e2eAcme + "/users", register, []string{"text/plain"}},
		{"text/plain with charset", "POST", e2eAcme + "/users", register, []string{"text/plain; charset=utf-8"}},
		{"form", "POST", e2eAcme + "/users", register, []string{"application/x-www-form-urlencoded"}},
		{"multipart", "POST", e2eAcme + "/users", register, []string{"multipart/form-data; boundary=b"}},
		{"no Content-Type", "POST", e2eAcme + "/users", register, nil},
		{"two Content-Types", "POST", e2eAcme + "/users", register, []string{"application/json", "text/plain"}},
		{"a JSON-like type", "POST", e2eAcme + "/users", register, []string{"application/json-patch+json"}},
		{"not UTF-8", "POST", e2eAcme + "/users", register, []string{"application/json; charset=utf-16"}},
		{"usage as text/plain", "POST", e2eAcme + "/usage", lenientUsage(nil), []string{"text/plain"}},
		{"usage without Content-Type", "POST", e2eAcme + "/usage", lenientUsage(nil), nil},
		{"PATCH as a form", "PATCH", e2eAcme + "/users/b@x.example", `{"entitlement_country":"FR"}`, []string{"application/x-www-form-urlencoded"}},
		{"PUT as text/plain", "PUT", e2eAcme + "/access/microstation", `{"default":"deny"}`, []string{"text/plain"}},
		{"body-less unassign as an empty text/plain form", "POST", e2eP1 + "/unassign", "", []string{"text/plain"}},
		{"body-less unassign as a form", "POST", e2eP1 + "/unassign", "at=2026-01-05T00:00:00Z", []string{"application/x-www-form-urlencoded"}},
		{"body-less unassign with a body but no Content-Type", "POST", e2eP1 + "/unassign", "{}", nil},
		{"a body required, none sent nor declared", "POST", e2eAcme + "/users", "", nil},
	} {
		r := sendAs(tl, tc.method, tc.path, tc.body, tc.contentTypes...)
		wantRefused(t, tc.name, r, http.StatusUnsupportedMediaType, "unsupported_media_type", "")
	}
	tl.must(404, "GET", e2eAcme+"/users/mallory@x.example", nil)
	e2eFields(t, "P1 after the refused unassignments", tl.must(200, "GET", e2eP1, nil).Body, map[string]any{"assignee": "a@x.example"})

	// application/json is accepted in any case and with a UTF-8 charset; a
	// body-less command may leave out both the body and the Content-Type.
	r := sendAs(tl, "POST", e2eAcme+"/users", `{"email":"d@x.example"}`, "Application/JSON; Charset=UTF-8")
	if r.Status != http.StatusCreated {
		t.Errorf("register as Application/JSON; Charset=UTF-8: %d %s", r.Status, r.Raw)
	}
	if r := sendAs(tl, "POST", e2eAcme+"/usage", lenientUsage(nil), "application/json; charset=utf-8"); r.Status != http.StatusOK {
		t.Errorf("usage as application/json; charset=utf-8: %d %s", r.Status, r.Raw)
	}
	if r := sendAs(tl, "POST", e2eP1+"/unassign", ""); r.Status != http.StatusOK {
		t.Errorf("unassign without a body or a Content-Type: %d %s", r.Status, r.Raw)
	}
	tl.checkStream()
}

// Item 8: a key given twice is refused naming it, at any depth, where the
// last would have won: an email was swapped this way.
func TestItem8RepeatedKeysAreRefused(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	for _, tc := range []struct {
		name, method, path, body, field string
	}{
		{"register", "POST", e2eAcme + "/users", `{"email":"d@x.example","email":"mallory@x.example"}`, "email"},
		{"register, the key escaped", "POST", e2eAcme + "/users", `{"email":"d@x.example","\u0065mail":"mallory@x.example"}`, "email"},
		{"assign", "POST", e2eP1 + "/assign", `{"email":"a@x.example","email":"b@x.example"}`, "email"},
		{"create account", "POST", "/v1/accounts", `{"id":"initech","name":"Initech","fulfillment_contact":"it@initech.example","fulfillment_contact":"mallory@x.example"}`, "fulfillment_contact"},
		{"access", "PUT", e2eAcme + "/access/microstation", `{"default":"allow","deny":["b@x.example"],"default":"deny"}`, "default"},
		{"at", "PATCH", e2eAcme + "/users/b@x.example", `{"entitlement_country":"FR","at":"2026-01-04T23:59:00Z","at":"2026-01-05T00:00:00Z"}`, "at"},
		{"usage: records", "POST", e2eAcme + "/usage", `{"records":[],"records":[]}`, "records"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tl.tb = t
			r := e2eReject(tl, http.StatusBadRequest, "invalid_argument", tc.method, tc.path, tc.body)
			e2eDetail(t, r, "field", tc.field)
		})
	}
	tl.tb = t
	tl.must(404, "GET", e2eAcme+"/users/mallory@x.example", nil)
	tl.must(404, "GET", e2eAcme+"/users/d@x.example", nil)

	// Inside a usage record, which the fast decoder declines and the strict
	// one names.
	for _, field := range []string{"email", "usage_id", "offline", "started_at"} {
		again := map[string]string{"email": `"email":"b@x.example"`, "usage_id": `"usage_id":"u-other"`,
			"offline": `"offline":true`, "started_at": `"started_at":"2026-01-04T08:00:00Z"`}[field]
		r := e2eReject(tl, http.StatusBadRequest, "invalid_argument", "POST", e2eAcme+"/usage", lenientUsage(nil, again))
		wantBadRecord(t, "usage record with "+field+" twice", r, "invalid_argument", field)
	}
	tl.checkStream()
}

// Item 8: null is refused naming the field, where it used to be read as
// the zero value ("offline": null as false, "allow": null as no one).
func TestItem8NullIsRefused(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	for _, tc := range []struct {
		name, method, path, body, field string
	}{
		{"email", "POST", e2eAcme + "/users", `{"email":null}`, "email"},
		{"country", "POST", e2eAcme + "/users", `{"email":"d@x.example","entitlement_country":null}`, "entitlement_country"},
		{"country on PATCH", "PATCH", e2eAcme + "/users/b@x.example", `{"entitlement_country":null}`, "entitlement_country"},
		{"at", "POST", e2eP1 + "/unassign", `{"at":null}`, "at"},
		{"products", "POST", e2eAcme + "/licenses", `{"id":"P9","kind":"trial","products":["microstation",null],"valid_from":"2026-01-01T00:00:00Z","valid_until":"2027-01-01T00:00:00Z"}`, "products"},
		{"seats", "POST", e2eAcme + "/licenses", `{"id":"C9","kind":"commercial","products":["microstation"],"seats":null,"valid_from":"2026-01-01T00:00:00Z","valid_until":"2027-01-01T00:00:00Z"}`, "seats"},
		{"allow", "PUT", e2eAcme + "/access/microstation", `{"default":"deny","allow":null}`, "allow"},
		{"max_machines", "PUT", e2eAcme + "/thresholds/microstation", `{"max_machines":null}`, "max_machines"},
		{"records", "POST", e2eAcme + "/usage", `{"records":null}`, "records"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tl.tb = t
			r := e2eReject(tl, http.StatusBadRequest, "invalid_argument", tc.method, tc.path, tc.body)
			e2eDetail(t, r, "field", tc.field)
		})
	}
	tl.tb = t
	for _, field := range []string{"offline", "email", "usage_id", "ended_at"} {
		r := e2eReject(tl, http.StatusBadRequest, "invalid_argument", "POST", e2eAcme+"/usage",
			lenientUsage(map[string]string{field: "null"}))
		wantBadRecord(t, "usage record with "+field+" null", r, "invalid_argument", field)
	}
	tl.checkStream()
}

// Item 8: invisible and control characters (bidirectional controls,
// zero-width characters, the byte order mark) are refused naming the field
// in every string the API validates, in bodies and in paths.
func TestItem8InvisibleCharactersAreRefused(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	for _, tc := range []struct {
		name, method, path string
		body               any
		field              string
	}{
		{"zero-width space in an email", "POST", e2eAcme + "/users", map[string]any{"email": "a\u200b@x.example"}, "email"},
		{"right-to-left override in an email", "POST", e2eAcme + "/users", map[string]any{"email": "\u202eelpmaxe.x@d"}, "email"},
		{"byte order mark in an email", "POST", e2eP1 + "/assign", map[string]any{"email": "\ufeffa@x.example"}, "email"},
		{"isolate in a name", "POST", "/v1/accounts", map[string]any{"id": "initech", "name": "Initech \u2066GmbH\u2069", "fulfillment_contact": "it@initech.example"}, "name"},
		{"left-to-right mark in a name", "POST", "/v1/accounts", map[string]any{"id": "initech", "name": "Initech\u200e", "fulfillment_contact": "it@initech.example"}, "name"},
		{"Arabic letter mark in a reason", "POST", e2eP1 + "/cancel", map[string]any{"effective_at": "2026-06-01T00:00:00Z", "reason": "sold\u061c by mistake"}, "reason"},
		{"word joiner in an account id", "POST", "/v1/accounts", map[string]any{"id": "init\u2060ech", "name": "Initech", "fulfillment_contact": "it@initech.example"}, "id"},
		{"zero-width joiner in a licence id", "POST", e2eAcme + "/licenses", e2eLicense("P\u200d2", "trial", 0, T0, T0.AddDate(1, 0, 0), "microstation"), "id"},
		{"soft hyphen in a product", "POST", e2eAcme + "/licenses", e2eLicense("P2", "trial", 0, T0, T0.AddDate(1, 0, 0), "micro\u00adstation"), "products"},
		{"an email in the path", "GET", e2eAcme + "/users/a%E2%80%8B@x.example", nil, "email"},
		{"an email in a session path", "POST", e2eAcme + "/sessions/a%E2%80%AE@x.example/heartbeat", map[string]any{"machine_id": "m1"}, "email"},
		{"a machine id", "POST", e2eAcme + "/checks", map[string]any{"email": "a@x.example", "product": "microstation", "machine_id": "m\u200b1", "client_version": "10.00.18"}, "machine_id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tl.tb = t
			r := e2eReject(tl, http.StatusBadRequest, "invalid_argument", tc.method, tc.path, tc.body)
			e2eDetail(t, r, "field", tc.field)
		})
	}
	tl.tb = t
	for field, value := range map[string]string{"email": "a\u2067@x.example", "usage_id": "u\u200c1", "machine_id": "m\ufeff1", "product": "\u202amicrostation"} {
		quoted, _ := json.Marshal(value)
		r := e2eReject(tl, http.StatusBadRequest, "invalid_argument", "POST", e2eAcme+"/usage",
			lenientUsage(map[string]string{field: string(quoted)}))
		wantBadRecord(t, "usage record: invisible character in "+field, r, "invalid_argument", field)
	}
	tl.checkStream()
}

// Item 8: a path with a dot segment or an empty segment, plain or
// percent-encoded, is refused 400 invalid_path, never redirected
// (http.ServeMux would answer 301 with the cleaned path: into another
// account's). An email with an encoded slash is still found.
func TestItem8UncleanPathsAreNotRedirected(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	tl.must(201, "POST", "/v1/accounts", map[string]any{"id": "globex", "name": "Globex", "fulfillment_contact": "it@globex.example"})
	tl.must(200, "POST", e2eP1+"/assign", e2eAssign("a@x.example"))
	for _, tc := range []struct{ method, path string }{
		{"POST", "/v1/accounts/globex/../acme/licenses/P1/unassign"},
		{"POST", "/v1/accounts/globex/%2e%2e/acme/licenses/P1/unassign"},
		{"POST", "/v1/accounts/globex/%2E./acme/licenses/P1/unassign"},
		{"POST", "/v1/accounts/globex%2f..%2facme/licenses/P1/unassign"},
		{"POST", "/v1/accounts/acme/./licenses/P1/unassign"},
		{"POST", "/v1/accounts/acme//licenses/P1/unassign"},
		{"POST", "//v1/accounts/acme/licenses/P1/unassign"},
		{"GET", "/v1/accounts/globex/../acme"},
		{"GET", "/v1/accounts/acme/users/a%2f..%2fb@x.example"},
	} {
		r := sendAs(tl, tc.method, tc.path, "", "application/json")
		wantRefused(t, tc.method+" "+tc.path, r, http.StatusBadRequest, "invalid_path", "")
	}
	e2eFields(t, "P1", tl.must(200, "GET", e2eP1, nil).Body, map[string]any{"assignee": "a@x.example"})
	tl.must(201, "POST", e2eAcme+"/users", map[string]any{"email": "a/b@x.example"})
	tl.must(200, "GET", e2eAcme+"/users/a%2Fb@x.example", nil)
	tl.checkStream()
}

// Item 8 (DNS rebinding): a page whose own DNS name resolves to the
// ledger's address sends that name as the Host; the ledger answers 421
// invalid_host, on every path, and answers its own names.
func TestItem8DNSRebindingIsRefused(t *testing.T) {
	tl := startConfigured(t, server.Config{HTTPAddr: "127.0.0.1:0", NoReminders: true,
		PublicNames: []string{"ledger.example.com"}}, nil)
	tl.setup()
	port := tl.srv.Addr()[strings.LastIndex(tl.srv.Addr(), ":"):]
	send := func(method, path, host, body string) response {
		t.Helper()
		req, err := http.NewRequest(method, tl.base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		req.Header.Set("Authorization", "Bearer "+tl.token)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		return roundTrip(t, req)
	}
	before := len(tl.streamEvents())
	for _, host := range []string{"attacker.example" + port, "attacker.example", "localhost.attacker.example" + port,
		"ledger.example.com.attacker.example" + port, "10.0.0.1" + port} {
		for _, c := range []struct{ method, path, body string }{
			{"GET", "/healthz", ""},
			{"GET", "/v1/accounts/acme", ""},
			{"POST", e2eAcme + "/users", `{"email":"mallory@x.example"}`},
		} {
			r := send(c.method, c.path, host, c.body)
			wantRefused(t, c.method+" "+c.path+" for "+host, r, http.StatusMisdirectedRequest, "invalid_host", "")
		}
	}
	if after := len(tl.streamEvents()); after != before {
		t.Errorf("requests for other hosts appended %d events", after-before)
	}
	for _, host := range []string{"127.0.0.1" + port, "localhost" + port, "LOCALHOST" + port, "[::1]" + port,
		"ledger.example.com" + port, "Ledger.Example.Com.", "ledger.example.com"} {
		if r := send("GET", "/v1/accounts/acme", host, ""); r.Status != http.StatusOK {
			t.Errorf("GET for %s: %d %s, want 200", host, r.Status, r.Raw)
		}
	}
}
