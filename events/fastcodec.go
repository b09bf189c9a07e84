package events

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// The fast codec writes and reads the canonical form without reflection.
// Canonical bytes are defined by encoding/json (Marshal's reference path,
// marshalReflect), so the fast codec is held to a simple contract that the
// tests check differentially, including by fuzzing:
//
//   - appendEnvelope writes exactly the bytes marshalReflect writes;
//   - fastUnmarshal either declines (ok false) or returns exactly the event
//     unmarshalReflect returns for the same bytes. It declines anything
//     unusual (escapes, non-ASCII, an old schema version, a failed check), and
//     the reference path then decides and explains.
//
// Strings are the only part of an event whose canonical form takes care: the
// fast paths handle the printable ASCII that encoding/json writes as is, and
// hand everything else to encoding/json.

// plain reports whether encoding/json writes s unchanged between quotes:
// printable ASCII other than the quote, the backslash and the three
// characters it escapes for HTML.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if !plainSet.has(s[i]) {
			return false
		}
	}
	return true
}

// plainSet is the characters plain allows.
var plainSet = func() asciiSet {
	var s asciiSet
	for c := byte(0x20); c <= 0x7e; c++ {
		s[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return s
}()

// appendString appends s as encoding/json encodes it.
func appendString(b []byte, s string) []byte {
	if plain(s) {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	q, _ := json.Marshal(s) // a string always encodes
	return append(b, q...)
}

// appendTime appends t as encoding/json encodes a time.Time (RFC 3339 with
// nanoseconds, as t's location gives it).
func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, timeLayout)
	return append(b, '"')
}

// appendField appends `,"key":` (or `{"key":` for the first field).
func appendKey(b []byte, key string) []byte {
	if len(b) > 0 && b[len(b)-1] != '{' {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, key...)
	return append(b, '"', ':')
}

// appendEnvelope appends the canonical envelope of e around its encoded
// payload data.
func appendEnvelope(b []byte, e Event, version int, data []byte) []byte {
	b = append(b, `{"specversion":"1.0"`...)
	b = appendString(appendKey(b, "id"), e.ID)
	b = appendString(appendKey(b, "source"), "/accounts/"+e.Account)
	b = appendString(appendKey(b, "type"), e.Type())
	b = appendString(appendKey(b, "subject"), e.Aggregate()+"/"+e.AggregateID)
	b = appendTime(appendKey(b, "time"), e.OccurredAt.UTC())
	b = append(b, `,"datacontenttype":"application/json","schemaversion":`...)
	b = strconv.AppendInt(b, int64(version), 10)
	b = appendString(appendKey(b, "actor"), e.Actor)
	b = appendString(appendKey(b, "commandid"), e.CommandID)
	if e.CommandHash != "" {
		b = appendString(appendKey(b, "commandhash"), e.CommandHash)
	}
	b = appendString(appendKey(b, "correlationid"), e.CorrelationID)
	if e.CausationID != "" {
		b = appendString(appendKey(b, "causationid"), e.CausationID)
	}
	b = appendTime(appendKey(b, "recordedat"), e.RecordedAt.UTC())
	if e.PrevHash != "" {
		b = appendString(appendKey(b, "prevhash"), e.PrevHash)
	}
	b = append(appendKey(b, "data"), data...)
	return append(b, '}')
}

// fastData is a payload with a hand-written canonical codec.
type fastData interface {
	Data
	// fast reports whether appendJSON can encode the payload; otherwise
	// json.Marshal decides (and may refuse, as for a year past 9999).
	fast() bool
	// appendJSON appends exactly what json.Marshal writes for the payload.
	appendJSON(b []byte) []byte
}

// jsonYear reports whether encoding/json can encode t (it refuses years
// outside [0, 9999]).
func jsonYear(t time.Time) bool { return t.Year() >= 0 && t.Year() <= 9999 }

// fastDecoders decode canonical payloads of the current schema version by
// type; they decline (false) anything else.
var fastDecoders = map[string]func(s *scanner) (Data, bool){
	TypeUsageRecorded: decodeUsageRecorded,
}

// scanner reads canonical JSON written by the ledger. Any surprise sets
// failed, and every later read fails too.
type scanner struct {
	b      []byte
	i      int
	failed bool
}

// lit consumes the literal l.
func (s *scanner) lit(l string) {
	if s.failed || len(s.b)-s.i < len(l) || string(s.b[s.i:s.i+len(l)]) != l {
		s.failed = true
		return
	}
	s.i += len(l)
}

// peek reports whether the literal l comes next, without consuming it.
func (s *scanner) peek(l string) bool {
	return !s.failed && len(s.b)-s.i >= len(l) && string(s.b[s.i:s.i+len(l)]) == l
}

// str consumes a string of plain characters (see plain).
func (s *scanner) str() string {
	s.lit(`"`)
	if s.failed {
		return ""
	}
	for j := s.i; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '"':
			out := string(s.b[s.i:j])
			s.i = j + 1
			return out
		case !plainSet.has(c):
			s.failed = true
			return ""
		}
	}
	s.failed = true
	return ""
}

// field consumes `,"key":` and a plain string.
func (s *scanner) field(key string) string {
	s.lit(`,"`)
	s.lit(key)
	s.lit(`":`)
	return s.str()
}

