package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/ledger"
)

// request is a decoded mutating request: its command metadata and its
// business time.
type request struct {
	meta ledger.Meta
	at   time.Time // the body's optional "at"; zero when absent
}

// atField is the optional business time every admin command accepts
// (docs/api.md); request bodies embed it.
type atField struct {
	At string `json:"at"`
}

func (f *atField) businessTime() (time.Time, error) { return parseTime("at", f.At) }

// readCommand reads the body (at most MaxBodyBytes) into v strictly and
// derives the command's metadata. An empty body is allowed when v's fields
// are all optional (emptyOK).
func readCommand(w http.ResponseWriter, r *http.Request, v any, emptyOK bool) (request, error) {
	body, err := readBody(w, r)
	if err != nil {
		return request{}, err
	}
	if len(bytes.TrimSpace(body)) == 0 && emptyOK {
		body = []byte("{}")
	}
	if err := decodeStrict(body, v); err != nil {
		return request{}, err
	}
	var req request
	if f, ok := v.(interface{ businessTime() (time.Time, error) }); ok {
		if req.at, err = f.businessTime(); err != nil {
			return request{}, err
		}
	}
	req.meta, err = commandMeta(r, body)
	return req, err
}

// readBody reads a request body of at most MaxBodyBytes.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, commands.Reject(commands.CodeBodyTooLarge, "the request body is larger than %d bytes", MaxBodyBytes).
				With("limit", MaxBodyBytes)
		}
		return nil, commands.Reject(commands.CodeMalformedJSON, "reading the request body: %v", err)
	}
	return body, nil
}

// decodeStrict decodes one JSON object into v (a pointer to a struct),
// rejecting unknown or differently-cased fields and trailing data with
// errors that name the field.
func decodeStrict(body []byte, v any) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return commands.Reject(commands.CodeMalformedJSON, "the body is empty; want a JSON object")
	}
	if trimmed[0] != '{' {
		return commands.Reject(commands.CodeMalformedJSON, "the body must be a JSON object")
	}
	// First the keys: encoding/json matches field names without regard to
	// case; the API does not. Every key must be a field name exactly.
	var keys map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if err := dec.Decode(&keys); err != nil {
		var syntaxErr *json.SyntaxError
		if errors.As(err, &syntaxErr) {
			return commands.Reject(commands.CodeMalformedJSON, "invalid JSON at byte %d: %v", syntaxErr.Offset, syntaxErr)
		}
		return commands.Reject(commands.CodeMalformedJSON, "the body is not a complete JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return commands.Reject(commands.CodeMalformedJSON, "trailing data after the JSON object")
	}
	known := fieldNames(reflect.TypeOf(v).Elem())
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if !known[k] {
			return commands.Invalid(k, "unknown field")
		}
	}
	// Then the values.
	if err := json.Unmarshal(trimmed, v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			field := typeErr.Field
			if i := strings.LastIndex(field, "."); i >= 0 {
				field = field[i+1:] // a path through an embedded struct names the field alone
			}
			return commands.Invalid(field, "want a JSON %s", jsonKind(typeErr.Type.Kind().String()))
		}
		return commands.Reject(commands.CodeMalformedJSON, "invalid JSON: %v", err)
	}
	return nil
}

// fieldNames lists the JSON names of a struct's fields, embedded ones
// included.
func fieldNames(t reflect.Type) map[string]bool {
	out := map[string]bool{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			for k := range fieldNames(f.Type) {
				out[k] = true
			}
			continue
		}
		if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != "" && name != "-" {
			out[name] = true
		}
	}
	return out
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "slice", "array":
		return "array"
	case "struct", "map":
		return "object"
	case "bool":
		return "boolean"
	}
	return "number"
}

// commandMeta derives a command's metadata from the request. The actor is
// the token that sent it (S3), never a value the client chose. With an
// Idempotency-Key the command id is a digest of the token, the method, the
// path and the key: the same key on the same endpoint from the same token
// is the same command, and one token can never replay another's answer.
func commandMeta(r *http.Request, body []byte) (ledger.Meta, error) {
	route := r.Method + " " + r.URL.Path
	sum := sha256.Sum256([]byte(route + "\n" + string(body)))
	p := principal(r)
	meta := ledger.Meta{
		CommandHash:   hex.EncodeToString(sum[:]),
		Actor:         p.Actor(),
		CorrelationID: r.Header.Get(HeaderCorrelationID),
		CausationID:   r.Header.Get(HeaderCausationID),
	}
	for name, v := range map[string]string{HeaderCorrelationID: meta.CorrelationID, HeaderCausationID: meta.CausationID} {
		if !printableASCII(v, 200) {
			return meta, commands.Invalid(name, "at most 200 printable ASCII characters")
		}
	}
	if key := r.Header.Get(HeaderIdempotencyKey); key != "" {
		if !printableASCII(key, 255) {
			return meta, commands.Invalid(HeaderIdempotencyKey, "at most 255 printable ASCII characters")
		}
		k := sha256.Sum256([]byte(p.ID + "\n" + route + "\n" + key))
		meta.CommandID = "idem-" + hex.EncodeToString(k[:16])
		meta.FromIdempotencyKey = true
	}
	return meta, nil
}

func printableASCII(s string, max int) bool {
	if len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// parseTime parses an optional RFC 3339 field; "" is the zero time.
func parseTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, commands.Invalid(field, "%q is not an RFC 3339 time (e.g. 2026-01-05T00:00:00Z)", s)
	}
	return commands.Instant(field, t)
}

func requiredTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, commands.Invalid(field, "a time is required (RFC 3339, e.g. 2026-01-05T00:00:00Z)")
	}
	return parseTime(field, s)
}
