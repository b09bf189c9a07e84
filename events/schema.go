package events

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"sync"
	"time"
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
// schema of its type and version. It understands the subset of JSON Schema
// (draft 2020-12) the files use: type, const, enum, required, properties,
// additionalProperties false, items, minItems, minimum, minLength, maxLength,
// pattern, and format date-time.
func CheckSchema(raw []byte) error {
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("%w: %w", ErrSchema, err)
	}
	env, err := loadSchema("envelope.json")
	if err != nil {
		return err
	}
	if err := validateValue(env, doc, "$"); err != nil {
		return fmt.Errorf("%w: %w", ErrSchema, err)
	}
	version, _ := doc["schemaversion"].(float64)
	name := fmt.Sprintf("%s.v%d.json", doc["type"], int(version))
	data, err := loadSchema(name)
	if err != nil {
		return err
	}
	if err := validateValue(data, doc["data"], "$.data"); err != nil {
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

var patternCache sync.Map // pattern → *regexp.Regexp

func validateValue(schema map[string]any, v any, path string) error {
	if c, ok := schema["const"]; ok && !reflect.DeepEqual(c, v) {
		return fmt.Errorf("%s: want %v", path, c)
	}
	if enum, ok := schema["enum"].([]any); ok && !slices.ContainsFunc(enum, func(e any) bool { return reflect.DeepEqual(e, v) }) {
		return fmt.Errorf("%s: %v is not one of %v", path, v, enum)
	}
	typ, _ := schema["type"].(string)
	switch typ {
	case "":
	case "object":
		obj, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: want an object", path)
		}
		return validateObject(schema, obj, path)
	case "array":
		arr, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s: want an array", path)
		}
		if min, ok := schema["minItems"].(float64); ok && float64(len(arr)) < min {
			return fmt.Errorf("%s: want at least %v items", path, min)
		}
		if items, ok := schema["items"].(map[string]any); ok {
			for i, it := range arr {
				if err := validateValue(items, it, fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
		}
	case "string":
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("%s: want a string", path)
		}
		return validateString(schema, s, path)
	case "integer", "number":
		n, ok := v.(float64)
		if !ok || typ == "integer" && n != math.Trunc(n) {
			return fmt.Errorf("%s: want an %s", path, typ)
		}
		if min, ok := schema["minimum"].(float64); ok && n < min {
			return fmt.Errorf("%s: %v is below the minimum %v", path, n, min)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%s: want a boolean", path)
		}
	default:
		return fmt.Errorf("%s: schema uses unsupported type %q", path, typ)
	}
	return nil
}

func validateObject(schema, obj map[string]any, path string) error {
	props, _ := schema["properties"].(map[string]any)
	if req, ok := schema["required"].([]any); ok {
		for _, r := range req {
			if _, ok := obj[r.(string)]; !ok {
				return fmt.Errorf("%s: %q is required", path, r)
			}
		}
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ps, ok := props[k].(map[string]any)
		if !ok {
			if ap, ok := schema["additionalProperties"].(bool); ok && !ap {
				return fmt.Errorf("%s: property %q is not allowed", path, k)
			}
			continue
		}
		if err := validateValue(ps, obj[k], path+"."+k); err != nil {
			return err
		}
	}
	return nil
}

func validateString(schema map[string]any, s, path string) error {
	if min, ok := schema["minLength"].(float64); ok && float64(len([]rune(s))) < min {
		return fmt.Errorf("%s: shorter than %v", path, min)
	}
	if max, ok := schema["maxLength"].(float64); ok && float64(len([]rune(s))) > max {
		return fmt.Errorf("%s: longer than %v", path, max)
	}
	if p, ok := schema["pattern"].(string); ok {
		re, ok := patternCache.Load(p)
		if !ok {
			c, err := regexp.Compile(p)
			if err != nil {
				return fmt.Errorf("%s: bad pattern %q: %w", path, p, err)
			}
			re, _ = patternCache.LoadOrStore(p, c)
		}
		if !re.(*regexp.Regexp).MatchString(s) {
			return fmt.Errorf("%s: %q does not match %s", path, s, p)
		}
	}
	if f, _ := schema["format"].(string); f == "date-time" {
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			return fmt.Errorf("%s: %q is not an RFC 3339 date-time", path, s)
		}
	}
	return nil
}
