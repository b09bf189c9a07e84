package ledger_test

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/entledger/ledger/server"
)

// End-to-end tests of the rules of docs/rules.md (A, B, C and H4) through the
// HTTP API of a real server. Each test names the rules it proves.

const (
	e2eAcme = "/v1/accounts/acme"
	e2eP1   = e2eAcme + "/licenses/P1"
)

// The practitioner licence's timers (C2), written out rather than taken from
// package commands: the test states the rule.
const (
	e2eWindow = 24 * time.Hour
	e2eLock   = 24*time.Hour + 30*24*time.Hour
)

// e2eTS is t as the API writes times: RFC 3339 in UTC.
func e2eTS(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// e2eJSON is v as the generic JSON value the harness decodes bodies into.
func e2eJSON(tb testing.TB, v any) any {
	tb.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(raw, &out); err != nil {
		tb.Fatal(err)
	}
	return out
}

// e2eFields checks body[k] == want[k] for every key of want (nil: null).
func e2eFields(tb testing.TB, what string, body map[string]any, want map[string]any) {
	tb.Helper()
	for k, w := range want {
		got, ok := body[k]
		if !ok {
			tb.Errorf("%s: no field %q in %v", what, k, body)
			continue
		}
		if w := e2eJSON(tb, w); !reflect.DeepEqual(got, w) {
			tb.Errorf("%s: %s got %v, want %v", what, k, got, w)
		}
	}
}

// e2eTimers checks a licence's window and lock (C2, C8).
func e2eTimers(tb testing.TB, what string, lic map[string]any, opened time.Time) {
	tb.Helper()
	e2eFields(tb, what, lic, map[string]any{
		"window_opened_at": e2eTS(opened),
		"window_closes_at": e2eTS(opened.Add(e2eWindow)),
		"locked_until":     e2eTS(opened.Add(e2eLock)),
	})
}

// e2eErrorShape checks the error contract of docs/api.md: exactly
// {"error": {"code", "message", "details"?}} with a non-empty code and message.
func e2eErrorShape(tb testing.TB, what string, r response) {
	tb.Helper()
	var doc map[string]any
	if err := json.Unmarshal(r.Raw, &doc); err != nil {
		tb.Errorf("%s: error body is not a JSON object: %q", what, r.Raw)
		return
	}
	e, ok := doc["error"].(map[string]any)
	if len(doc) != 1 || !ok {
		tb.Errorf("%s: error body got %s, want {\"error\": {...}} only", what, r.Raw)
		return
	}
	for k, v := range e {
		switch k {
		case "code", "message":
			if s, ok := v.(string); !ok || s == "" {
				tb.Errorf("%s: error.%s got %v, want a non-empty string", what, k, v)
			}
		case "details":
			if _, ok := v.(map[string]any); !ok {
				tb.Errorf("%s: error.details got %v, want an object", what, v)
			}
		default:
			tb.Errorf("%s: unexpected error field %q in %s", what, k, r.Raw)
		}
	}
	for _, k := range []string{"code", "message"} {
		if _, ok := e[k]; !ok {
			tb.Errorf("%s: error has no %s: %s", what, k, r.Raw)
		}
	}
}

// e2eReject sends a request that must be rejected with status and code, and
// checks the error's shape and that the stream did not grow.
func e2eReject(tl *testLedger, status int, code, method, path string, body any, headers ...string) response {
	tl.tb.Helper()
	before := len(tl.streamEvents())
	r := tl.do(method, path, body, headers...)
	what := method + " " + path
	if r.Status != status || r.code() != code {
		tl.tb.Errorf("%s: got %d %q, want %d %q: %s", what, r.Status, r.code(), status, code, r.Raw)
	}
	e2eErrorShape(tl.tb, what, r)
	if after := len(tl.streamEvents()); after != before {
		tl.tb.Errorf("%s: rejected with %q but the stream grew from %d to %d events", what, r.code(), before, after)
	}
	return r
}

// e2eDetail checks one detail of an error response.
func e2eDetail(tb testing.TB, r response, key string, want any) {
	tb.Helper()
	if got, w := r.details()[key], e2eJSON(tb, want); !reflect.DeepEqual(got, w) {
		tb.Errorf("error details %s got %v, want %v (%s)", key, got, w, r.Raw)
	}
}

// e2eHistory returns the events of a history endpoint (H4).
func e2eHistory(tl *testLedger, path string) []map[string]any {
	tl.tb.Helper()
	r := tl.must(200, "GET", path, nil)
	raw, ok := r.Body["events"].([]any)
	if !ok {
		tl.tb.Fatalf("GET %s: no events array: %s", path, r.Raw)
	}
	out := make([]map[string]any, len(raw))
	for i, e := range raw {
		if out[i], ok = e.(map[string]any); !ok {
			tl.tb.Fatalf("GET %s: event %d is not an object: %v", path, i, e)
		}
	}
	return out
}

func e2eTypes(evs []map[string]any) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i], _ = e["type"].(string)
	}
	return out
}

func e2eData(tb testing.TB, e map[string]any) map[string]any {
	tb.Helper()
	d, ok := e["data"].(map[string]any)
	if !ok {
		tb.Fatalf("event without data object: %v", e)
	}
	return d
}

// e2eReminders returns the account's reminders by licence id (C7).
func e2eReminders(tl *testLedger, account string) map[string]map[string]any {
	tl.tb.Helper()
	r := tl.must(200, "GET", "/v1/accounts/"+account+"/reminders", nil)
	list, ok := r.Body["unassigned"].([]any)
	if !ok {
		tl.tb.Fatalf("reminders: no unassigned array: %s", r.Raw)
	}
	out := map[string]map[string]any{}
	for _, x := range list {
		m, _ := x.(map[string]any)
		id, _ := m["license_id"].(string)
		out[id] = m
	}
	return out
}

// e2eStreamLen is the number of messages in the stream.
func e2eStreamLen(tb testing.TB, srv *server.Server) uint64 {
	tb.Helper()
	info, err := srv.Conn().Stream.Info(context.Background())
	if err != nil {
		tb.Fatalf("stream info: %v", err)
	}
	return info.State.Msgs
}

func e2eAssign(email string, at ...time.Time) map[string]any {
	b := map[string]any{"email": email}
	if len(at) > 0 {
		b["at"] = e2eTS(at[0])
	}
	return b
}

func e2eAt(at time.Time) map[string]any { return map[string]any{"at": e2eTS(at)} }

func e2eLicense(id, kind string, seats int, from, until time.Time, products ...string) map[string]any {
	b := map[string]any{"id": id, "kind": kind, "products": products,
		"valid_from": e2eTS(from), "valid_until": e2eTS(until)}
	if seats != 0 {
		b["seats"] = seats
	}
	return b
}
