package ledger_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/ledger"
)

// e2eErrorWorld is the state every row of TestAPIErrorCodes runs against,
// at clock T0+2d:
//   - account acme with users a, b, c (DE) and nocountry@x.example (none);
//     P1 assigned to a at T0 (so locked now), P3 unassigned, PF not active
//     until 2027, C1 commercial;
//   - account globex with user g@y.example.
func e2eErrorWorld(tb testing.TB) *testLedger {
	tb.Helper()
	tl := startLedger(tb, "", nil)
	tl.setup()
	until := T0.AddDate(1, 0, 0)
	tl.must(201, "POST", e2eAcme+"/users", map[string]any{"email": "nocountry@x.example"})
	tl.must(201, "POST", e2eAcme+"/licenses", e2eLicense("P3", "practitioner", 0, T0, until, "microstation"))
	tl.must(201, "POST", e2eAcme+"/licenses", e2eLicense("PF", "practitioner", 0, T0.AddDate(1, 0, 0), T0.AddDate(2, 0, 0), "microstation"))
	tl.must(201, "POST", e2eAcme+"/licenses", e2eLicense("C1", "commercial", 2, T0, until, "microstation"))
	tl.must(201, "POST", "/v1/accounts", map[string]any{"id": "globex", "name": "Globex", "fulfillment_contact": "it@globex.example"})
	tl.must(201, "POST", "/v1/accounts/globex/users", map[string]any{"email": "g@y.example", "entitlement_country": "US"})
	tl.must(200, "POST", e2eP1+"/assign", e2eAssign("a@x.example"))
	tl.clock.Set(T0.Add(48 * time.Hour))
	return tl
}

