package api

import (
	"encoding/json"
	"testing"
)

// referenceUsageBody decodes body the strict reference way.
func referenceUsageBody(body []byte) ([]usageRecordBody, error) {
	var b struct {
		Records []json.RawMessage `json:"records"`
	}
	if err := decodeStrict(body, &b); err != nil {
		return nil, err
	}
	out := make([]usageRecordBody, len(b.Records))
	for i, raw := range b.Records {
		if err := decodeStrict(raw, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

var usageBodySeeds = []string{
	`{"records":[{"usage_id":"u1","email":"a@x.example","product":"microstation","machine_id":"m1","client_version":"10.00.18","started_at":"2026-01-19T09:00:00Z","ended_at":"2026-01-19T10:00:00Z","offline":false}]}`,
	"{\n  \"records\": [\n    {\"usage_id\": \"u1\", \"offline\": true, \"email\": \"<a&b>@x.example\"},\n    {}\n  ]\n}\n",
	`{"records":[]}`,
	`{"records":[{"usage_id":"u1","usage_id":"u2"}]}`,
	`{"records":[{"Usage_ID":"u1"}]}`,
	`{"records":[{"usage_id":"\u0075"}]}`,
	`{"records":[{"usage_id":null}]}`,
	`{"records":[{"offline":1}]}`,
	`{"records":null}`,
	`{"records":[1]}`,
	`{"records":[{}],"x":1}`,
	`{"records":[{}]} x`,
	`{"records":[{"email":"é@x.example"}]}`,
	`{"records":[],"records":[]}`,
	`{"records":[{"offline":null}]}`,
	`{"records":[{"email":"a@x.example","EMAIL":"b@x.example"}]}`,
	"{\"records\":[]}\f",
}

// The fast path reads the usual bodies, compact or indented.
func TestParseUsageBodyReadsUsualBodies(t *testing.T) {
	for _, body := range usageBodySeeds[:3] {
		recs, ok := parseUsageBody([]byte(body))
		if !ok {
			t.Fatalf("the fast path declined %s", body)
		}
		want, err := referenceUsageBody([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != len(want) {
			t.Fatalf("%s: %d records, want %d", body, len(recs), len(want))
		}
		for i := range recs {
			if recs[i] != want[i] {
				t.Errorf("%s: record %d: %+v, want %+v", body, i, recs[i], want[i])
			}
		}
	}
	for _, body := range usageBodySeeds[3:] {
		if _, ok := parseUsageBody([]byte(body)); ok {
			t.Errorf("the fast path accepted %s; it must leave it to the reference path", body)
		}
	}
}

// FuzzParseUsageBody: whatever the fast path accepts, the strict reference
// path accepts too, with the same records.
func FuzzParseUsageBody(f *testing.F) {
	for _, s := range usageBodySeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		recs, ok := parseUsageBody(body)
		if !ok {
			return
		}
		want, err := referenceUsageBody(body)
		if err != nil {
			t.Fatalf("the fast path accepted %q, the reference path rejects it: %v", body, err)
		}
		if len(recs) != len(want) {
			t.Fatalf("%q: %d records, want %d", body, len(recs), len(want))
		}
		for i := range recs {
			if recs[i] != want[i] {
				t.Fatalf("%q: record %d: %+v, want %+v", body, i, recs[i], want[i])
			}
		}
	})
}
