package api

import (
	"encoding/json"
	"errors"

	"github.com/entledger/ledger/commands"
)

// Usage bodies are the ledger's largest and most frequent requests: up to
// 1000 records of eight flat fields. parseUsageBody reads the common shape
// of such a body in one pass, without reflection. It declines (ok false)
// anything else: escapes or non-ASCII in a string, null, a number, an unknown
// or repeated key, a nested value. The strict reference path
// (decodeUsageBody) then decides and names the problem, so a body the fast
// path accepts decodes exactly as the reference path would decode it (a
// fuzzer checks this).

// usageRecordBody is one record of a usage body, as sent.
type usageRecordBody struct {
	UsageID       string `json:"usage_id"`
	Email         string `json:"email"`
	Product       string `json:"product"`
	MachineID     string `json:"machine_id"`
	ClientVersion string `json:"client_version"`
	StartedAt     string `json:"started_at"`
	EndedAt       string `json:"ended_at"`
	Offline       bool   `json:"offline"`
}

// usageBody is the decoded body: either the records the fast path read, or
// the raw records the reference path decodes one by one (so that each bad one
// is named with its index).
type usageBody struct {
	fast []usageRecordBody
	raw  []json.RawMessage
}

func (b usageBody) len() int { return max(len(b.fast), len(b.raw)) }

// record decodes record i.
func (b usageBody) record(i int) (usageRecordBody, error) {
	if b.fast != nil {
		return b.fast[i], nil
	}
	var rb usageRecordBody
	err := decodeStrict(b.raw[i], &rb)
	return rb, err
}

// usageRecord decodes record i into the command's form. A record that does
// not decode, or whose times are not RFC 3339, answers the reason, naming
// the field; the record then carries what did decode (its usage_id, if any,
// names it in the rejection).
func (b usageBody) usageRecord(i int) (commands.UsageRecord, *commands.Error) {
	rb, err := b.record(i)
	rec := commands.UsageRecord{UsageID: rb.UsageID, Email: rb.Email, Product: rb.Product, MachineID: rb.MachineID,
		ClientVersion: rb.ClientVersion, Offline: rb.Offline}
	if err == nil {
		rec.StartedAt, err = requiredTime("started_at", rb.StartedAt)
	}
	if err == nil {
		rec.EndedAt, err = requiredTime("ended_at", rb.EndedAt)
	}
	if err == nil {
		return rec, nil
	}
	if rec.UsageID == "" && b.raw != nil {
		var named struct {
			UsageID string `json:"usage_id"`
		}
		if json.Unmarshal(b.raw[i], &named) == nil {
			rec.UsageID = named.UsageID
		}
	}
	var rej *commands.Error
	if !errors.As(err, &rej) {
		rej = commands.Reject(commands.CodeMalformedJSON, "record %d: %v", i, err)
	}
	return rec, rej
}

// decodeUsageBody decodes a usage request body.
func decodeUsageBody(body []byte) (usageBody, error) {
	if recs, ok := parseUsageBody(body); ok {
		return usageBody{fast: recs}, nil
	}
	var b struct {
		Records []json.RawMessage `json:"records"`
	}
	if err := decodeStrict(body, &b); err != nil {
		return usageBody{}, err
	}
	return usageBody{raw: b.Records}, nil
}

// bodyScanner reads JSON in the plain subset parseUsageBody accepts.
type bodyScanner struct {
	b      []byte
	i      int
	failed bool
}

func (s *bodyScanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// next skips whitespace and reports whether c comes next, consuming it if so.
func (s *bodyScanner) next(c byte) bool {
	s.ws()
	if s.failed || s.i >= len(s.b) || s.b[s.i] != c {
		return false
	}
	s.i++
	return true
}

func (s *bodyScanner) expect(c byte) {
	if !s.next(c) {
		s.failed = true
	}
}

// str reads a string of printable ASCII without escapes.
func (s *bodyScanner) str() string {
	s.expect('"')
	if s.failed {
		return ""
	}
	for j := s.i; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '"':
			out := string(s.b[s.i:j])
			s.i = j + 1
			return out
		case c < 0x20 || c > 0x7e || c == '\\':
			s.failed = true
			return ""
		}
	}
	s.failed = true
	return ""
}

func (s *bodyScanner) literal(l string) bool {
	s.ws()
	if len(s.b)-s.i >= len(l) && string(s.b[s.i:s.i+len(l)]) == l {
		s.i += len(l)
		return true
	}
	return false
}

// record reads one record object.
func (s *bodyScanner) record() usageRecordBody {
	var rb usageRecordBody
	s.expect('{')
	if s.next('}') {
		return rb
	}
	var seen [8]bool
	for !s.failed {
		key := s.str()
		s.expect(':')
		if s.failed {
			break
		}
		var slot int
		switch key {
		case "usage_id":
			slot, rb.UsageID = 0, s.str()
		case "email":
			slot, rb.Email = 1, s.str()
		case "product":
			slot, rb.Product = 2, s.str()
		case "machine_id":
			slot, rb.MachineID = 3, s.str()
		case "client_version":
			slot, rb.ClientVersion = 4, s.str()
		case "started_at":
			slot, rb.StartedAt = 5, s.str()
		case "ended_at":
			slot, rb.EndedAt = 6, s.str()
		case "offline":
			slot = 7
			switch {
			case s.literal("true"):
				rb.Offline = true
			case s.literal("false"):
			default:
				s.failed = true
			}
		default:
			s.failed = true // the reference path names the unknown field
		}
		if seen[slot] {
			s.failed = true
		}
		seen[slot] = true
		if s.next('}') {
			break
		}
		s.expect(',')
	}
	return rb
}

// parseUsageBody reads {"records":[{...},...]} in the plain subset, or
// declines.
func parseUsageBody(body []byte) (recs []usageRecordBody, ok bool) {
	s := &bodyScanner{b: body}
	s.expect('{')
	if s.str() != "records" {
		return nil, false
	}
	s.expect(':')
	s.expect('[')
	recs = []usageRecordBody{}
	if !s.next(']') {
		for !s.failed {
			recs = append(recs, s.record())
			if s.next(']') {
				break
			}
			s.expect(',')
		}
	}
	s.expect('}')
	s.ws()
	if s.failed || s.i != len(s.b) {
		return nil, false
	}
	return recs, true
}