// Every error code the API produces, with its HTTP status (docs/api.md): a
// rejected command appends nothing, and every error body is
// {"error": {"code", "message", "details"?}} with a message.
func TestAPIErrorCodes(t *testing.T) {
	tl := e2eErrorWorld(t)
	now := tl.clock.Now()
	lockedUntil := T0.Add(e2eLock)
	acct := map[string]any{"id": "initech", "name": "Initech", "fulfillment_contact": "x@initech.example"}
	cases := []struct {
		name    string
		method  string
		path    string
		body    any
		headers []string
		status  int
		code    string
		details map[string]any
	}{
		// 400: malformed or invalid input.
		{"invalid account id", "POST", "/v1/accounts", map[string]any{"id": "Bad_ID", "name": "X", "fulfillment_contact": "x@y.example"},
			nil, 400, "invalid_argument", map[string]any{"field": "id"}},
		{"wrong JSON type", "POST", e2eAcme + "/users", `{"email": 42}`, nil, 400, "invalid_argument", map[string]any{"field": "email"}},
		{"unknown field", "POST", e2eP1 + "/unassign", `{"when": "now"}`, nil, 400, "invalid_argument", map[string]any{"field": "when"}},
		{"at not RFC 3339", "POST", e2eP1 + "/unassign", `{"at": "yesterday"}`, nil, 400, "invalid_argument", map[string]any{"field": "at"}},
		{"bad Idempotency-Key", "POST", e2eAcme + "/users", map[string]any{"email": "k@x.example"},
			[]string{"Idempotency-Key", strings.Repeat("k", 256)}, 400, "invalid_argument", map[string]any{"field": "Idempotency-Key"}},
		{"bad licence id in path", "POST", e2eAcme + "/licenses/-x/assign", e2eAssign("a@x.example"), nil, 400, "invalid_argument", nil},
		{"broken JSON", "POST", "/v1/accounts", `{"id": "initech",`, nil, 400, "malformed_json", nil},
		{"not JSON", "POST", "/v1/accounts", `id=initech`, nil, 400, "malformed_json", nil},
		{"empty body", "POST", "/v1/accounts", "", nil, 400, "malformed_json", nil},
		{"blank body", "POST", e2eP1 + "/assign", " \n", nil, 400, "malformed_json", nil},
		{"empty body on PATCH", "PATCH", e2eAcme + "/users/b@x.example", "", nil, 400, "malformed_json", nil},
		{"trailing data", "POST", "/v1/accounts", `{"id": "initech", "name": "I", "fulfillment_contact": "x@i.example"} {}`, nil, 400, "malformed_json", nil},
		{"trailing garbage", "POST", e2eP1 + "/reassign", `{"email": "b@x.example"}x`, nil, 400, "malformed_json", nil},
		{"JSON array", "POST", "/v1/accounts", `[{"id": "initech"}]`, nil, 400, "malformed_json", nil},
		{"empty JSON array", "POST", e2eP1 + "/unassign", `[]`, nil, 400, "malformed_json", nil},
		{"JSON string", "POST", e2eAcme + "/users", `"a@x.example"`, nil, 400, "malformed_json", nil},
		{"JSON number", "PATCH", e2eAcme + "/users/b@x.example", `7`, nil, 400, "malformed_json", nil},
		{"at 5m1s ahead", "POST", e2eAcme + "/users", map[string]any{"email": "f@x.example", "at": e2eTS(now.Add(5*time.Minute + time.Second))},
			nil, 400, "at_in_future", nil},
		{"at far ahead", "POST", e2eP1 + "/renew", map[string]any{"valid_until": "2031-01-01T00:00:00Z", "at": "2030-01-01T00:00:00Z"},
			nil, 400, "at_in_future", nil},

		// 404: unknown things.
		{"unknown account", "GET", "/v1/accounts/nope", nil, nil, 404, "account_not_found", map[string]any{"account": "nope"}},
		{"unknown account on a command", "POST", "/v1/accounts/nope/users", map[string]any{"email": "a@x.example"}, nil, 404, "account_not_found", nil},
		{"unknown account on a licence command", "POST", "/v1/accounts/nope/licenses/P1/assign", e2eAssign("a@x.example"), nil, 404, "account_not_found", nil},
		{"unknown user", "GET", e2eAcme + "/users/ghost@x.example", nil, nil, 404, "user_not_found", map[string]any{"email": "ghost@x.example"}},
		{"patch unknown user", "PATCH", e2eAcme + "/users/ghost@x.example", map[string]any{"entitlement_country": "DE"}, nil, 404, "user_not_found", nil},
		{"assign to unknown user", "POST", e2eAcme + "/licenses/P3/assign", e2eAssign("ghost@x.example"), nil, 404, "user_not_found", nil},
		{"unknown licence", "GET", e2eAcme + "/licenses/NOPE", nil, nil, 404, "license_not_found", map[string]any{"license_id": "NOPE"}},
		{"renew unknown licence", "POST", e2eAcme + "/licenses/NOPE/renew", map[string]any{"valid_until": "2030-01-01T00:00:00Z"}, nil, 404, "license_not_found", nil},
		{"unknown path", "GET", "/v1/nothing", nil, nil, 404, "not_found", nil},
		{"unknown path under an account", "POST", e2eAcme + "/frobnicate", map[string]any{}, nil, 404, "not_found", nil},
		{"a path of neither the API nor the console (/ is the console)", "GET", "/nothing-here", nil, nil, 404, "not_found", nil},

		// 409: rules that reject the command.
		{"account exists", "POST", "/v1/accounts", map[string]any{"id": "acme", "name": "Acme", "fulfillment_contact": "x@y.example"},
			nil, 409, "account_exists", nil},
		{"user exists", "POST", e2eAcme + "/users", map[string]any{"email": "B@x.example"}, nil, 409, "user_exists", nil},
		{"user in other account", "POST", e2eAcme + "/users", map[string]any{"email": "g@y.example"}, nil, 409, "user_in_other_account", nil},
		{"entitlement country missing", "POST", e2eAcme + "/licenses/P3/assign", e2eAssign("nocountry@x.example"), nil, 409, "entitlement_country_missing", nil},
		{"license exists", "POST", e2eAcme + "/licenses", e2eLicense("P3", "practitioner", 0, T0, T0.AddDate(1, 0, 0), "microstation"),
			nil, 409, "license_exists", nil},
		{"not practitioner", "POST", e2eAcme + "/licenses/C1/assign", e2eAssign("b@x.example"), nil, 409, "not_practitioner_license", nil},
		{"license inactive", "POST", e2eAcme + "/licenses/PF/assign", e2eAssign("b@x.example"), nil, 409, "license_inactive", nil},
		{"license assigned", "POST", e2eP1 + "/assign", e2eAssign("b@x.example"), nil, 409, "license_assigned", nil},
		{"user already licensed", "POST", e2eAcme + "/licenses/P3/assign", e2eAssign("a@x.example"), nil, 409, "user_already_licensed", nil},
		{"license locked", "POST", e2eP1 + "/reassign", e2eAssign("b@x.example"), nil, 409, "license_locked",
			map[string]any{"locked_until": e2eTS(lockedUntil)}},
		{"license locked on unassign", "POST", e2eP1 + "/unassign", nil, nil, 409, "license_locked",
			map[string]any{"locked_until": e2eTS(lockedUntil)}},
		{"already assigned", "POST", e2eP1 + "/reassign", e2eAssign("a@x.example"), nil, 409, "already_assigned", nil},
		{"not assigned", "POST", e2eAcme + "/licenses/P3/reassign", e2eAssign("b@x.example"), nil, 409, "not_assigned", nil},
		{"not assigned on unassign", "POST", e2eAcme + "/licenses/P3/unassign", nil, nil, 409, "not_assigned", nil},
		{"renewal not later", "POST", e2eP1 + "/renew", map[string]any{"valid_until": "2028-01-01T00:00:00Z"}, nil, 409, "renewal_not_later", nil},
		{"at before last event", "PATCH", e2eAcme + "/users/c@x.example", map[string]any{"entitlement_country": "FR", "at": e2eTS(T0.Add(-time.Hour))},
			nil, 409, "at_before_last_event", nil},
		{"at before last event on assign", "POST", e2eAcme + "/licenses/P3/assign", e2eAssign("b@x.example", T0.Add(-time.Second)),
			nil, 409, "at_before_last_event", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tl.tb = t
			r := e2eReject(tl, c.status, c.code, c.method, c.path, c.body, c.headers...)
			for k, v := range c.details {
				e2eDetail(t, r, k, v)
			}
			if got := r.details()["field"]; c.code == "invalid_argument" && got == nil {
				t.Errorf("invalid_argument without details.field: %s", r.Raw)
			}
		})
	}
	tl.tb = t

	// idempotency_key_reused: the key's first use appends, the second
	// (another body) appends nothing.
	tl.must(201, "POST", "/v1/accounts", acct, "Idempotency-Key", "k-1")
	other := map[string]any{"id": "initech", "name": "Initech Inc", "fulfillment_contact": "x@initech.example"}
	e2eReject(tl, 409, "idempotency_key_reused", "POST", "/v1/accounts", other, "Idempotency-Key", "k-1")
	tl.checkStream()
}

