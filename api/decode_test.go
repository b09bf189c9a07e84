package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/entledger/ledger/commands"
)

// shapeProbe is a request body with every shape the API's bodies have, and
// nesting they do not have yet.
type shapeProbe struct {
	Email    string   `json:"email"`
	Offline  bool     `json:"offline"`
	Seats    int      `json:"seats"`
	Max      *int     `json:"max"`
	Products []string `json:"products"`
	Inner    struct {
		Name string `json:"name"`
	} `json:"inner"`
	Items []struct {
		ID string `json:"id"`
	} `json:"items"`
	atField
}

// withRaw holds a value its own decoder checks later, as a usage batch's
// records are.
type withRaw struct {
	Records []json.RawMessage `json:"records"`
}

// Item 8 (lenient input): a repeated key at any depth and null are refused,
// naming the field, where encoding/json would keep the last value or the
// zero value.
func TestDecodeStrictRefusesRepeatsAndNull(t *testing.T) {
	for _, tc := range []struct {
		body, code, field string
	}{
		{`{"email":"a@x.example","email":"evil@x.example"}`, commands.CodeInvalidArgument, "email"},
		{`{"email":"a@x.example","\u0065mail":"evil@x.example"}`, commands.CodeInvalidArgument, "email"},
		{`{"at":"2026-01-05T00:00:00Z","email":"a@x.example","at":"2026-01-06T00:00:00Z"}`, commands.CodeInvalidArgument, "at"},
		{`{"inner":{"name":"a","name":"b"}}`, commands.CodeInvalidArgument, "inner.name"},
		{`{"items":[{"id":"a"},{"id":"b","id":"c"}]}`, commands.CodeInvalidArgument, "items.id"},
		{`{"offline":null}`, commands.CodeInvalidArgument, "offline"},
		{`{"email":null}`, commands.CodeInvalidArgument, "email"},
		{`{"max":null}`, commands.CodeInvalidArgument, "max"},
		{`{"at":null}`, commands.CodeInvalidArgument, "at"},
		{`{"products":null}`, commands.CodeInvalidArgument, "products"},
		{`{"products":["revit",null]}`, commands.CodeInvalidArgument, "products"},
		{`{"inner":null}`, commands.CodeInvalidArgument, "inner"},
		{`{"inner":{"name":null}}`, commands.CodeInvalidArgument, "inner.name"},
		{`{"Email":"a@x.example"}`, commands.CodeInvalidArgument, "Email"},
		{`{"inner":{"NAME":"a"}}`, commands.CodeInvalidArgument, "inner.NAME"},
		{`{"items":[{"id":"a","colour":"red"}]}`, commands.CodeInvalidArgument, "items.colour"},
		{`{"email":42}`, commands.CodeInvalidArgument, "email"},
		{`{"offline":"false"}`, commands.CodeInvalidArgument, "offline"},
		{`{"seats":"2"}`, commands.CodeInvalidArgument, "seats"},
		{`{"seats":1.5}`, commands.CodeInvalidArgument, "seats"},
		{`{"inner":[]}`, commands.CodeInvalidArgument, "inner"},
		{`{"products":{"a":1}}`, commands.CodeInvalidArgument, "products"},
		{"{\"email\":\"a\xffb@x.example\"}", commands.CodeMalformedJSON, ""},
		{`{"email":"a@x.example"`, commands.CodeMalformedJSON, ""},
		{`{"email":"a@x.example"} {}`, commands.CodeMalformedJSON, ""},
		{`null`, commands.CodeMalformedJSON, ""},
	} {
		var v shapeProbe
		err := decodeStrict([]byte(tc.body), &v)
		var rej *commands.Error
		if !errors.As(err, &rej) || rej.Code != tc.code {
			t.Errorf("%s: %v, want %s", tc.body, err, tc.code)
			continue
		}
		if got, _ := rej.Details["field"].(string); got != tc.field {
			t.Errorf("%s: names the field %q, want %q (%v)", tc.body, got, tc.field, err)
		}
	}
}

