package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"github.com/entledger/ledger/auth"
	"github.com/entledger/ledger/events"
)

// The OpenAPI 3.1 document of the API, served at GET /v1/openapi.json and
// kept in docs/openapi.json. It is built from the route table (Routes), the
// per-route entries of operations (openapi_routes.go) and the component
// schemas (openapi_schemas.go); TestOpenAPIDocument keeps the file equal to
// what this code builds.

// operation documents one route. Only summary is required; a route whose
// answer is a JSON object names its schema in answer.
type operation struct {
	summary      string
	body         schema         // the request body's schema; nil: the route takes none
	optionalBody bool           // the body may be left out altogether
	status       int            // the success status; 0 means 200
	answer       schema         // the success answer's schema; nil: no body (204) or not JSON
	media        string         // the success answer's media type; "" means application/json
	query        []string       // query parameters: keys of queryParams, or plain names of string parameters
	others       map[int]schema // answers with other statuses than the success and the error body
}

// schema is one JSON Schema (draft 2020-12, as OpenAPI 3.1 uses it).
type schema = map[string]any

// probes are the unauthenticated service endpoints, outside Routes but in
// the document.
var probes = []Route{
	{Method: "GET", Path: "/healthz", Access: auth.Public},
	{Method: "GET", Path: "/readyz", Access: auth.Public},
	{Method: "GET", Path: "/metrics", Access: auth.Public},
}

// documentedRoutes are the routes the OpenAPI document describes: the
// probes and every route of Routes.
func (a *API) documentedRoutes() []Route { return append(append([]Route(nil), probes...), a.table...) }

// OpenAPI is the API's OpenAPI 3.1 document, indented, as docs/openapi.json
// holds it.
func (a *API) OpenAPI() []byte { return buildOpenAPI(a.documentedRoutes()) }

// openAPIDocument answers the OpenAPI document, built once, on the first
// request: after every route is registered.
func (a *API) openAPIDocument() func(http.ResponseWriter, *http.Request) error {
	doc := sync.OnceValue(a.OpenAPI)
	return func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusOK)
		w.Write(doc())
		return nil
	}
}

// buildOpenAPI makes the document of routes.
func buildOpenAPI(routes []Route) []byte {
	paths := map[string]map[string]any{}
	for _, rt := range routes {
		if paths[rt.Path] == nil {
			paths[rt.Path] = map[string]any{}
		}
		paths[rt.Path][strings.ToLower(rt.Method)] = pathItem(rt)
	}
	doc := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":   "Entitlement ledger HTTP API",
			"version": "1",
			"description": "The ledger's HTTP API under /v1 and its service endpoints. docs/api.md is the reference " +
				"with every rule; this document is generated from the route table (api/openapi.go).",
			"contact": map[string]any{"name": "The ledger's maintainers", "url": "https://github.com/entledger/ledger"},
		},
		"servers": []any{map[string]any{"url": "http://127.0.0.1:8080",
			"description": "A ledger on its default address (serve --http); the API's paths start with /v1, the probes' at the root."}},
		"security": []any{map[string]any{"bearer": []any{}}},
		"tags":     tagObjects(),
		"paths":    paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{"bearer": map[string]any{
				"type": "http", "scheme": "bearer",
				"description": "An API token, ledger_<id>_<secret> (S1): Authorization: Bearer <token>.",
			}},
			"schemas":    componentSchemas(),
			"parameters": parameterComponents(),
			"responses": map[string]any{"Error": map[string]any{
				"description": "An error: the status of its code (docs/api.md#error-codes).",
				"content":     map[string]any{"application/json": map[string]any{"schema": ref("Error")}},
			}},
		},
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		panic("api: the OpenAPI document does not encode: " + err.Error())
	}
	return b.Bytes()
}

// pathItem is the OpenAPI operation object of one route.
func pathItem(rt Route) map[string]any {
	key := rt.Method + " " + rt.Path
	op, documented := operations[key]
	if !documented {
		op = operation{summary: "Not documented yet: add " + key + " to operations in api/openapi_routes.go"}
	}
	out := map[string]any{
		"operationId":     operationID(rt),
		"summary":         op.summary,
		"description":     accessDescription(rt.Access),
		"tags":            []string{tag(rt.Path)},
		"x-ledger-access": rt.Access.String(),
		"responses":       responses(op),
	}
	if rt.Access == auth.Public {
		out["security"] = []any{}
	}
	if params := parameters(rt.Path, op.query); len(params) > 0 {
		out["parameters"] = params
	}
	if op.body != nil {
		out["requestBody"] = map[string]any{
			"required": !op.optionalBody,
			"content":  map[string]any{"application/json": map[string]any{"schema": op.body}},
		}
	}
	return out
}

// responses are an operation's success answer and its errors.
func responses(op operation) map[string]any {
	status := op.status
	if status == 0 {
		status = http.StatusOK
	}
	ok := map[string]any{"description": http.StatusText(status)}
	if op.answer != nil || op.media != "" {
		media, s := op.media, op.answer
		if media == "" {
			media = "application/json"
		}
		if s == nil {
			s = schema{"type": "string"}
		}
		ok["content"] = map[string]any{media: map[string]any{"schema": s}}
	}
	errorRef := map[string]any{"$ref": "#/components/responses/Error"}
	out := map[string]any{strconv.Itoa(status): ok, "4XX": errorRef, "default": errorRef}
	for st, s := range op.others {
		out[strconv.Itoa(st)] = map[string]any{"description": http.StatusText(st),
			"content": map[string]any{"application/json": map[string]any{"schema": s}}}
	}
	return out
}