// A body over 1 MiB is rejected 413 body_too_large, on every mutating
// endpoint, whether or not it is valid JSON; exactly 1 MiB is read.
func TestAPIBodyTooLarge(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	const limit = 1 << 20
	// A valid body padded with whitespace to a given size.
	padded := func(body string, size int) []byte {
		b := []byte(body)
		return append(b, bytes.Repeat([]byte(" "), size-len(b))...)
	}
	valid := `{"email": "d@x.example", "entitlement_country": "DE"}`
	for _, c := range []struct {
		method, path string
		body         []byte
	}{
		{"POST", e2eAcme + "/users", padded(valid, limit+1)},
		{"POST", e2eAcme + "/users", padded(valid, 2*limit)},
		{"POST", "/v1/accounts", append([]byte(`{"name": "`), bytes.Repeat([]byte("x"), limit)...)},
		{"PATCH", e2eAcme + "/users/a@x.example", padded(`{"entitlement_country": "FR"}`, limit+10)},
		{"POST", e2eP1 + "/assign", padded(`{"email": "a@x.example"}`, limit+1)},
		{"POST", e2eP1 + "/unassign", padded(`{}`, limit+1)},
		{"DELETE", e2eAcme + "/users/a@x.example", padded(`{}`, limit+1)},
	} {
		r := e2eReject(tl, http.StatusRequestEntityTooLarge, "body_too_large", c.method, c.path, c.body)
		e2eDetail(t, r, "limit", limit)
	}
	// Exactly at the limit the body is read and the command runs.
	r := tl.must(201, "POST", e2eAcme+"/users", padded(valid, limit))
	e2eFields(t, "1 MiB body", r.Body, map[string]any{"email": "d@x.example"})
}

