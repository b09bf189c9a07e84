package ledger_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/entledger/ledger/events"
)

// answerCase is one request whose answer must match the schema the OpenAPI
// document gives its route and status.
type answerCase struct {
	method, route string // the route as registered
	path          string // the route filled in
	body          any
	status        int
}

// The answers of a running ledger match the schemas of the OpenAPI
// document it serves (GET /v1/openapi.json, without a token): accounts,
// licences, users with and without a session, error bodies, token lists and
// more, each validated against its route's documented answer.
func TestOpenAPIAnswersMatchSchemas(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	doc := tl.must(200, "GET", "/v1/openapi.json", nil, "Authorization", "").Body
	now := e2eTS(T0)
	hourAgo := e2eTS(T0.Add(-time.Hour))
	lic := "/v1/accounts/acme/licenses/P1"
	for _, c := range []answerCase{
		{"GET", "/healthz", "/healthz", nil, 200},
		{"GET", "/readyz", "/readyz", nil, 200},
		{"GET", "/v1/keys/events", "/v1/keys/events", nil, 200},
		{"GET", "/v1/keys/checkout", "/v1/keys/checkout", nil, 200},
		{"GET", "/v1/schemas", "/v1/schemas", nil, 200},
		{"GET", "/v1/accounts/{account}", "/v1/accounts/acme", nil, 200},
		{"GET", "/v1/accounts/{account}", "/v1/accounts/ghost", nil, 404},
		{"POST", "/v1/accounts", "/v1/accounts", map[string]any{"id": "Bad Id"}, 400},
		{"GET", "/v1/accounts/{account}/history", "/v1/accounts/acme/history", nil, 200},
		{"GET", "/v1/accounts/{account}/licenses/{id}", lic, nil, 200},
		{"GET", "/v1/accounts/{account}/reminders", "/v1/accounts/acme/reminders", nil, 200},
		{"POST", "/v1/accounts/{account}/licenses/{id}/assign", lic + "/assign", e2eAssign("a@x.example"), 200},
		{"POST", "/v1/accounts/{account}/licenses/{id}/assign", lic + "/assign", e2eAssign("b@x.example"), 409},
		{"GET", "/v1/accounts/{account}/licenses/{id}/history", lic + "/history", nil, 200},
		{"GET", "/v1/accounts/{account}/users/{email}", "/v1/accounts/acme/users/b@x.example", nil, 200},
		{"GET", "/v1/accounts/{account}/users/{email}", "/v1/accounts/acme/users/nobody@x.example", nil, 404},
		{"POST", "/v1/accounts/{account}/sessions", "/v1/accounts/acme/sessions", map[string]any{"email": "a@x.example",
			"machine_id": "ws-1", "client_version": "10.00.18.25", "client_time": now}, 201},
		{"GET", "/v1/accounts/{account}/users/{email}", "/v1/accounts/acme/users/a@x.example", nil, 200},
		{"POST", "/v1/accounts/{account}/checks", "/v1/accounts/acme/checks", map[string]any{"email": "a@x.example",
			"product": "microstation", "machine_id": "ws-1", "client_version": "10.00.18.25"}, 200},
		{"POST", "/v1/accounts/{account}/checks", "/v1/accounts/acme/checks", map[string]any{"email": "c@x.example",
			"product": "microstation", "machine_id": "ws-3", "client_version": "10.00.18.25"}, 200},
		{"POST", "/v1/accounts/{account}/licenses/{id}/checkout", lic + "/checkout", map[string]any{"email": "a@x.example",
			"machine_id": "ws-1", "until": e2eTS(T0.Add(48 * time.Hour))}, 200},
		{"GET", "/v1/accounts/{account}/licenses/{id}", lic, nil, 200},
		{"POST", "/v1/accounts/{account}/usage", "/v1/accounts/acme/usage", map[string]any{"records": []any{map[string]any{
			"usage_id": "u-1", "email": "c@x.example", "product": "microstation", "machine_id": "ws-3",
			"client_version": "10.00.18.25", "started_at": hourAgo, "ended_at": now}}}, 200},
		{"GET", "/v1/accounts/{account}/usage/summary", "/v1/accounts/acme/usage/summary", nil, 200},
		{"PUT", "/v1/accounts/{account}/access/{product}", "/v1/accounts/acme/access/microstation",
			map[string]any{"default": "allow", "deny": []string{"b@x.example"}}, 200},
		{"PUT", "/v1/accounts/{account}/thresholds/{product}", "/v1/accounts/acme/thresholds/microstation",
			map[string]any{"max_machines": 40}, 200},
		{"GET", "/v1/accounts/{account}/thresholds", "/v1/accounts/acme/thresholds", nil, 200},
		{"GET", "/v1/accounts/{account}/alerts", "/v1/accounts/acme/alerts", nil, 200},
		{"GET", "/v1/accounts/{account}/qtl", "/v1/accounts/acme/qtl?quarter=2026-Q1", nil, 200},
		{"GET", "/v1/accounts/{account}/peaks", "/v1/accounts/acme/peaks?product=microstation&from=" + hourAgo + "&to=" + now, nil, 200},
		{"POST", "/v1/tokens", "/v1/tokens", map[string]any{"name": "ops", "role": "auditor"}, 201},
		{"GET", "/v1/tokens", "/v1/tokens", nil, 200},
		{"POST", "/v1/accounts/{account}/subscribers", "/v1/accounts/acme/subscribers", map[string]any{"name": "feed"}, 201},
		{"GET", "/v1/accounts/{account}/subscribers", "/v1/accounts/acme/subscribers", nil, 200},
		{"GET", "/v1/tokens", "/v1/tokens", nil, 401},
	} {
		headers := []string{}
		if c.status == 401 {
			headers = []string{"Authorization", "Bearer nonsense"}
		}
		r := tl.do(c.method, c.path, c.body, headers...)
		name := fmt.Sprintf("%s %s", c.method, c.path)
		if r.Status != c.status {
			t.Errorf("%s: %d %s, want %d", name, r.Status, r.Raw, c.status)
			continue
		}
		s, err := answerSchemaOf(doc, c.method, c.route, c.status)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		var v any
		if err := json.Unmarshal(r.Raw, &v); err != nil {
			t.Fatal(err)
		}
		if err := events.ValidateJSON(doc, s, v); err != nil {
			t.Errorf("%s %d: the answer does not match the documented schema: %v\n%s", name, r.Status, err, r.Raw)
		}
	}
	// Not vacuous: an account is no licence, and an error body no account.
	for answer, component := range map[string]string{"/v1/accounts/acme": "License", "/v1/accounts/ghost": "Account"} {
		var v any
		if err := json.Unmarshal(tl.do("GET", answer, nil).Raw, &v); err != nil {
			t.Fatal(err)
		}
		if events.ValidateJSON(doc, map[string]any{"$ref": "#/components/schemas/" + component}, v) == nil {
			t.Errorf("the answer of GET %s validates as a %s", answer, component)
		}
	}
}

// answerSchemaOf is the schema doc gives an answer of route with status:
// the route's answer for that status, or its default (the error body).
func answerSchemaOf(doc map[string]any, method, route string, status int) (map[string]any, error) {
	paths, _ := doc["paths"].(map[string]any)
	item, _ := paths[route].(map[string]any)
	op, ok := item[strings.ToLower(method)].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("the document has no %s %s", method, route)
	}
	resps, _ := op["responses"].(map[string]any)
	resp, ok := resps[fmt.Sprint(status)].(map[string]any)
	if !ok {
		resp, _ = resps["default"].(map[string]any)
	}
	if ref, ok := resp["$ref"].(string); ok {
		var cur any = doc
		for _, tok := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			m, _ := cur.(map[string]any)
			cur = m[tok]
		}
		resp, _ = cur.(map[string]any)
	}
	content, _ := resp["content"].(map[string]any)
	media, _ := content["application/json"].(map[string]any)
	s, ok := media["schema"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s %s %d has no application/json answer schema", method, route, status)
	}
	return s, nil
}
