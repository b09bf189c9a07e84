package events

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
)

// Schemas holds the JSON Schema of the envelope (envelope.json) and of every
// event type's data at every schema version (<type>.v<version>.json). They
// are the contract for subscribers who do not use this package.
//
//go:embed schemas/*.json
var Schemas embed.FS

// ErrSchema is returned by CheckSchema for a document its schema rejects.
var ErrSchema = errors.New("events: schema violation")

// CheckSchema validates an encoded event against the envelope schema and the
// schema of its type and version, with the subset of JSON Schema (draft
// 2020-12) that ValidateJSON understands.
func CheckSchema(raw []byte) error {
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("%w: %w", ErrSchema, err)
	}
	env, err := loadSchema("envelope.json")
	if err != nil {
		return err
	}
	if err := (validator{root: env}).value(env, doc, "$"); err != nil {
		return fmt.Errorf("%w: %w", ErrSchema, err)
	}
	version, _ := doc["schemaversion"].(float64)
	name := fmt.Sprintf("%s.v%d.json", doc["type"], int(version))
	data, err := loadSchema(name)
	if err != nil {
		return err
	}
	if err := (validator{root: data}).value(data, doc["data"], "$.data"); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrSchema, name, err)
	}
	return nil
}

var schemaCache sync.Map // file name → map[string]any

func loadSchema(name string) (map[string]any, error) {
	if s, ok := schemaCache.Load(name); ok {
		return s.(map[string]any), nil
	}
	b, err := Schemas.ReadFile("schemas/" + name)
	if err != nil {
		return nil, fmt.Errorf("%w: no schema %s", ErrSchema, name)
	}
	var s map[string]any
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("events: schema %s: %w", name, err)
	}
	schemaCache.Store(name, s)
	return s, nil
}

// EnvelopeSchema is the JSON Schema of the envelope, as embedded.
func EnvelopeSchema() []byte {
	b, err := Schemas.ReadFile("schemas/envelope.json")
	if err != nil {
		panic("events: the envelope schema is not embedded: " + err.Error())
	}
	return b
}

// SchemaFile is the JSON Schema of the data of eventType at version, as
// embedded, and whether there is one. Every version a ledger still reads
// has one, the current version included.
func SchemaFile(eventType string, version int) ([]byte, bool) {
	if SchemaVersion(eventType) == 0 || version < 1 {
		return nil, false
	}
	b, err := Schemas.ReadFile(fmt.Sprintf("schemas/%s.v%d.json", eventType, version))
	return b, err == nil
}

// SchemaVersions lists, in ascending order, the schema versions of
// eventType that have a schema file: nil for an unknown type.
func SchemaVersions(eventType string) []int {
	var out []int
	for v := 1; v <= SchemaVersion(eventType); v++ {
		if _, ok := SchemaFile(eventType, v); ok {
			out = append(out, v)
		}
	}
	return out
}
