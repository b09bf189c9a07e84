package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

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

// readCommand reads a JSON body (readJSONBody) into v strictly and derives
// the command's metadata. An empty body is allowed when v's fields are all
// optional (emptyOK).
func readCommand(w http.ResponseWriter, r *http.Request, v any, emptyOK bool) (request, error) {
	body, err := readJSONBody(w, r, emptyOK)
	if err != nil {
		return request{}, err
	}
	if len(trimJSONSpace(body)) == 0 && emptyOK {
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
	if req.meta, err = commandMeta(r, body); err != nil {
		return request{}, err
	}
	return req, chargeBody(r, body, costCommands, 1)
}

// readJSONBody reads a request body declared Content-Type application/json
// (readBody). A request without a Content-Type may have no body at all, when
// the endpoint needs none (emptyOK); any other body, or any other media type
// (text/plain, a form: what a page on another site can send without asking),
// is 415 unsupported_media_type.
func readJSONBody(w http.ResponseWriter, r *http.Request, emptyOK bool) ([]byte, error) {
	declared := r.Header.Values("Content-Type")
	if len(declared) == 0 && emptyOK {
		body, err := readBody(w, r)
		if err == nil && len(trimJSONSpace(body)) > 0 {
			err = commands.Reject(commands.CodeUnsupportedMediaType,
				"the request has a body but no Content-Type; want Content-Type: application/json")
		}
		return body, err
	}
	if err := jsonMediaType(declared); err != nil {
		return nil, err
	}
	return readBody(w, r)
}

// jsonMediaType accepts the values of a request's Content-Type headers if
// they are one application/json, in any case, with parameters or without
// (a charset must be UTF-8, as JSON is).
func jsonMediaType(declared []string) error {
	if len(declared) != 1 {
		return commands.Reject(commands.CodeUnsupportedMediaType,
			"want one Content-Type: application/json, not %d", len(declared))
	}
	mediaType, params, err := mime.ParseMediaType(declared[0])
	if err != nil || mediaType != "application/json" {
		return commands.Reject(commands.CodeUnsupportedMediaType,
			"Content-Type %q is not accepted; want application/json", declared[0])
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return commands.Reject(commands.CodeUnsupportedMediaType,
			"Content-Type %q is not accepted: JSON is UTF-8; want application/json", declared[0])
	}
	return nil
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

// decodeStrict decodes one JSON object into v (a pointer to a struct). It
// rejects, with errors that name the field, what encoding/json would let
// through (checkShape: a repeated key, null, a differently-cased or unknown
// field), and, as malformed_json, invalid UTF-8 and trailing data.
func decodeStrict(body []byte, v any) error {
	trimmed := trimJSONSpace(body)
	if len(trimmed) == 0 {
		return commands.Reject(commands.CodeMalformedJSON, "the body is empty; want a JSON object")
	}
	if trimmed[0] != '{' {
		return commands.Reject(commands.CodeMalformedJSON, "the body must be a JSON object")
	}
	if err := checkSyntax(trimmed); err != nil {
		return err
	}
	plain, err := checkShape(trimmed, reflect.TypeOf(v).Elem())
	if err != nil {
		return err
	}
	if err := json.Unmarshal(plain, v); err != nil {
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

// trimJSONSpace drops the white space JSON allows around a value: space,
// tab, line feed and carriage return, and nothing else (bytes.TrimSpace
// would drop a form feed or a U+0085 too).
func trimJSONSpace(b []byte) []byte { return bytes.Trim(b, " \t\n\r") }

// checkSyntax accepts exactly one complete JSON value of valid UTF-8,
// whose \u escapes are valid UTF-16: encoding/json would read invalid UTF-8
// in a string, and a lone surrogate such as \ud800, as U+FFFD, so that two
// inputs would be one value.
func checkSyntax(body []byte) error {
	if !utf8.Valid(body) {
		return commands.Reject(commands.CodeMalformedJSON, "the body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var value json.RawMessage
	if err := dec.Decode(&value); err != nil {
		var syntaxErr *json.SyntaxError
		if errors.As(err, &syntaxErr) {
			return commands.Reject(commands.CodeMalformedJSON, "invalid JSON at byte %d: %v", syntaxErr.Offset, syntaxErr)
		}
		return commands.Reject(commands.CodeMalformedJSON, "the body is not a complete JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return commands.Reject(commands.CodeMalformedJSON, "trailing data after the JSON object")
	}
	return checkEscapes(body)
}

// checkEscapes refuses a \u escape of a surrogate that is not half of a
// pair, high then low, in body, one valid JSON value (so a backslash is in
// a string and starts a complete escape).
func checkEscapes(body []byte) error {
	for i := 0; i < len(body); i++ {
		if body[i] != '\\' {
			continue
		}
		if body[i+1] != 'u' {
			i++
			continue
		}
		r := hexRune(body[i+2 : i+6])
		switch {
		case 0xD800 <= r && r < 0xDC00:
			if i+12 > len(body) || body[i+6] != '\\' || body[i+7] != 'u' {
				return loneSurrogate(body[i : i+6])
			}
			if low := hexRune(body[i+8 : i+12]); low < 0xDC00 || low > 0xDFFF {
				return loneSurrogate(body[i : i+6])
			}
			i += 11
		case 0xDC00 <= r && r < 0xE000:
			return loneSurrogate(body[i : i+6])
		default:
			i += 5
		}
	}
	return nil
}

func hexRune(h []byte) rune {
	n, _ := strconv.ParseUint(string(h), 16, 32)
	return rune(n)
}

func loneSurrogate(esc []byte) error {
	return commands.Reject(commands.CodeMalformedJSON,
		"%s is half of a UTF-16 surrogate pair without its other half: it stands for no character", esc)
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
	case "interface":
		return "value"
	}
	return "number"
}

// commandMeta derives a command's metadata from the request, whose body is
// one valid JSON value. The actor is the token that sent it (S3), never a
// value the client chose. With an Idempotency-Key the command id is a
// digest of the token, the method, the path and the key: the same key on
// the same endpoint from the same token is the same command, and one token
// can never replay another's answer. Its request digest is then the
// digest of the body's canonical JSON (canonicalJSON), so a replay that
// means the same is the same request, however it is written; without a
// key, nothing compares the digest, and it is taken of the bytes as sent.
func commandMeta(r *http.Request, body []byte) (ledger.Meta, error) {
	route := r.Method + " " + r.URL.Path
	p := principal(r)
	meta := ledger.Meta{
		CommandHash:   requestDigest(route, body),
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
		canonical, err := canonicalJSON(body)
		if err != nil {
			return meta, commands.Reject(commands.CodeMalformedJSON, "the body is not one JSON value")
		}
		// The digest of the bytes as sent is what ledgers recorded before;
		// a record with it is this request too.
		meta.CommandHash, meta.SentHash = requestDigest(route, canonical), meta.CommandHash
	}
	return meta, nil
}

// requestDigest is the hex SHA-256 of a request: its method and path, and
// its body.
func requestDigest(route string, body []byte) string {
	h := sha256.New()
	h.Write([]byte(route + "\n"))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
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

// parseTime parses an optional RFC 3339 field (commands.ParseTime); "" is
// the zero time.
func parseTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return commands.ParseTime(field, s)
}

func requiredTime(field, s string) (time.Time, error) { return commands.ParseTime(field, s) }
