package api

import (
	"bytes"
	"encoding/json"
	"math/big"
	"reflect"
	"strconv"
	"strings"

	"github.com/entledger/ledger/commands"
)

// rawMessageType is the type of a value decoded later, by its own decoder.
var rawMessageType = reflect.TypeFor[json.RawMessage]()

// checkShape walks body, one syntactically valid JSON object, against the Go
// type t it is to be decoded into, and rejects what encoding/json would
// quietly let through, naming the field:
//   - a key that appears twice in one object, at any depth: encoding/json
//     keeps the last, so {"email": "a@x", "email": "b@x"} would be b@x;
//   - null: encoding/json leaves the field at its zero value, so
//     "offline": null would read as false;
//   - a key that is not a field's name exactly: encoding/json matches names
//     without regard to case;
//   - a value of the wrong JSON type;
//   - a number that is not a whole number, for an integer field.
//
// JSON defines a number by its value, not its spelling: 1e2 and 100.0 are
// 100. encoding/json reads only the plain spelling into an integer, so
// checkShape returns body with every whole number of an integer field
// spelled plainly, ready for json.Unmarshal.
//
// A value of type json.RawMessage is skipped whole: whoever decodes it later
// checks it the same way (the records of a usage batch, one by one).
func checkShape(body []byte, t reflect.Type) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	w := shapeWalker{dec: dec}
	if err := w.value(t, ""); err != nil {
		return nil, err
	}
	return w.respell(body), nil
}

// shapeWalker reads one JSON value at a time from a decoder of valid JSON.
type shapeWalker struct {
	dec     *json.Decoder
	respelt []respelling // whole numbers of integer fields not spelled plainly, in body order
}

// respelling is a number of the body, ending at end, to be written as plain.
type respelling struct {
	end          int64
	spelt, plain string
}

// respell returns body with the respellings made.
func (w *shapeWalker) respell(body []byte) []byte {
	if len(w.respelt) == 0 {
		return body
	}
	out := make([]byte, 0, len(body))
	last := 0
	for _, r := range w.respelt {
		start := int(r.end) - len(r.spelt)
		out = append(append(out, body[last:start]...), r.plain...)
		last = int(r.end)
	}
	return append(out, body[last:]...)
}

// integer checks a number token read for an integer field and notes its
// plain spelling if it needs one.
func (w *shapeWalker) integer(n json.Number, field string) error {
	spelt := string(n)
	if plainInteger(spelt) {
		return nil
	}
	_, exp, _ := strings.Cut(strings.ToLower(spelt), "e")
	if e, err := strconv.Atoi(strings.TrimPrefix(exp, "+")); exp != "" && (err != nil || e > 30 || e < -30) {
		return commands.Invalid(field, "%s is out of range for a whole number", spelt)
	}
	v, ok := new(big.Rat).SetString(spelt)
	if !ok || !v.IsInt() {
		return commands.Invalid(field, "%s is not a whole number", spelt)
	}
	w.respelt = append(w.respelt, respelling{end: w.dec.InputOffset(), spelt: spelt, plain: v.Num().String()})
	return nil
}

// plainInteger reports whether s is -?[0-9]+.
func plainInteger(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// value reads the next value, which field (a dotted path, "" at the top)
// decodes into a t.
func (w *shapeWalker) value(t reflect.Type, field string) error {
	if t == rawMessageType {
		var skip json.RawMessage
		return w.dec.Decode(&skip)
	}
	tok, err := w.dec.Token()
	if err != nil {
		return commands.Reject(commands.CodeMalformedJSON, "invalid JSON: %v", err)
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if tok == nil {
		return commands.Invalid(field, "null is not a value: give a JSON %s, or leave an optional field out",
			jsonKind(t.Kind().String()))
	}
	switch t.Kind() {
	case reflect.Struct:
		if tok != json.Delim('{') {
			return wrongType(field, t)
		}
		return w.object(fieldTypes(t), nil, field)
	case reflect.Map:
		if tok != json.Delim('{') {
			return wrongType(field, t)
		}
		return w.object(nil, t.Elem(), field)
	case reflect.Slice, reflect.Array:
		if tok != json.Delim('[') {
			return wrongType(field, t)
		}
		for w.dec.More() {
			if err := w.value(t.Elem(), field); err != nil {
				return err
			}
		}
		_, err := w.dec.Token() // ']'
		return err
	case reflect.Interface:
		return w.rest(tok, field)
	case reflect.String:
		if _, ok := tok.(string); !ok {
			return wrongType(field, t)
		}
	case reflect.Bool:
		if _, ok := tok.(bool); !ok {
			return wrongType(field, t)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := tok.(json.Number)
		if !ok {
			return wrongType(field, t)
		}
		return w.integer(n, field) // encoding/json then checks the range
	default: // other numbers; encoding/json then checks their range
		if _, ok := tok.(json.Number); !ok {
			return wrongType(field, t)
		}
	}
	return nil
}

// object reads an object's members up to its closing brace, its opening
// one read. A struct's object has fields (its members' types by name); a
// map's has any keys, each value an elem.
func (w *shapeWalker) object(fields map[string]reflect.Type, elem reflect.Type, field string) error {
	seen := map[string]bool{}
	for w.dec.More() {
		tok, err := w.dec.Token()
		if err != nil {
			return commands.Reject(commands.CodeMalformedJSON, "invalid JSON: %v", err)
		}
		key := tok.(string) // valid JSON: a member starts with its key
		name := key
		if field != "" {
			name = field + "." + key
		}
		t := elem
		if fields != nil {
			var known bool
			if t, known = fields[key]; !known {
				return commands.Invalid(name, "unknown field")
			}
		}
		if seen[key] {
			return commands.Invalid(name, "the field is given twice; give it once")
		}
		seen[key] = true
		if err := w.value(t, name); err != nil {
			return err
		}
	}
	_, err := w.dec.Token() // '}'
	return err
}

// rest checks the remainder of a value decoded into an interface, whose
// first token is tok: any shape, but no null and no repeated key.
func (w *shapeWalker) rest(tok json.Token, field string) error {
	switch tok {
	case json.Delim('{'):
		return w.object(nil, reflect.TypeFor[any](), field)
	case json.Delim('['):
		for w.dec.More() {
			if err := w.value(reflect.TypeFor[any](), field); err != nil {
				return err
			}
		}
		_, err := w.dec.Token() // ']'
		return err
	}
	return nil
}

func wrongType(field string, t reflect.Type) error {
	return commands.Invalid(field, "want a JSON %s", jsonKind(t.Kind().String()))
}

// fieldTypes maps the JSON names of a struct's fields, embedded ones
// included, to their types.
func fieldTypes(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			for k, ft := range fieldTypes(f.Type) {
				out[k] = ft
			}
			continue
		}
		if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != "" && name != "-" {
			out[name] = f.Type
		}
	}
	return out
}
