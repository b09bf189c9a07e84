package events_test

import (
	"encoding/json"
	"testing"

	"github.com/entledger/ledger/events"
)

// ValidateJSON understands the keywords the OpenAPI document uses beyond
// those of the event schemas: $ref, anyOf, type lists with null,
// additionalProperties as a schema, maximum and format date.
func TestValidateJSON(t *testing.T) {
	var root map[string]any
	if err := json.Unmarshal([]byte(`{
		"defs": {
			"day": {"type": "string", "format": "date"},
			"thing": {"type": "object", "additionalProperties": false, "required": ["n"],
				"properties": {"n": {"type": "integer", "minimum": 1, "maximum": 9},
					"when": {"$ref": "#/defs/day"},
					"note": {"type": ["string", "null"]},
					"tags": {"type": "object", "additionalProperties": {"type": "boolean"}},
					"child": {"anyOf": [{"$ref": "#/defs/thing"}, {"type": "null"}]}}}
		}}`), &root); err != nil {
		t.Fatal(err)
	}
	thing := map[string]any{"$ref": "#/defs/thing"}
	for _, tc := range []struct {
		doc string
		ok  bool
	}{
		{`{"n": 1}`, true},
		{`{"n": 9, "when": "2026-01-05", "note": null, "tags": {"a": true}, "child": {"n": 2, "child": null}}`, true},
		{`{"n": 1, "note": "x"}`, true},
		{`{"n": 1.0}`, true},
		{`{}`, false},
		{`{"n": 10}`, false},
		{`{"n": 0}`, false},
		{`{"n": 1.5}`, false},
		{`{"n": 1, "when": "2026-01-05T00:00:00Z"}`, false},
		{`{"n": 1, "note": 3}`, false},
		{`{"n": 1, "tags": {"a": "yes"}}`, false},
		{`{"n": 1, "child": {"n": 0}}`, false},
		{`{"n": 1, "child": 3}`, false},
		{`{"n": 1, "extra": true}`, false},
		{`null`, false},
		{`[]`, false},
	} {
		var v any
		if err := json.Unmarshal([]byte(tc.doc), &v); err != nil {
			t.Fatal(err)
		}
		if err := events.ValidateJSON(root, thing, v); (err == nil) != tc.ok {
			t.Errorf("%s: %v, want ok=%v", tc.doc, err, tc.ok)
		}
	}
	if err := events.ValidateJSON(root, map[string]any{"$ref": "#/defs/missing"}, 1.0); err == nil {
		t.Error("a $ref that does not resolve validated")
	}
	if err := events.ValidateJSON(root, map[string]any{"$ref": "other.json#/x"}, 1.0); err == nil {
		t.Error("a remote $ref validated")
	}
}
