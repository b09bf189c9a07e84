package events

import (
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// ValidateJSON validates v, a document decoded by encoding/json into any,
// against schema, resolving local references ("$ref": "#/a/b") in root. It
// understands the subset of JSON Schema (draft 2020-12) that the event
// schemas and the API's OpenAPI document use: $ref, anyOf, type (one name
// or a list, "null" included), const, enum, required, properties,
// additionalProperties (false or a schema), items, minItems, minimum,
// maximum, minLength, maxLength, pattern, and format date-time and date.
// Other keywords (description, title, examples) are ignored.
func ValidateJSON(root, schema map[string]any, v any) error {
	return validator{root: root}.value(schema, v, "$")
}

// validator validates documents against schemas whose $refs point into root.
type validator struct {
	root map[string]any
}

var patternCache sync.Map // pattern → *regexp.Regexp

// value validates v at path against schema.
func (vd validator) value(schema map[string]any, v any, path string) error {
	if ref, ok := schema["$ref"].(string); ok {
		target, err := vd.resolve(ref)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		return vd.value(target, v, path)
	}
	if alts, ok := schema["anyOf"].([]any); ok {
		if err := vd.anyOf(alts, v, path); err != nil {
			return err
		}
	}
	if c, ok := schema["const"]; ok && !reflect.DeepEqual(c, v) {
		return fmt.Errorf("%s: want %v", path, c)
	}
	if enum, ok := schema["enum"].([]any); ok && !slices.ContainsFunc(enum, func(e any) bool { return reflect.DeepEqual(e, v) }) {
		return fmt.Errorf("%s: %v is not one of %v", path, v, enum)
	}
	types, err := typeNames(schema["type"], path)
	if err != nil || len(types) == 0 {
		return err
	}
	typ := jsonType(v)
	if typ == "integer" && !slices.Contains(types, "integer") {
		typ = "number"
	}
	if !slices.Contains(types, typ) {
		for _, t := range types {
			if !knownType(t) {
				return fmt.Errorf("%s: schema uses unsupported type %q", path, t)
			}
		}
		return fmt.Errorf("%s: want %s", path, article(strings.Join(types, " or ")))
	}
	switch typ {
	case "object":
		return vd.object(schema, v.(map[string]any), path)
	case "array":
		return vd.array(schema, v.([]any), path)
	case "string":
		return validateString(schema, v.(string), path)
	case "integer", "number":
		return validateNumber(schema, v.(float64), path)
	}
	return nil
}

// anyOf validates v against at least one of schemas.
func (vd validator) anyOf(schemas []any, v any, path string) error {
	var errs []string
	for _, s := range schemas {
		sub, ok := s.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: anyOf holds %v, not a schema", path, s)
		}
		err := vd.value(sub, v, path)
		if err == nil {
			return nil
		}
		errs = append(errs, err.Error())
	}
	return fmt.Errorf("%s: matches none of anyOf: %s", path, strings.Join(errs, "; "))
}

// resolve finds the schema a local reference ("#/components/schemas/X")
// points to in root.
func (vd validator) resolve(ref string) (map[string]any, error) {
	pointer, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil, fmt.Errorf("unsupported $ref %q: only local references (#/...) are", ref)
	}
	var cur any = vd.root
	for _, tok := range strings.Split(strings.TrimPrefix(pointer, "/"), "/") {
		if tok == "" {
			continue
		}
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("$ref %q does not resolve", ref)
		}
		if cur, ok = m[tok]; !ok {
			return nil, fmt.Errorf("$ref %q does not resolve", ref)
		}
	}
	s, ok := cur.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("$ref %q is not a schema", ref)
	}
	return s, nil
}

// typeNames reads a schema's type keyword: one name, or a list of them.
func typeNames(t any, path string) ([]string, error) {
	switch t := t.(type) {
	case nil:
		return nil, nil
	case string:
		return []string{t}, nil
	case []any:
		out := make([]string, len(t))
		for i, n := range t {
			s, ok := n.(string)
			if !ok {
				return nil, fmt.Errorf("%s: schema type list holds %v", path, n)
			}
			out[i] = s
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s: schema type %v is neither a name nor a list", path, t)
}

// jsonType is the JSON Schema type of a decoded value; a whole number is
// "integer".
func jsonType(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case float64:
		if v == math.Trunc(v) && !math.IsInf(v, 0) {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func knownType(t string) bool {
	switch t {
	case "null", "boolean", "string", "integer", "number", "array", "object":
		return true
	}
	return false
}

// article puts "a" or "an" before a type name, for messages.
func article(s string) string {
	if strings.ContainsRune("aeiou", rune(s[0])) {
		return "an " + s
	}
	return "a " + s
}

func (vd validator) array(schema map[string]any, arr []any, path string) error {
	if min, ok := schema["minItems"].(float64); ok && float64(len(arr)) < min {
		return fmt.Errorf("%s: want at least %v items", path, min)
	}
	if items, ok := schema["items"].(map[string]any); ok {
		for i, it := range arr {
			if err := vd.value(items, it, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (vd validator) object(schema, obj map[string]any, path string) error {
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
			switch ap := schema["additionalProperties"].(type) {
			case bool:
				if !ap {
					return fmt.Errorf("%s: property %q is not allowed", path, k)
				}
				continue
			case map[string]any:
				ps = ap
			default:
				continue
			}
		}
		if err := vd.value(ps, obj[k], path+"."+k); err != nil {
			return err
		}
	}
	return nil
}

func validateNumber(schema map[string]any, n float64, path string) error {
	if min, ok := schema["minimum"].(float64); ok && n < min {
		return fmt.Errorf("%s: %v is below the minimum %v", path, n, min)
	}
	if max, ok := schema["maximum"].(float64); ok && n > max {
		return fmt.Errorf("%s: %v is above the maximum %v", path, n, max)
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
	switch f, _ := schema["format"].(string); f {
	case "date-time":
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			return fmt.Errorf("%s: %q is not an RFC 3339 date-time", path, s)
		}
	case "date":
		if _, err := time.Parse(time.DateOnly, s); err != nil {
			return fmt.Errorf("%s: %q is not a date (YYYY-MM-DD)", path, s)
		}
	}
	return nil
}
