package api

import (
	"net/http"
	"strconv"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
)

// The JSON Schemas of the events, published for subscribers: not secret,
// so every route here is public.

// SchemaList is the answer of GET /v1/schemas.
type SchemaList struct {
	Envelope string        `json:"envelope"` // the path of the envelope's schema
	Types    []TypeSchemas `json:"types"`
}

// TypeSchemas are the schemas of one event type.
type TypeSchemas struct {
	Type           string `json:"type"`
	CurrentVersion int    `json:"current_version"`
	Versions       []int  `json:"versions"` // every version with a schema, ascending
	Schema         string `json:"schema"`   // the path of the current version's schema
}

// schemaPath is where the schema of eventType at version is served.
func schemaPath(eventType string, version int) string {
	return "/v1/schemas/" + eventType + "/" + strconv.Itoa(version)
}

// schemaList answers every event type with its schema versions.
func (a *API) schemaList(w http.ResponseWriter, r *http.Request) error {
	out := SchemaList{Envelope: "/v1/schemas/envelope", Types: []TypeSchemas{}}
	for _, typ := range events.Types() {
		cur := events.SchemaVersion(typ)
		out.Types = append(out.Types, TypeSchemas{Type: typ, CurrentVersion: cur, Versions: events.SchemaVersions(typ),
			Schema: schemaPath(typ, cur)})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// envelopeSchema answers the JSON Schema of the envelope.
func (a *API) envelopeSchema(w http.ResponseWriter, r *http.Request) error {
	writeSchema(w, events.EnvelopeSchema())
	return nil
}

// typeSchema answers the JSON Schema of an event type's data at a version.
func (a *API) typeSchema(w http.ResponseWriter, r *http.Request) error {
	typ, v := r.PathValue("type"), r.PathValue("version")
	versions := events.SchemaVersions(typ)
	if len(versions) == 0 {
		return commands.Reject(commands.CodeNotFound, "no event type %q; GET /v1/schemas lists them", typ).With("type", typ)
	}
	version, err := strconv.Atoi(v)
	if err != nil || strconv.Itoa(version) != v {
		return commands.Reject(commands.CodeNotFound, "%q is not a schema version: want a whole number, e.g. %s",
			v, schemaPath(typ, events.SchemaVersion(typ))).With("type", typ).With("versions", versions)
	}
	raw, ok := events.SchemaFile(typ, version)
	if !ok {
		return commands.Reject(commands.CodeNotFound, "event type %q has no schema version %d; its versions are %v",
			typ, version, versions).With("type", typ).With("versions", versions)
	}
	writeSchema(w, raw)
	return nil
}

// writeSchema answers a JSON Schema file as it is embedded.
func writeSchema(w http.ResponseWriter, raw []byte) {
	w.Header().Set("Content-Type", schemaMedia)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	w.Write(raw)
}