// at_in_future: `at` may be up to exactly 5 minutes ahead of the ledger's
// clock, not one second more (docs/api.md).
func TestAPIAtInFutureBoundary(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	now := tl.clock.Now()
	r := e2eReject(tl, 400, "at_in_future", "POST", e2eAcme+"/users",
		map[string]any{"email": "f@x.example", "at": e2eTS(now.Add(5*time.Minute + time.Second))})
	if r.details()["now"] != e2eTS(now) {
		t.Errorf("at_in_future details.now got %v, want %s", r.details()["now"], e2eTS(now))
	}
	e2eReject(tl, 400, "at_in_future", "POST", e2eAcme+"/users",
		map[string]any{"email": "f@x.example", "at": e2eTS(now.Add(5*time.Minute + time.Nanosecond))})
	r = tl.must(201, "POST", e2eAcme+"/users", map[string]any{"email": "f@x.example", "at": e2eTS(now.Add(5 * time.Minute))})
	e2eFields(t, "register at +5m", r.Body, map[string]any{"registered_at": e2eTS(now.Add(5 * time.Minute))})
	// The same instant written with an offset is the same instant.
	r = tl.must(201, "POST", e2eAcme+"/users", map[string]any{"email": "g@x.example", "at": now.Add(5 * time.Minute).In(time.FixedZone("", 2*3600)).Format(time.RFC3339)})
	e2eFields(t, "register at +5m with an offset", r.Body, map[string]any{"registered_at": e2eTS(now.Add(5 * time.Minute))})
	e2eReject(tl, 400, "at_in_future", "POST", e2eP1+"/assign", e2eAssign("f@x.example", now.Add(6*time.Minute)))
	tl.checkStream()
}

// Field names match exactly: encoding/json's case-insensitive matching would
// take {"EMAIL": …} for email; the API names it an unknown field.
func TestAPIFieldNamesAreCaseSensitive(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	r := tl.do("POST", "/v1/accounts/acme/licenses/P1/assign", `{"EMAIL":"a@x.example"}`)
	if r.Status != 400 || r.code() != "invalid_argument" || r.details()["field"] != "EMAIL" {
		t.Errorf("got %d %s, want 400 invalid_argument naming EMAIL", r.Status, r.Raw)
	}
}

// A body that is not an object, a type error in an embedded field, and a
// differently-cased key with a wrong type are all named clearly.
func TestAPIDecodingEdges(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	for _, tc := range []struct {
		body, code, field string
	}{
		{`null`, "malformed_json", ""},
		{`[1]`, "malformed_json", ""},
		{`{"email":"a@x.example","at":5}`, "invalid_argument", "at"},
		{`{"EMAIL":5}`, "invalid_argument", "EMAIL"},
	} {
		r := tl.do("POST", "/v1/accounts/acme/licenses/P1/assign", tc.body)
		if r.Status != 400 || r.code() != tc.code || (tc.field != "" && r.details()["field"] != tc.field) {
			t.Errorf("%s: %d %s, want 400 %s naming %q", tc.body, r.Status, r.Raw, tc.code, tc.field)
		}
	}
}

// An unknown account is decided once, first, for every entry point: over
// HTTP before the body's fields are looked at, and through the Go API the
// same (it used to answer license_not_found there).
func TestUnknownAccountFirstEverywhere(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"POST", "/v1/accounts/nope/licenses/P1/assign", map[string]any{"email": "not-an-email"}},
		{"PATCH", "/v1/accounts/nope/users/a@x.example", map[string]any{"entitlement_country": "Germany"}},
		{"POST", "/v1/accounts/nope/checks", map[string]any{"email": "a@x.example", "product": "revit", "machine_id": "m1", "client_version": "ten"}},
		{"POST", "/v1/accounts/nope/usage", map[string]any{"records": []any{map[string]any{"usage_id": "u1", "email": "bad"}}}},
		{"POST", "/v1/accounts/nope/sessions", map[string]any{"email": "a@x.example", "machine_id": "m1", "client_version": "x", "client_time": e2eTS(T0)}},
		{"POST", "/v1/accounts/nope/licenses/P1/checkout", map[string]any{"email": "a@x.example", "machine_id": "m1", "until": e2eTS(T0.Add(time.Hour))}},
	} {
		r := e2eReject(tl, 404, "account_not_found", c.method, c.path, c.body)
		e2eDetail(t, r, "account", "nope")
	}
	l := tl.srv.Ledger()
	ctx := context.Background()
	for name, err := range map[string]error{
		"assign": func() error {
			_, err := l.Assign(ctx, ledger.Meta{}, commands.Assign{Account: "nope", LicenseID: "P1", Email: "a@x.example"})
			return err
		}(),
		"check": func() error {
			_, err := l.Check(ctx, ledger.Meta{}, commands.Check{Account: "nope", Email: "a@x.example", Product: "revit", MachineID: "m1", ClientVersion: "10.00.18"})
			return err
		}(),
		"usage": func() error {
			_, err := l.RecordUsage(ctx, ledger.Meta{}, commands.RecordUsage{Account: "nope"})
			return err
		}(),
	} {
		if code := commands.CodeOf(err); code != commands.CodeAccountNotFound {
			t.Errorf("Go API %s in an unknown account: %v, want account_not_found", name, err)
		}
	}
}