// operationID names a route: its method and its path's segments, e.g.
// getAccountsAccountLicensesId.
func operationID(rt Route) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(rt.Method))
	for _, seg := range strings.Split(strings.TrimPrefix(rt.Path, "/v1"), "/") {
		seg = strings.Trim(seg, "{}")
		for _, part := range strings.FieldsFunc(seg, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}

// accessDescription says who may call a route that asks access a: the
// roles auth.Principal.May grants it to.
func accessDescription(a auth.Access) string {
	if a == auth.Public {
		return "Needs no token."
	}
	var who []string
	for _, role := range []string{events.RoleAdmin, events.RoleAccountAdmin, events.RoleAuditor, events.RoleIngest} {
		everyAccount, oneAccount := auth.Principal{Role: role}.May(a), auth.Principal{Role: role, Account: "a"}.May(a)
		switch {
		case everyAccount && !oneAccount && role != events.RoleAdmin:
			who = append(who, "an "+role+" of every account")
		case everyAccount || oneAccount:
			who = append(who, role)
		}
	}
	list := strings.Join(who, ", ")
	if i := strings.LastIndex(list, ", "); i >= 0 {
		list = list[:i] + " or " + list[i+2:]
	}
	return fmt.Sprintf("Who may call it: %s (access %s). A token of one account reaches that account only (S2); "+
		"the roles: docs/api.md#roles.", list, a)
}

// tags describe the groups tag puts the routes in, in the document's order.
var tags = []struct{ name, description string }{
	{"accounts", "Customer accounts and their fulfillment contacts (A1)."},
	{"history", "An account's own events, as stored (H4)."},
	{"users", "An account's users: registration, entitlement country, removal (A2-A4)."},
	{"licenses", "Licences: creation, renewal, cancellation, assignment and offline checkout (B1, B2, C1-C8, F6, H1)."},
	{"reminders", "Active practitioner licences without an assignee (C7)."},
	{"sessions", "Users signed in on a machine (D1-D4)."},
	{"access", "Who may use a product of the account's pooled licences (E2)."},
	{"checks", "Entitlement checks, recorded granted or denied (E1-E3)."},
	{"usage", "Usage records, their summary, voids and export (F1-F5, G3, H1)."},
	{"qtl", "Term licence reports of a quarter or a month, by country pool, and how to pay less (G2, G3, G6, G9, G10, G11)."},
	{"peaks", "The 10-minute peaks of pooled use and the evidence behind them (G1, G7)."},
	{"thresholds", "Thresholds of machines in pooled use (G8)."},
	{"alerts", "Alerts raised above a threshold (G4, G8)."},
	{"domains", "Email domains an account has claimed: only it may register their addresses (A5, S2)."},
	{"tokens", "API tokens: issued, listed, revoked (S1, S3)."},
	{"subscribers", "NATS credentials for services that read the events (S5)."},
	{"integrity", "What the ledger found wrong with its stream (H3)."},
	{"keys", "The public keys that verify the events and offline checkout tokens."},
	{"schemas", "The JSON Schemas of the event envelope and of each event type's data."},
	{"openapi.json", "This document."},
	{"service", "Health, readiness and metrics, outside /v1, for load balancers and monitoring."},
}

// tagObjects is the document's tags.
func tagObjects() []any {
	out := make([]any, len(tags))
	for i, t := range tags {
		out[i] = map[string]any{"name": t.name, "description": t.description}
	}
	return out
}

// tag groups a route by resource: what follows /v1/accounts/{account}, or
// /v1; "service" for the probes.
func tag(path string) string {
	rest, ok := strings.CutPrefix(path, "/v1/")
	if !ok {
		return "service"
	}
	if r, ok := strings.CutPrefix(rest, "accounts/{account}/"); ok {
		rest = r
	}
	seg, _, _ := strings.Cut(rest, "/")
	return seg
}

// parameters are a route's path parameters, in path order, then its query
// parameters.
func parameters(path string, query []string) []any {
	var out []any
	for _, seg := range strings.Split(path, "/") {
		if name, ok := strings.CutPrefix(seg, "{"); ok {
			out = append(out, pathParameter(path, strings.TrimSuffix(name, "}")))
		}
	}
	for _, q := range query {
		if _, ok := queryParams[q]; ok {
			out = append(out, map[string]any{"$ref": "#/components/parameters/query_" + q})
			continue
		}
		out = append(out, map[string]any{"name": q, "in": "query", "schema": schema{"type": "string"}})
	}
	return out
}

// pathParameter is the parameter object of the path parameter name:
// a reference to its component, or a plain string for a new name.
func pathParameter(path, name string) any {
	key := name
	switch {
	case name == "id" && strings.HasPrefix(path, "/v1/tokens/"):
		key = "token_id"
	case name == "id":
		key = "license_id"
	case name == "name":
		key = "subscriber_name"
	}
	if _, ok := pathParams[key]; ok {
		return map[string]any{"$ref": "#/components/parameters/path_" + key}
	}
	return map[string]any{"name": name, "in": "path", "required": true, "schema": schema{"type": "string"}}
}

// parameterComponents are the path and query parameters the operations
// refer to.
func parameterComponents() map[string]any {
	out := map[string]any{}
	for key, p := range pathParams {
		out["path_"+key] = map[string]any{"name": p.name, "in": "path", "required": true, "description": p.description, "schema": p.schema}
	}
	for key, p := range queryParams {
		out["query_"+key] = map[string]any{"name": p.name, "in": "query", "description": p.description, "schema": p.schema}
	}
	return out
}

// param describes one path or query parameter.
type param struct {
	name        string
	description string
	schema      schema
}
