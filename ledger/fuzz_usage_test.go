package ledger_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

// FuzzUsageBody sends arbitrary bodies to POST .../usage (F1-F5): the
// answer is never a 5xx, always a JSON object, an error names a code, a
// rejected batch appends nothing, and an accepted one appends at most one
// event per record.
func FuzzUsageBody(f *testing.F) {
	tl := startLedger(f, "", newClock(time.Date(2026, 1, 20, 0, 0, 0, 0, time.UTC)))
	tl.setup()
	base, token, srv := tl.base, tl.token, tl.srv
	for _, seed := range []string{
		`{"records":[{"usage_id":"u1","email":"a@x.example","product":"microstation","machine_id":"m1","client_version":"10.00.18","started_at":"2026-01-19T09:00:00Z","ended_at":"2026-01-19T10:00:00Z","offline":false}]}`,
		`{"records":[{"usage_id":"u1","email":"a@x.example","product":"microstation","machine_id":"m2","client_version":"10.00.18","started_at":"2026-01-19T09:00:00Z","ended_at":"2026-01-19T10:00:00Z","offline":false}]}`,
		`{"records":[{"usage_id":"u2","email":"nobody@x.example","product":"microstation","machine_id":"m1","client_version":"1","started_at":"2025-01-19T09:00:00Z","ended_at":"2026-01-19T10:00:00Z","offline":true}]}`,
		`{"records":[]}`, `{"records":[1,"x",null]}`, `{"records":null}`, `{}`, `[]`, `{"records":[{"EMAIL":"a@x.example"}]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		before := e2eStreamLen(t, srv)
		status, raw := e2eSend(t, base, token, "POST", e2eAcme+"/usage", body)
		if status >= 500 {
			t.Fatalf("%q: status %d (a 5xx is always a bug): %s", body, status, raw)
		}
		var doc map[string]any
		if err := json.Unmarshal(raw, &doc); err != nil || doc == nil {
			t.Fatalf("%q: status %d, not a JSON object: %q", body, status, raw)
		}
		after := e2eStreamLen(t, srv)
		if status != http.StatusOK {
			if r := (response{Status: status, Body: doc, Raw: raw}); r.code() == "" {
				t.Fatalf("%q: status %d without error.code: %s", body, status, raw)
			}
			if after != before {
				t.Fatalf("%q: rejected %d, but the stream grew from %d to %d", body, status, before, after)
			}
			return
		}
		if accepted, _ := doc["accepted"].(float64); after-before != uint64(accepted) {
			t.Fatalf("%q: %v accepted, but %d events appended", body, doc["accepted"], after-before)
		}
	})
}