// What is left: every field once, none null, decodes as encoding/json
// decodes it; and a value decoded later is left to its own decoder.
func TestDecodeStrictAcceptsPlainBodies(t *testing.T) {
	body := `{"email":"a@x.example","offline":true,"seats":2,"max":0,"products":["revit"],
		"inner":{"name":"n"},"items":[{"id":"1"},{"id":"2"}],"at":"2026-01-05T00:00:00Z"}`
	var got, want shapeProbe
	if err := decodeStrict([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(body), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	var raw withRaw
	if err := decodeStrict([]byte(`{"records":[{"k":1,"k":2},null,3]}`), &raw); err != nil || len(raw.Records) != 3 {
		t.Errorf("records decoded later: %v, %d records; want them left whole", err, len(raw.Records))
	}
	if err := decodeStrict([]byte(`{"records":[],"records":[]}`), &raw); commands.CodeOf(err) != commands.CodeInvalidArgument {
		t.Errorf("a repeated key around raw values: %v, want invalid_argument", err)
	}
}

// S2 and item 8: a body must be declared application/json; only a request
// with no body at all may leave out the Content-Type, where the endpoint
// needs no body.
func TestReadJSONBodyContentType(t *testing.T) {
	for _, tc := range []struct {
		name        string
		contentType []string // nil: no header
		body        string
		emptyOK     bool
		want        string // the code, "" for accepted
	}{
		{"json", []string{"application/json"}, `{}`, false, ""},
		{"json with charset", []string{"application/json; charset=utf-8"}, `{}`, false, ""},
		{"json in capitals", []string{"Application/JSON; Charset=UTF-8"}, `{}`, false, ""},
		{"json, empty body allowed", []string{"application/json"}, ``, true, ""},
		{"no header, no body", nil, ``, true, ""},
		{"no header, no body, body required", nil, ``, false, commands.CodeUnsupportedMediaType},
		{"no header, a body", nil, `{}`, true, commands.CodeUnsupportedMediaType},
		{"no header, a body required", nil, `{}`, false, commands.CodeUnsupportedMediaType},
		{"text/plain", []string{"text/plain"}, `{}`, false, commands.CodeUnsupportedMediaType},
		{"text/plain, empty body", []string{"text/plain"}, ``, true, commands.CodeUnsupportedMediaType},
		{"form", []string{"application/x-www-form-urlencoded"}, `{}`, true, commands.CodeUnsupportedMediaType},
		{"multipart", []string{"multipart/form-data; boundary=x"}, `{}`, false, commands.CodeUnsupportedMediaType},
		{"empty header", []string{""}, `{}`, true, commands.CodeUnsupportedMediaType},
		{"json suffix", []string{"application/problem+json"}, `{}`, false, commands.CodeUnsupportedMediaType},
		{"json prefix", []string{"application/jsonx"}, `{}`, false, commands.CodeUnsupportedMediaType},
		{"latin-1", []string{"application/json; charset=iso-8859-1"}, `{}`, false, commands.CodeUnsupportedMediaType},
		{"two headers", []string{"application/json", "text/plain"}, `{}`, false, commands.CodeUnsupportedMediaType},
		{"malformed", []string{"application/json; ="}, `{}`, false, commands.CodeUnsupportedMediaType},
	} {
		r := httptest.NewRequest(http.MethodPost, "/v1/accounts/acme/licenses/P1/unassign", strings.NewReader(tc.body))
		for _, ct := range tc.contentType {
			r.Header.Add("Content-Type", ct)
		}
		_, err := readJSONBody(httptest.NewRecorder(), r, tc.emptyOK)
		if got := commands.CodeOf(err); got != tc.want || (err != nil && got == "") {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// repeatsOrNulls reports, the plain way and without types, whether a JSON
// document holds a key twice in one object, or a null anywhere: the oracle
// of FuzzDecodeStrict.
func repeatsOrNulls(body []byte) bool {
	type frame struct {
		keys    map[string]bool // nil for an array
		wantKey bool
	}
	var stack []*frame
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].keys != nil {
			stack[n-1].wantKey = true
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		if n := len(stack); n > 0 && stack[n-1].wantKey {
			if tok == json.Delim('}') {
				stack = stack[:n-1]
				valueDone()
				continue
			}
			key := tok.(string)
			if stack[n-1].keys[key] {
				return true
			}
			stack[n-1].keys[key], stack[n-1].wantKey = true, false
			continue
		}
		switch tok {
		case nil:
			return true
		case json.Delim('{'):
			stack = append(stack, &frame{keys: map[string]bool{}, wantKey: true})
		case json.Delim('['):
			stack = append(stack, &frame{})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
			valueDone()
		default:
			valueDone()
		}
	}
}

var decodeStrictSeeds = []string{
	`{"email":"a@x.example","offline":true,"seats":2,"max":0,"products":["revit"],"inner":{"name":"n"},"items":[{"id":"1"}],"at":""}`,
	`{"email":"a@x.example","email":"b@x.example"}`,
	`{"items":[{"id":"a"},{"id":"b","id":"c"}]}`,
	`{"offline":null}`,
	`{"products":["a",null]}`,
	`{"inner":{"name":"a"},"inner":{"name":"b"}}`,
	`{"\u0065mail":"a","email":"b"}`,
	`{}`,
	` {"seats" : 1e2 } `,
	`{"seats":1.5}`,
	`{"seats":100.0,"max":-2E+1}`,
	`{"email":"\ud800"}`,
	`{"email":"\ud83d\ude00"}`,
	`{"email":"\udc00\ud800"}`,
}

// FuzzDecodeStrict (item 8): whatever decodeStrict accepts holds no
// repeated key and no null (by the plain oracle) and decodes as
// encoding/json decodes it; the same body with any of its keys given twice,
// or with any of its values null, is refused naming that key; and every
// refusal is a rejection with a code, naming the field when it is
// invalid_argument.
func FuzzDecodeStrict(f *testing.F) {
	for _, s := range append(decodeStrictSeeds, usageBodySeeds...) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var got shapeProbe
		err := decodeStrict(body, &got)
		if err != nil {
			var rej *commands.Error
			switch {
			case !errors.As(err, &rej):
				t.Fatalf("%q: %v is not a rejection", body, err)
			case rej.Code == commands.CodeInvalidArgument && rej.Details["field"] == nil:
				t.Fatalf("%q: %v names no field", body, err)
			case rej.Code != commands.CodeInvalidArgument && rej.Code != commands.CodeMalformedJSON:
				t.Fatalf("%q: code %s", body, rej.Code)
			}
			return
		}
		if repeatsOrNulls(body) {
			t.Fatalf("%q: accepted, but it repeats a key or holds a null", body)
		}
		var want shapeProbe
		if err := json.Unmarshal(plainIntegers(t, body), &want); err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: decoded %+v; encoding/json: %+v, %v", body, got, want, err)
		}
		var members map[string]json.RawMessage
		if err := json.Unmarshal(body, &members); err != nil {
			t.Fatal(err)
		}
		rest := trimJSONSpace(body)[1:] // after the object's '{'
		for _, key := range sortedKeys(members) {
			name, _ := json.Marshal(key)
			twice := append(append(append([]byte("{"), name...), ':'), members[key]...)
			twice = append(append(twice, ','), rest...)
			wantRefused(t, twice, key)

			withNull := map[string]json.RawMessage{}
			for k, v := range members {
				withNull[k] = v
			}
			withNull[key] = json.RawMessage("null")
			nulled, _ := json.Marshal(withNull)
			wantRefused(t, nulled, key)
		}
	})
}

func wantRefused(t *testing.T, body []byte, field string) {
	t.Helper()
	var v shapeProbe
	err := decodeStrict(body, &v)
	var rej *commands.Error
	if !errors.As(err, &rej) || rej.Code != commands.CodeInvalidArgument || rej.Details["field"] != field {
		t.Fatalf("%q: %v, want invalid_argument naming %q", body, err, field)
	}
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// plainIntegers is body with the integer fields of shapeProbe (seats, max)
// spelled as encoding/json reads them, the plain way: 1e2 as 100.
func plainIntegers(t *testing.T, body []byte) []byte {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var members map[string]any
	if err := dec.Decode(&members); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"seats", "max"} {
		if n, ok := members[k].(json.Number); ok {
			if v, ok := new(big.Rat).SetString(string(n)); ok && v.IsInt() {
				members[k] = json.Number(v.Num().String())
			}
		}
	}
	out, err := json.Marshal(members)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
