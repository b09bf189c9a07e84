package events

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/oklog/ulid/v2"
)

// ContentType is the media type of an encoded event (CloudEvents structured
// mode).
const ContentType = "application/cloudevents+json"

// Sentinel errors of the codec.
var (
	// ErrUnknownType is returned for an event type the catalogue does not know.
	ErrUnknownType = errors.New("events: unknown event type")
	// ErrUnknownVersion is returned for a schema version newer than the
	// current one or older than any upcaster reaches.
	ErrUnknownVersion = errors.New("events: unknown schema version")
	// ErrMalformed is returned for a payload that is not a valid ledger event.
	ErrMalformed = errors.New("events: malformed event")
)

// Event is one immutable fact of the ledger. Data holds the typed payload;
// everything else is metadata (H2, H3).
type Event struct {
	ID            string    // ULID, also the Nats-Msg-Id
	Account       string    // account id, or GlobalAccount
	AggregateID   string    // the aggregate's id (email, licence id, account id)
	OccurredAt    time.Time // business time (CloudEvents "time")
	RecordedAt    time.Time // when the ledger recorded it
	Actor         string
	CommandID     string
	CommandHash   string
	CorrelationID string
	CausationID   string
	PrevHash      string // hash of the aggregate's previous event; "" for its first
	Data          Data
}

// Type is the stable type name of the event.
func (e Event) Type() string { return e.Data.EventType() }

// Aggregate is the aggregate kind the event belongs to.
func (e Event) Aggregate() string { return e.Data.Aggregate() }

// Subject is the NATS subject the event is stored on.
func (e Event) Subject() string { return Subject(e.Account, e.Aggregate(), e.AggregateID) }

// NewID returns a new ULID string for an event or command.
func NewID() string { return ulid.Make().String() }

// DerivedID returns a ULID string that is a function of parts: the same
// parts always give the same id. Its timestamp carries no meaning. Usage
// events take their id (and so their Nats-Msg-Id) from (account, usage_id),
// so two racing copies of one record collide in JetStream.
//
// Anyone can compute it, and so send a message under the id of one the
// ledger has not stored yet, which JetStream then refuses as a duplicate for
// its whole duplicate window. The ledger derives its ids with
// MAC.DerivedID, which only holders of its key can compute; it uses this
// one only when it has no key.
func DerivedID(parts ...string) string { return idOf(sha256.New(), parts) }

// idOf is the ULID made of the first 16 bytes of h's sum of parts, each
// ended by a zero byte.
func idOf(h hash.Hash, parts []string) string {
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	var id ulid.ULID
	copy(id[:], h.Sum(make([]byte, 0, h.Size())))
	return id.String()
}

// Hash is the hex SHA-256 of an encoded event: the value the next event of
// the same aggregate carries as prevhash (H3).
func Hash(raw []byte) string {
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

// wire is the CloudEvents 1.0 structured-mode JSON document. Field order is
// the encoding order, so one Event always encodes to the same bytes.
type wire struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject"`
	Time            string          `json:"time"`
	DataContentType string          `json:"datacontenttype"`
	SchemaVersion   int             `json:"schemaversion"`
	Actor           string          `json:"actor"`
	CommandID       string          `json:"commandid"`
	CommandHash     string          `json:"commandhash,omitempty"`
	CorrelationID   string          `json:"correlationid"`
	CausationID     string          `json:"causationid,omitempty"`
	RecordedAt      string          `json:"recordedat"`
	PrevHash        string          `json:"prevhash,omitempty"`
	Data            json.RawMessage `json:"data"`
}

const timeLayout = time.RFC3339Nano

// Marshal encodes the event as a CloudEvents JSON document. It validates the
// payload first: the ledger never writes an event it could not read back.
func Marshal(e Event) ([]byte, error) {
	if e.Data == nil {
		return nil, fmt.Errorf("%w: no data", ErrMalformed)
	}
	ent, ok := catalogue[e.Type()]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownType, e.Type())
	}
	if err := checkMeta(e); err != nil {
		return nil, err
	}
	d := inUTC(e.Data)
	if err := validData(d); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrMalformed, e.Type(), err)
	}
	const envelope = 640 // the envelope's attributes take about 550 bytes
	if f, ok := d.(fastData); ok && f.fast() {
		b := make([]byte, 0, envelope+512)
		return appendEnvelope(b, e, ent.version, f.appendJSON(nil)), nil
	}
	data, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("events: encode %s: %w", e.Type(), err)
	}
	return appendEnvelope(make([]byte, 0, envelope+len(data)), e, ent.version, data), nil
}

