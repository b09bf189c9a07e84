package api

import (
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// Issue 17, item 6: bodies that mean the same have one canonical form,
// whatever white space, member order, escapes or way of writing a number
// they use; bodies that mean something else have another.
func TestCanonicalJSON(t *testing.T) {
	same := [][]string{
		{`{"email":"x"}`, `{"email": "x"}`, " {\n\t\"email\" :\r\"x\" } ", `{"email":"\u0078"}`},
		{`{"a":1,"b":[true,false,null]}`, `{"b":[true, false, null],"a":1}`, `{ "b" : [ true , false , null ] , "a" : 1 }`},
		{`{"n":1}`, `{"n":1.0}`, `{"n":10e-1}`, `{"n":0.1E+1}`, `{"n":1.000e0}`},
		{`{"n":0}`, `{"n":-0}`, `{"n":0.0e5}`, `{"n":-0.000}`},
		{`{"n":1500}`, `{"n":15e2}`, `{"n":1.5E3}`},
		{`{"s":"é/<>&"}`, `{"s":"\u00e9\/\u003c\u003e\u0026"}`},
		{`{"s":"😀"}`, `{"s":"\ud83d\ude00"}`},
		{`{"s":"a\"b\\c\nd"}`, `{"s":"a\u0022b\u005cc\u000ad"}`},
		{`{"o":{"z":1,"y":{"b":2,"a":1}}}`, `{"o":{"y":{"a":1,"b":2},"z":1}}`},
	}
	for _, group := range same {
		want, err := canonicalJSON([]byte(group[0]))
		if err != nil {
			t.Fatalf("%s: %v", group[0], err)
		}
		for _, body := range group[1:] {
			if got, err := canonicalJSON([]byte(body)); err != nil || string(got) != string(want) {
				t.Errorf("%s: %s, %v; want %s, the form of %s", body, got, err, want, group[0])
			}
		}
	}
	different := []string{
		`{"email":"x"}`, `{"email":"X"}`, `{"email":"x "}`, `{"e-mail":"x"}`, `{"email":["x"]}`, `{}`,
		`{"n":1}`, `{"n":-1}`, `{"n":10}`, `{"n":1.1}`, `{"n":"1"}`, `{"n":true}`, `{"n":null}`,
		`{"n":9007199254740993}`, `{"n":9007199254740992}`, // one float64 apart: not one number
		`{"a":[1,2]}`, `{"a":[2,1]}`, `{"a":[1,2,null]}`,
		`{"a":1,"a":2}`, `{"a":2,"a":1}`,
	}
	seen := map[string]string{}
	for _, body := range different {
		c, err := canonicalJSON([]byte(body))
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		if other, ok := seen[string(c)]; ok {
			t.Errorf("%s and %s have one canonical form %s", body, other, c)
		}
		seen[string(c)] = body
	}
}

// A body in canonical form is its own canonical form, and the digest of a
// keyed request is the canonical body's: a client that sends canonical
// JSON gets the digest ledgers recorded before (SentHash is the same).
func TestCanonicalFormIsItsOwn(t *testing.T) {
	body := `{"a":[1,"x",{"b":null}],"email":"ada@acme.example","n":15e-1,"s":"\u0001\"\\"}`
	c, err := canonicalJSON([]byte(body))
	if err != nil || string(c) != body {
		t.Fatalf("canonical form of a canonical body: %s, %v", c, err)
	}
	req := httptest.NewRequest("POST", "/v1/accounts/acme/users", strings.NewReader(body))
	req.Header.Set(HeaderIdempotencyKey, "k1")
	meta, err := commandMeta(req, []byte(body))
	if err != nil || meta.CommandHash != meta.SentHash || meta.CommandHash != requestDigest("POST /v1/accounts/acme/users", []byte(body)) {
		t.Errorf("meta of a canonical body: %+v, %v", meta, err)
	}
	spaced := strings.ReplaceAll(body, ",", ", ")
	other, err := commandMeta(req, []byte(spaced))
	if err != nil || other.CommandHash != meta.CommandHash || other.SentHash == meta.SentHash {
		t.Errorf("meta of the body with spaces: %+v, %v; want the canonical body's digest and another sent one", other, err)
	}
}

// FuzzCanonicalJSON: the canonical form of any JSON value is valid JSON
// that decodes to the same value, and is its own canonical form.
func FuzzCanonicalJSON(f *testing.F) {
	for _, seed := range []string{`{"email":"x"}`, `{"b":[1, 2.50, -0e3],"a":{"c":"\ud83d\ude00\u0001"}}`,
		`[]`, `"s"`, `1e400`, `{"a":1,"a":2}`, `{"s":"\ud800\u0041"}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if !json.Valid(body) || !utf8.Valid(body) {
			return
		}
		c, err := canonicalJSON(body)
		if err != nil {
			t.Fatalf("%q: %v", body, err)
		}
		var want, got any
		if json.Unmarshal(body, &want) != nil {
			return // a number out of float64's range
		}
		if err := json.Unmarshal(c, &got); err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: canonical %q decodes to %v (%v), want %v", body, c, got, err, want)
		}
		if again, err := canonicalJSON(c); err != nil || string(again) != string(c) {
			t.Fatalf("%q: canonical %q is not its own canonical form: %q, %v", body, c, again, err)
		}
	})
}
