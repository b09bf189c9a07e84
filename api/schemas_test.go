package api

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/entledger/ledger/events"
)

// get sends GET path to the API and returns the status, Content-Type and
// body of the answer.
func get(t *testing.T, a *API, path string) (int, string, []byte) {
	t.Helper()
	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	body, err := io.ReadAll(rec.Result().Body)
	if err != nil {
		t.Fatal(err)
	}
	return rec.Code, rec.Header().Get("Content-Type"), body
}

// checkAnswer validates an answer of method path (the route's pattern)
// against the schema the OpenAPI document gives it.
func checkAnswer(t *testing.T, doc map[string]any, method, path string, status int, body []byte) {
	t.Helper()
	s, media := answerSchema(t, doc, method, path, status)
	if s == nil {
		t.Fatalf("%s %s %d: the document gives no answer schema", method, path, status)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("%s %s: %s answer is not JSON: %v", method, path, media, err)
	}
	if err := events.ValidateJSON(doc, s, v); err != nil {
		t.Errorf("%s %s %d: the answer does not match its documented schema: %v\n%s", method, path, status, err, body)
	}
}

// The schemas are served without a token, as embedded, with the schema
// media type; GET /v1/schemas lists every type and version.
func TestSchemaRoutes(t *testing.T) {
	a, doc := routeTable(), openAPIDoc(t)
	status, ctype, body := get(t, a, "/v1/schemas")
	if status != 200 || ctype != "application/json" {
		t.Fatalf("GET /v1/schemas: %d %s", status, ctype)
	}
	checkAnswer(t, doc, "GET", "/v1/schemas", status, body)
	var list SchemaList
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Types) != len(events.Types()) {
		t.Errorf("%d types listed, the catalogue has %d", len(list.Types), len(events.Types()))
	}
	paths := []string{list.Envelope}
	for _, ts := range list.Types {
		for _, v := range ts.Versions {
			paths = append(paths, schemaPath(ts.Type, v))
		}
	}
	for _, p := range paths {
		status, ctype, body := get(t, a, p)
		if status != 200 || ctype != "application/schema+json" {
			t.Errorf("GET %s: %d %s, want 200 application/schema+json", p, status, ctype)
			continue
		}
		want := events.EnvelopeSchema()
		if p != list.Envelope {
			typ, v, _ := strings.Cut(strings.TrimPrefix(p, "/v1/schemas/"), "/")
			want = schemaFileOf(t, typ, v)
		}
		if string(body) != string(want) {
			t.Errorf("GET %s is not the embedded schema file", p)
		}
	}
}

func schemaFileOf(t *testing.T, typ, version string) []byte {
	t.Helper()
	for _, v := range events.SchemaVersions(typ) {
		if b, ok := events.SchemaFile(typ, v); ok && schemaPath(typ, v) == "/v1/schemas/"+typ+"/"+version {
			return b
		}
	}
	t.Fatalf("no schema file of %s version %s", typ, version)
	return nil
}

// An unknown type or version is 404 not_found, saying what exists.
func TestSchemaRoutesNotFound(t *testing.T) {
	a, doc := routeTable(), openAPIDoc(t)
	for path, says := range map[string]string{
		"/v1/schemas/license.stolen/1":    "no event type",
		"/v1/schemas/license.assigned/9":  "its versions are [1]",
		"/v1/schemas/license.assigned/0":  "its versions are [1]",
		"/v1/schemas/license.assigned/v1": "not a schema version",
		"/v1/schemas/license.assigned/01": "not a schema version",
		"/v1/schemas/envelope/1":          "no event type",
	} {
		status, _, body := get(t, a, path)
		if status != 404 || !strings.Contains(string(body), `"code":"not_found"`) || !strings.Contains(string(body), says) {
			t.Errorf("GET %s: %d %s, want 404 not_found saying %q", path, status, body, says)
		}
		checkAnswer(t, doc, "GET", "/v1/schemas/{type}/{version}", status, body)
	}
}

// GET /v1/openapi.json serves the document, the same bytes as
// docs/openapi.json (TestOpenAPIDocument).
func TestOpenAPIServed(t *testing.T) {
	a := routeTable()
	status, ctype, body := get(t, a, "/v1/openapi.json")
	if status != 200 || ctype != "application/json" || string(body) != string(a.OpenAPI()) {
		t.Errorf("GET /v1/openapi.json: %d %s, %d bytes; want 200 application/json, the document", status, ctype, len(body))
	}
}