// marshalReflect is Marshal through encoding/json alone: the definition of
// the canonical form, which the fast codec is tested against.
func marshalReflect(e Event) ([]byte, error) {
	if e.Data == nil {
		return nil, fmt.Errorf("%w: no data", ErrMalformed)
	}
	ent, ok := catalogue[e.Type()]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownType, e.Type())
	}
	if err := checkMeta(e); err != nil {
		return nil, err
	}
	d := inUTC(e.Data)
	if err := validData(d); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrMalformed, e.Type(), err)
	}
	data, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("events: encode %s: %w", e.Type(), err)
	}
	w := wire{
		SpecVersion:     "1.0",
		ID:              e.ID,
		Source:          "/accounts/" + e.Account,
		Type:            e.Type(),
		Subject:         e.Aggregate() + "/" + e.AggregateID,
		Time:            e.OccurredAt.UTC().Format(timeLayout),
		DataContentType: "application/json",
		SchemaVersion:   ent.version,
		Actor:           e.Actor,
		CommandID:       e.CommandID,
		CommandHash:     e.CommandHash,
		CorrelationID:   e.CorrelationID,
		CausationID:     e.CausationID,
		RecordedAt:      e.RecordedAt.UTC().Format(timeLayout),
		PrevHash:        e.PrevHash,
		Data:            data,
	}
	return json.Marshal(w)
}

func checkMeta(e Event) error {
	var errs []error
	if _, err := ulid.ParseStrict(e.ID); err != nil || strings.ToUpper(e.ID) != e.ID {
		errs = append(errs, fmt.Errorf("id %q is not an upper-case ULID", e.ID))
	}
	if e.Account != GlobalAccount && !AccountIDPattern.MatchString(e.Account) {
		errs = append(errs, fmt.Errorf("bad account %q", e.Account))
	}
	if e.AggregateID == "" || !utf8.ValidString(e.AggregateID) || len(e.AggregateID) > MaxEmailBytes {
		errs = append(errs, fmt.Errorf("bad aggregate id %q", e.AggregateID))
	}
	if e.CommandHash != "" && !isHexHash(e.CommandHash) {
		errs = append(errs, fmt.Errorf("commandhash %q is not a hex SHA-256", e.CommandHash))
	}
	if (e.Account == GlobalAccount) != Global(e.Aggregate()) {
		errs = append(errs, fmt.Errorf("aggregate %q does not belong to account %q", e.Aggregate(), e.Account))
	}
	if e.OccurredAt.IsZero() || e.RecordedAt.IsZero() {
		errs = append(errs, errors.New("occurred_at and recorded_at are required"))
	}
	if e.Actor == "" || e.CommandID == "" || e.CorrelationID == "" {
		errs = append(errs, errors.New("actor, command id and correlation id are required"))
	}
	if e.PrevHash != "" && !isHexHash(e.PrevHash) {
		errs = append(errs, fmt.Errorf("prevhash %q is not a hex SHA-256", e.PrevHash))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrMalformed, errors.Join(errs...))
	}
	return nil
}

var lowerHex = newSet("0-9a-f")

func isHexHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !lowerHex.has(s[i]) {
			return false
		}
	}
	return true
}

// Unmarshal decodes a CloudEvents JSON document written by Marshal. It is
// strict: unknown attributes, unknown data fields, unknown types and versions,
// and payloads Marshal would refuse are errors. Older schema versions are
// upcast to the current one.
func Unmarshal(raw []byte) (Event, error) {
	if e, ok := fastUnmarshal(raw); ok {
		return e, nil
	}
	return unmarshalReflect(raw)
}