// optField consumes `,"key":` and a non-empty plain string if the key comes
// next; an omitted field is "".
func (s *scanner) optField(key string) string {
	if !s.peek(`,"` + key + `":`) {
		return ""
	}
	v := s.field(key)
	if v == "" {
		s.failed = true // omitempty never writes an empty string
	}
	return v
}

// time consumes `,"key":` and a canonical RFC 3339 UTC time.
func (s *scanner) time(key string) time.Time {
	v := s.field(key)
	if s.failed {
		return time.Time{}
	}
	t, err := parseTime(v)
	if err != nil {
		s.failed = true
	}
	return t
}

// boolean consumes `,"key":` and true or false.
func (s *scanner) boolean(key string) bool {
	s.lit(`,"`)
	s.lit(key)
	s.lit(`":`)
	switch {
	case s.peek("true"):
		s.i += 4
		return true
	case s.peek("false"):
		s.i += 5
		return false
	}
	s.failed = true
	return false
}

// end reports whether everything was consumed without a surprise.
func (s *scanner) end() bool { return !s.failed && s.i == len(s.b) }

// fastUnmarshal decodes the canonical envelope, and the payload where a
// fast decoder exists, or declines.
func fastUnmarshal(raw []byte) (Event, bool) {
	s := &scanner{b: raw}
	s.lit(`{"specversion":"1.0","id":`)
	var e Event
	e.ID = s.str()
	source := s.field("source")
	typ := s.field("type")
	subject := s.field("subject")
	e.OccurredAt = s.time("time")
	s.lit(`,"datacontenttype":"application/json","schemaversion":`)
	ent, ok := catalogue[typ]
	if !ok || s.failed {
		return Event{}, false
	}
	// An older version is upcast by the reference path; a longer number
	// fails at the next literal.
	s.lit(strconv.Itoa(ent.version))
	e.Actor = s.field("actor")
	e.CommandID = s.field("commandid")
	e.CommandHash = s.optField("commandhash")
	e.CorrelationID = s.field("correlationid")
	e.CausationID = s.optField("causationid")
	e.RecordedAt = s.time("recordedat")
	e.PrevHash = s.optField("prevhash")
	s.lit(`,"data":`)
	if s.failed || raw[len(raw)-1] != '}' {
		return Event{}, false
	}
	data := raw[s.i : len(raw)-1]
	account, ok1 := strings.CutPrefix(source, "/accounts/")
	aggr, id, ok2 := strings.Cut(subject, "/")
	if !ok1 || !ok2 || aggr != ent.aggr {
		return Event{}, false
	}
	e.Account, e.AggregateID = account, id
	if dec, ok := fastDecoders[typ]; ok {
		ds := &scanner{b: data}
		d, ok := dec(ds)
		if !ok || !ds.end() {
			return Event{}, false
		}
		e.Data = d
	} else {
		d := ent.newData()
		if err := strictDecode(data, d); err != nil {
			return Event{}, false
		}
		e.Data = ent.unptr(d)
		if canon, err := json.Marshal(e.Data); err != nil || string(canon) != string(data) {
			return Event{}, false
		}
	}
	if checkMeta(e) != nil || validData(e.Data) != nil {
		return Event{}, false
	}
	return e, true
}

func (u UsageRecorded) fast() bool { return jsonYear(u.StartedAt) && jsonYear(u.EndedAt) }

func (u UsageRecorded) appendJSON(b []byte) []byte {
	b = append(b, '{')
	b = appendString(appendKey(b, "usage_id"), u.UsageID)
	b = appendString(appendKey(b, "email"), u.Email)
	b = appendString(appendKey(b, "product"), u.Product)
	b = appendString(appendKey(b, "machine_id"), u.MachineID)
	b = appendString(appendKey(b, "client_version"), u.ClientVersion)
	b = appendTime(appendKey(b, "started_at"), u.StartedAt)
	b = appendTime(appendKey(b, "ended_at"), u.EndedAt)
	b = strconv.AppendBool(appendKey(b, "offline"), u.Offline)
	b = appendString(appendKey(b, "classification"), u.Classification)
	b = appendString(appendKey(b, "license_id"), u.LicenseID)
	b = appendString(appendKey(b, "digest"), u.Digest)
	b = appendKey(b, "country")
	if u.Country == "" {
		b = append(b, "null"...)
	} else {
		b = appendString(b, string(u.Country))
	}
	return append(b, '}')
}

func decodeUsageRecorded(s *scanner) (Data, bool) {
	var u UsageRecorded
	s.lit(`{"usage_id":`)
	u.UsageID = s.str()
	u.Email = s.field("email")
	u.Product = s.field("product")
	u.MachineID = s.field("machine_id")
	u.ClientVersion = s.field("client_version")
	u.StartedAt = s.time("started_at")
	u.EndedAt = s.time("ended_at")
	u.Offline = s.boolean("offline")
	u.Classification = s.field("classification")
	u.LicenseID = s.field("license_id")
	u.Digest = s.field("digest")
	if s.peek(`,"country":null`) {
		s.lit(`,"country":null`)
	} else {
		u.Country = Country(s.field("country"))
		if u.Country == "" {
			s.failed = true // none is written null
		}
	}
	s.lit("}")
	return u, !s.failed
}
