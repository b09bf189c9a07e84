package api

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/entledger/ledger/events"
)

// update rewrites docs/openapi.json: go test ./api -run OpenAPI -update
var update = flag.Bool("update", false, "rewrite docs/openapi.json")

const openAPIFile = "../docs/openapi.json"

// routeTable is the API's route table. New registers routes without using
// its ledger, so none is needed to list them.
func routeTable() *API { return New(nil, Options{}) }

// openAPIDoc is the generated document, decoded.
func openAPIDoc(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(routeTable().OpenAPI(), &doc); err != nil {
		t.Fatalf("the OpenAPI document is not JSON: %v", err)
	}
	return doc
}

// TestOpenAPIDocument keeps docs/openapi.json equal, byte for byte, to the
// document the API builds and serves.
func TestOpenAPIDocument(t *testing.T) {
	got := routeTable().OpenAPI()
	if *update {
		if err := os.WriteFile(openAPIFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", openAPIFile)
	}
	want, err := os.ReadFile(openAPIFile)
	if err != nil {
		t.Fatalf("%v (generate it: go test ./api -run OpenAPI -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("docs/openapi.json is not the document the API builds: run go test ./api -run OpenAPI -update and commit it")
	}
}

// TestOpenAPIRoutesDocumented: every route has its entry in operations,
// every entry is a route, and docs/openapi.json lists exactly the routes,
// each with the access it asks.
func TestOpenAPIRoutesDocumented(t *testing.T) {
	routes := map[string]string{}
	for _, rt := range routeTable().documentedRoutes() {
		key := rt.Method + " " + rt.Path
		routes[key] = rt.Access.String()
		if _, ok := operations[key]; !ok {
			t.Errorf("%s is not documented in the OpenAPI document. Add its entry to operations in api/openapi_routes.go, e.g.\n"+
				"\t%q: {summary: \"What it does (rule ids)\", answer: ref(\"Account\")},\n"+
				"(answer: page(\"Account\") for a paginated list {items, next_cursor}; body: fields(\"name\", str, \"at?\", at) "+
				"for a request body; status: 201 for a creation; query: []string{\"cursor\", \"limit\"} for query parameters), "+
				"then rewrite docs/openapi.json: go test ./api -run OpenAPI -update", key, key)
		}
	}
	for key := range operations {
		if _, ok := routes[key]; !ok {
			t.Errorf("operations in api/openapi_routes.go documents %s, which is no route: remove its entry or register the route", key)
		}
	}
	raw, err := os.ReadFile(openAPIFile)
	if err != nil {
		t.Fatalf("%v (generate it: go test ./api -run OpenAPI -update)", err)
	}
	var file struct {
		Paths map[string]map[string]struct {
			Access   string `json:"x-ledger-access"`
			Security []any  `json:"security"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for path, methods := range file.Paths {
		for method, op := range methods {
			key := strings.ToUpper(method) + " " + path
			documented[key] = true
			access, ok := routes[key]
			switch {
			case !ok:
				t.Errorf("docs/openapi.json documents %s, which is no route (go test ./api -run OpenAPI -update)", key)
			case op.Access != access:
				t.Errorf("docs/openapi.json: %s asks %q, the route %q", key, op.Access, access)
			case access == "public" && (op.Security == nil || len(op.Security) != 0):
				t.Errorf("docs/openapi.json: public %s does not say security: []", key)
			}
		}
	}
	for key := range routes {
		if !documented[key] {
			t.Errorf("docs/openapi.json does not document %s (go test ./api -run OpenAPI -update)", key)
		}
	}
}

// TestOpenAPIReferencesResolve: the document is OpenAPI 3.1, every $ref in
// it points at something, and it has one operation per route.
func TestOpenAPIReferencesResolve(t *testing.T) {
	doc := openAPIDoc(t)
	if doc["openapi"] != "3.1.0" {
		t.Errorf("openapi = %v, want 3.1.0", doc["openapi"])
	}
	var walk func(v any, at string)
	walk = func(v any, at string) {
		switch v := v.(type) {
		case map[string]any:
			if r, ok := v["$ref"].(string); ok {
				if _, err := resolvePointer(doc, r); err != nil {
					t.Errorf("%s: %v", at, err)
				}
			}
			for k, sub := range v {
				walk(sub, at+"/"+k)
			}
		case []any:
			for i, sub := range v {
				walk(sub, fmt.Sprintf("%s/%d", at, i))
			}
		}
	}
	walk(doc, "#")
	ops := 0
	for _, methods := range doc["paths"].(map[string]any) {
		ops += len(methods.(map[string]any))
	}
	if want := len(routeTable().documentedRoutes()); ops != want {
		t.Errorf("%d operations, want %d", ops, want)
	}
}

// resolvePointer follows a local reference in doc.
func resolvePointer(doc map[string]any, ref string) (any, error) {
	var cur any = doc
	for _, tok := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("$ref %s does not resolve", ref)
		}
		if cur, ok = m[tok]; !ok {
			return nil, fmt.Errorf("$ref %s does not resolve", ref)
		}
	}
	return cur, nil
}

// answerSchema is the documented schema of an answer of route with status
// (the error body for a status the route does not list), and its media.
func answerSchema(t *testing.T, doc map[string]any, method, path string, status int) (map[string]any, string) {
	t.Helper()
	op, ok := doc["paths"].(map[string]any)[path].(map[string]any)[strings.ToLower(method)].(map[string]any)
	if !ok {
		t.Fatalf("%s %s is not in the document", method, path)
	}
	resps := op["responses"].(map[string]any)
	resp, ok := resps[fmt.Sprint(status)].(map[string]any)
	if !ok {
		resp = resps["default"].(map[string]any)
	}
	if r, ok := resp["$ref"].(string); ok {
		target, err := resolvePointer(doc, r)
		if err != nil {
			t.Fatal(err)
		}
		resp = target.(map[string]any)
	}
	content, _ := resp["content"].(map[string]any)
	media := sortedMedia(content)
	if media == "" {
		return nil, ""
	}
	return content[media].(map[string]any)["schema"].(map[string]any), media
}

func sortedMedia(content map[string]any) string {
	keys := make([]string, 0, len(content))
	for k := range content {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) == 0 {
		return ""
	}
	return keys[0]
}

// TestOpenAPIHelpers: the helpers routes use build what they say.
func TestOpenAPIHelpers(t *testing.T) {
	doc := openAPIDoc(t)
	doc["components"].(map[string]any)["schemas"].(map[string]any)["Item"] = map[string]any{"type": "object"}
	var p map[string]any
	raw, _ := json.Marshal(page("Item"))
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		doc string
		ok  bool
	}{
		{`{"items":[{}],"next_cursor":"c1"}`, true},
		{`{"items":[],"next_cursor":null}`, true},
		{`{"items":[]}`, false},
		{`{"items":[1],"next_cursor":null}`, false},
		{`{"items":[],"next_cursor":null,"more":1}`, false},
	} {
		var v any
		if err := json.Unmarshal([]byte(tc.doc), &v); err != nil {
			t.Fatal(err)
		}
		if err := events.ValidateJSON(doc, p, v); (err == nil) != tc.ok {
			t.Errorf("page: %s: %v, want ok=%v", tc.doc, err, tc.ok)
		}
	}
}
