package api

import (
	"errors"
	"testing"
	"time"

	"github.com/entledger/ledger/commands"
)

// Issue 19: a lone UTF-16 surrogate is not a character, and is refused
// instead of being read as U+FFFD (two inputs, one value); a pair is the
// character it encodes.
func TestDecodeStrictRefusesLoneSurrogates(t *testing.T) {
	for _, body := range []string{`{"email":"\ud800"}`, `{"email":"a\udfffb"}`, `{"email":"\ud800\u0041"}`,
		`{"email":"\udc00\ud800"}`, `{"products":["x","\uD800"]}`, `{"inner":{"name":"\ud800"}}`} {
		var v shapeProbe
		err := decodeStrict([]byte(body), &v)
		var rej *commands.Error
		if !errors.As(err, &rej) || rej.Code != commands.CodeMalformedJSON {
			t.Errorf("%s: %v, want malformed_json", body, err)
		}
	}
	var v shapeProbe
	if err := decodeStrict([]byte(`{"email":"\ud83d\ude00 \\ud800 \u00e9"}`), &v); err != nil || v.Email != "😀 \\ud800 é" {
		t.Errorf("a surrogate pair and an escaped backslash: %q, %v", v.Email, err)
	}
}

// Issue 19: an integer field takes a JSON number by its value, whatever its
// spelling (1e2 is 100), and refuses one that is not whole, naming the
// field.
func TestDecodeStrictIntegersAsJSONDefinesThem(t *testing.T) {
	for body, want := range map[string]int{`{"seats":1e2}`: 100, `{"seats":100.0}`: 100, `{"seats":1E+2}`: 100,
		`{"seats":-2.5e1,"max":5}`: -25, `{"seats":12500e-2}`: 125, `{"seats":7}`: 7} {
		var v shapeProbe
		if err := decodeStrict([]byte(body), &v); err != nil || v.Seats != want {
			t.Errorf("%s: seats %d, %v; want %d", body, v.Seats, err, want)
		}
	}
	var v shapeProbe
	if err := decodeStrict([]byte(`{"max":2e0}`), &v); err != nil || v.Max == nil || *v.Max != 2 {
		t.Errorf("max 2e0: %v, %v", v.Max, err)
	}
	for _, body := range []string{`{"seats":1.5}`, `{"seats":1e-1}`, `{"seats":1e400}`, `{"seats":1e99999999999}`, `{"seats":1e30}`} {
		var v shapeProbe
		err := decodeStrict([]byte(body), &v)
		var rej *commands.Error
		if !errors.As(err, &rej) || rej.Code != commands.CodeInvalidArgument || rej.Details["field"] != "seats" {
			t.Errorf("%s: %v, want invalid_argument naming seats", body, err)
		}
	}
}

// Issue 19: RFC 3339 lets T and Z be lower case, and every client time is
// in the documented years [2000, 9000).
func TestParseTimeLowerCaseAndRange(t *testing.T) {
	for _, s := range []string{"2026-06-01t00:00:00z", "2026-06-01T00:00:00z", "2026-06-01t00:00:00.5+02:00"} {
		got, err := parseTime("at", s)
		if err != nil {
			t.Errorf("%s: %v", s, err)
			continue
		}
		if want, _ := time.Parse(time.RFC3339Nano, "2026-06-01T00:00:00Z"); s[19] != '.' && !got.Equal(want) {
			t.Errorf("%s: %v", s, got)
		}
	}
	for _, s := range []string{"0001-01-01T00:00:00Z", "1999-12-31T23:59:59Z", "9000-01-01T00:00:00Z", "2026-06-01x00:00:00z"} {
		if _, err := parseTime("at", s); err == nil {
			t.Errorf("%s accepted", s)
		}
	}
	for _, s := range []string{"1999-12-31", "0001-01-01", "9000-01-01", "1999-12-31T12:00:00Z"} {
		if _, err := summaryDay("from", s); err == nil {
			t.Errorf("summary day %s accepted", s)
		}
	}
	if d, err := summaryDay("from", "2026-06-01t10:00:00z"); err != nil || d != "2026-06-01" {
		t.Errorf("summary day of a lower-case time: %q, %v", d, err)
	}
}