// unmarshalReflect is Unmarshal through encoding/json alone: the reference
// the fast codec is tested against, and the path that explains rejections.
func unmarshalReflect(raw []byte) (Event, error) {
	var w wire
	if err := strictDecode(raw, &w); err != nil {
		return Event{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if w.SpecVersion != "1.0" {
		return Event{}, fmt.Errorf("%w: specversion %q", ErrMalformed, w.SpecVersion)
	}
	if w.DataContentType != "application/json" {
		return Event{}, fmt.Errorf("%w: datacontenttype %q", ErrMalformed, w.DataContentType)
	}
	ent, ok := catalogue[w.Type]
	if !ok {
		return Event{}, fmt.Errorf("%w: %q", ErrUnknownType, w.Type)
	}
	data, err := upcast(ent, w.Type, w.SchemaVersion, w.Data)
	if err != nil {
		return Event{}, err
	}
	d := ent.newData()
	if err := strictDecode(data, d); err != nil {
		return Event{}, fmt.Errorf("%w: %s data: %w", ErrMalformed, w.Type, err)
	}
	e := Event{
		ID:            w.ID,
		Actor:         w.Actor,
		CommandID:     w.CommandID,
		CommandHash:   w.CommandHash,
		CorrelationID: w.CorrelationID,
		CausationID:   w.CausationID,
		PrevHash:      w.PrevHash,
		Data:          ent.unptr(d),
	}
	account, ok := strings.CutPrefix(w.Source, "/accounts/")
	if !ok {
		return Event{}, fmt.Errorf("%w: source %q", ErrMalformed, w.Source)
	}
	e.Account = account
	aggr, id, ok := strings.Cut(w.Subject, "/")
	if !ok || aggr != ent.aggr {
		return Event{}, fmt.Errorf("%w: subject %q does not fit type %s", ErrMalformed, w.Subject, w.Type)
	}
	e.AggregateID = id
	if e.OccurredAt, err = parseTime(w.Time); err != nil {
		return Event{}, fmt.Errorf("%w: time: %w", ErrMalformed, err)
	}
	if e.RecordedAt, err = parseTime(w.RecordedAt); err != nil {
		return Event{}, fmt.Errorf("%w: recordedat: %w", ErrMalformed, err)
	}
	if err := checkMeta(e); err != nil {
		return Event{}, err
	}
	if err := validData(e.Data); err != nil {
		return Event{}, fmt.Errorf("%w: %s: %w", ErrMalformed, w.Type, err)
	}
	// Canonical form: the ledger writes exactly json.Marshal of the
	// envelope and of the payload. Anything else (other key case or order,
	// missing fields, whitespace, escapes) was not written by the ledger.
	if w.SchemaVersion == ent.version {
		if canon, err := json.Marshal(e.Data); err != nil || !bytes.Equal(canon, w.Data) {
			return Event{}, fmt.Errorf("%w: %s data is not in canonical form", ErrMalformed, w.Type)
		}
	}
	if !canonicalEnvelope(w, raw) {
		return Event{}, fmt.Errorf("%w: envelope is not in canonical form", ErrMalformed)
	}
	return e, nil
}

// canonicalEnvelope reports whether raw is exactly json.Marshal(w). data is
// the last attribute, so the comparison encodes the envelope without it and
// checks data's bytes in place, sparing a second compaction of the payload.
func canonicalEnvelope(w wire, raw []byte) bool {
	data := w.Data
	w.Data = nil
	head, err := json.Marshal(w)
	if err != nil || !bytes.HasSuffix(head, []byte("null}")) {
		return false
	}
	head = head[:len(head)-len("null}")]
	return len(raw) == len(head)+len(data)+1 && bytes.HasPrefix(raw, head) &&
		bytes.Equal(raw[len(head):len(raw)-1], data) && raw[len(raw)-1] == '}'
}

func validData(d Data) error {
	if err := d.validate(); err != nil {
		return err
	}
	return utcTimes(d)
}

func upcast(ent entry, typ string, version int, data []byte) ([]byte, error) {
	if version < 1 || version > ent.version {
		return nil, fmt.Errorf("%w: %s version %d (current %d)", ErrUnknownVersion, typ, version, ent.version)
	}
	for v := version; v < ent.version; v++ {
		up, ok := ent.upcast[v]
		if !ok {
			return nil, fmt.Errorf("%w: %s version %d has no upcaster", ErrUnknownVersion, typ, v)
		}
		var err error
		if data, err = up(data); err != nil {
			return nil, fmt.Errorf("%w: upcast %s from version %d: %w", ErrMalformed, typ, v, err)
		}
	}
	return data, nil
}

func strictDecode(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON document")
	}
	return nil
}

// parseTime accepts only RFC 3339 times in UTC ("Z"), as the ledger writes them.
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return time.Time{}, err
	}
	if t.Location() != time.UTC || t.Format(timeLayout) != s {
		return time.Time{}, fmt.Errorf("%q is not a canonical RFC 3339 UTC time", s)
	}
	return t, nil
}

func sortStrings(s []string) { slices.Sort(s) }
