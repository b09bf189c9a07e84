package projections

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
)

// ErrUnreadable is returned by Apply for an event the ledger wrote that this
// version cannot decode (a newer event type or schema version): the
// projections stop there rather than fall silently behind.
var ErrUnreadable = errors.New("projections: an event written by the ledger cannot be read by this version; upgrade")

// Msg is one message of the stream as the projections see it.
type Msg struct {
	Seq     uint64 // stream sequence
	Subject string
	Data    []byte // the encoded event
	// MAC is the message's events.MACHeader, checked when the store has an
	// authenticator.
	MAC string
	// Stored is when the stream stored the message (its server's clock).
	Stored time.Time
	// Pending is how many messages the stream held after it when it was
	// delivered.
	Pending uint64

	decoded *decoded // set by prepare, ahead of Apply, on another goroutine
}

// decoded is a message's decoding, done off the apply path.
type decoded struct {
	event  events.Event
	err    error // decoding failed
	sigErr error // the MAC is missing or wrong: not written by the ledger
	hash   string
}

// prepare verifies, decodes and hashes m, so that Apply, which must run in
// stream order on one goroutine, does only the folding and the writing.
func prepare(auth *events.MAC, m Msg) Msg {
	d := &decoded{hash: events.Hash(m.Data)}
	if auth != nil {
		d.sigErr = auth.Check(m.Subject, m.Data, m.MAC)
	}
	d.event, d.err = events.Unmarshal(m.Data)
	m.decoded = d
	return m
}

// Version is the position of an aggregate's last event: the write side
// appends with Seq as the expected last subject sequence and Hash as prevhash.
type Version struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

// record is the value of an a/<subject> key, encoded by marshal as the
// sequence (8 bytes, big endian), the length of the hash (1 byte), the hash,
// and the state's JSON: no JSON around the state, so it is never re-encoded.
type record struct {
	Version
	State json.RawMessage
	// value is the decoded state while an applier folds events into it;
	// State is encoded from it once, when the run ends.
	value stateValue
}

// stateValue is a pointer to an aggregate's state.
type stateValue interface{ Apply(events.Event) }

func (r *record) marshal() []byte {
	out := make([]byte, 0, 9+len(r.Hash)+len(r.State))
	out = binary.BigEndian.AppendUint64(out, r.Seq)
	out = append(out, byte(len(r.Hash)))
	out = append(out, r.Hash...)
	return append(out, r.State...)
}

func (r *record) unmarshal(raw []byte) error {
	if len(raw) < 9 || len(raw) < 9+int(raw[8]) {
		return fmt.Errorf("corrupt aggregate record (%d bytes)", len(raw))
	}
	n := int(raw[8])
	r.Seq = binary.BigEndian.Uint64(raw)
	r.Hash = string(raw[9 : 9+n])
	r.State = append(json.RawMessage(nil), raw[9+n:]...)
	return nil
}

// commandRecord is the value of a c/<command id> key: enough to answer a
// replayed Idempotency-Key with the first answer (the primary aggregate's
// state as of Seq, rebuilt from its history).
type commandRecord struct {
	Hash       string    `json:"hash"`       // the events' commandhash
	Subject    string    `json:"subject"`    // the command's primary aggregate: its first event's subject
	Seq        uint64    `json:"seq"`        // the command's last event on that subject
	RecordedAt time.Time `json:"recordedat"` // its events' recordedat
}

// keepsHistory reports whether the store keeps the events of an aggregate
// kind under h/ (H4). Usage is the ledger's bulk, and no query reads its
// history: the stream is its record, and copying every usage event into
// Pebble would double what the store writes and compacts.
func keepsHistory(aggregate string) bool { return aggregate != events.AggregateUsage }

// Break is an event the projections did not apply (H3).
type Break struct {
	Seq     uint64 `json:"seq"`
	Subject string `json:"subject"`
	Reason  string `json:"reason"`
}

// Apply applies msgs, which must be in stream order, in one Pebble batch with
// the new checkpoint. Messages at or below the checkpoint are skipped, so
// applying the same messages twice changes nothing.
func (s *Store) Apply(msgs []Msg) error {
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	s.mu.Lock()
	cp, closed := s.mu.checkpoint, s.mu.closed
	s.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if s.hot == nil {
		s.hot = newIndexCache(hotEntries)
	}
	a := applier{db: s.db, b: s.db.NewBatch(), auth: s.auth, aggs: map[string]*record{}, cmds: map[string]*commandRecord{},
		hot: s.hot, read: map[string][]byte{}}
	defer a.b.Close()
	if err := a.prefetchUsageIDs(msgs, cp); err != nil {
		return err
	}
	if err := a.prefetchRecords(msgs, cp); err != nil {
		return err
	}
	last := cp
	for _, m := range msgs {
		if m.Seq <= last {
			continue
		}
		if err := a.apply(m); err != nil {
			return fmt.Errorf("projections: apply sequence %d: %w", m.Seq, err)
		}
		last = m.Seq
	}
	if last == cp {
		return nil
	}
	if err := a.flush(); err != nil {
		return err
	}
	if err := a.b.Set(keyCheckpoint, binary.BigEndian.AppendUint64(nil, last), nil); err != nil {
		return err
	}
	// The stream is the source of truth: a batch lost in a crash is applied
	// again from the older checkpoint, so the store need not sync.
	if err := a.b.Commit(pebble.NoSync); err != nil {
		s.hot.reset() // it may hold entries of the batch that failed
		return fmt.Errorf("projections: commit through sequence %d: %w", last, err)
	}
	a.keepHot()
	s.noteBilling(a.billing)
	s.noteBreaks(a.breaks)
	s.advance(last)
	if m := msgs[len(msgs)-1]; m.Seq == last && !m.Stored.IsZero() {
		s.markStored(m.Stored)
	}
	return nil
}

// applier applies one run of events. Aggregate and command records are read
// once, kept in memory while the run lasts and written once at its end.
type applier struct {
	db   *pebble.DB
	b    *pebble.Batch
	auth *events.MAC
	aggs map[string]*record
	cmds map[string]*commandRecord
	kv   map[string][]byte // index entries written in this run, for reads that follow
	read map[string][]byte // index entries read in this run (nil: absent)
	hot  *indexCache
	seq  uint64 // the stream sequence of the event being applied
	// billing holds, by account, the sequence of the last event of this run
	// that billing reads (a pooled usage record, a commercial licence's).
	billing map[string]uint64
	// thresholds caches, by alert subject, the threshold in force, for
	// subjects this run has not applied an event to (see threshold).
	thresholds map[string]commands.AlertLog
	// breaks are the breaks this run recorded, in stream order (H3).
	breaks []Break
}

// noteBilling records that the event being applied changes what billing
// reads in account.
func (a *applier) noteBilling(account string) {
	if a.billing == nil {
		a.billing = map[string]uint64{}
	}
	a.billing[account] = a.seq
}

// getKV reads an index entry (nil if absent), seeing this run's writes.
func (a *applier) getKV(key []byte) ([]byte, error) {
	if v, ok := a.kv[string(key)]; ok {
		return v, nil
	}
	if v, ok := a.read[string(key)]; ok {
		return v, nil
	}
	if v, ok := a.hot.get(key); ok {
		return v, nil
	}
	v, err := get(a.db, key)
	if err != nil {
		return nil, err
	}
	a.read[string(key)] = v
	return v, nil
}

// setKV writes an index entry. It is kept in a.kv and written into the
// batch once, by flush: a day's usage totals change with every record, and
// writing each version into the batch put a thousand versions of one key
// into the memtable per run. Keys written here are written nowhere else.
func (a *applier) setKV(key, value []byte) error {
	if a.kv == nil {
		a.kv = map[string][]byte{}
	}
	a.kv[string(key)] = append([]byte{}, value...)
	return nil
}

func (a *applier) agg(subject string) (*record, error) {
	if r, ok := a.aggs[subject]; ok {
		return r, nil
	}
	r := &record{}
	raw, err := get(a.db, aggKey(subject))
	if err != nil {
		return nil, err
	}
	if raw != nil {
		if err := r.unmarshal(raw); err != nil {
			return nil, fmt.Errorf("aggregate %s: %w", subject, err)
		}
	}
	a.aggs[subject] = r
	return r, nil
}

func (a *applier) cmd(id string) (*commandRecord, error) {
	if c, ok := a.cmds[id]; ok {
		return c, nil // nil: known absent (prefetchRecords)
	}
	raw, err := get(a.db, cmdKey(id))
	if err != nil || raw == nil {
		return nil, err
	}
	c := &commandRecord{}
	if err := json.Unmarshal(raw, c); err != nil {
		return nil, fmt.Errorf("command %s: %w", id, err)
	}
	a.cmds[id] = c
	return c, nil
}

func (a *applier) flush() error {
	for k, v := range a.kv {
		if err := a.b.Set([]byte(k), v, nil); err != nil {
			return err
		}
	}
	for subject, r := range a.aggs {
		if r.value != nil {
			raw, err := json.Marshal(r.value)
			if err != nil {
				return fmt.Errorf("aggregate %s: %w", subject, err)
			}
			r.State = raw
		}
		if err := a.b.Set(aggKey(subject), r.marshal(), nil); err != nil {
			return err
		}
	}
	for id, c := range a.cmds {
		if c == nil {
			continue // looked up, absent, and no event of it applied
		}
		if err := putJSON(a.b, cmdKey(id), c); err != nil {
			return err
		}
	}
	return nil
}

func (a *applier) apply(m Msg) error {
	if m.decoded == nil {
		m = prepare(a.auth, m)
	}
	rec, err := a.agg(m.Subject)
	if err != nil {
		return err
	}
	if a.auth != nil && m.decoded.sigErr == nil && m.decoded.err != nil {
		// The ledger wrote it (its MAC verifies) but this version cannot
		// read it: a newer type or schema version. Skipping it would leave
		// the aggregate silently behind, so stop instead.
		return fmt.Errorf("%w: %s: %w", ErrUnreadable, m.Subject, m.decoded.err)
	}
	e, reason := check(m, rec.Hash)
	if reason != "" {
		// Not applied: the aggregate keeps its state and hash, but its
		// sequence moves on, because the stream's last sequence for the
		// subject did, and the write side appends against it.
		rec.Seq = m.Seq
		b := Break{Seq: m.Seq, Subject: m.Subject, Reason: reason}
		a.breaks = append(a.breaks, b)
		return putJSON(a.b, breakKey(m.Seq), b)
	}
	if rec.value == nil {
		if rec.value, err = decodeState(e.Aggregate(), rec.State); err != nil {
			return fmt.Errorf("aggregate %s: %w", m.Subject, err)
		}
	}
	rec.value.Apply(e)
	value := any(rec.value)
	rec.Version = Version{Seq: m.Seq, Hash: m.decoded.hash}
	if keepsHistory(e.Aggregate()) {
		if err := a.b.Set(histKey(m.Subject, m.Seq), m.Data, nil); err != nil {
			return err
		}
	}
	a.seq = m.Seq
	if err := a.index(e, value); err != nil {
		return err
	}
	c, err := a.cmd(e.CommandID)
	if err != nil {
		return err
	}
	if c == nil {
		a.cmds[e.CommandID] = &commandRecord{Hash: e.CommandHash, Subject: m.Subject, Seq: m.Seq, RecordedAt: e.RecordedAt}
	} else if c.Subject == m.Subject {
		c.Seq = m.Seq
	}
	return nil
}

// check verifies that m was written by the ledger (its MAC), decodes,
// belongs where it is and continues its aggregate's hash chain. A non-empty
// reason means: do not apply.
func check(m Msg, prevHash string) (events.Event, string) {
	e, err := m.decoded.event, m.decoded.err
	if m.decoded.sigErr != nil {
		return e, "not written by the ledger: " + m.decoded.sigErr.Error()
	}
	if err != nil {
		return e, "undecodable: " + err.Error()
	}
	if !events.StoredOn(e, m.Subject) {
		return e, fmt.Sprintf("event for %s stored on %s", e.Subject(), m.Subject)
	}
	if e.PrevHash != prevHash {
		return e, fmt.Sprintf("hash chain broken: prevhash %q, want %q", e.PrevHash, prevHash)
	}
	return e, ""
}

// foldState applies e to the aggregate state raw and returns the new state,
// encoded.
func foldState(raw json.RawMessage, e events.Event) (json.RawMessage, error) {
	st, err := decodeState(e.Aggregate(), raw)
	if err != nil {
		return nil, err
	}
	st.Apply(e)
	return json.Marshal(st)
}

// decodeState decodes an aggregate's state (raw empty: its zero state).
func decodeState(aggregate string, raw json.RawMessage) (stateValue, error) {
	var st stateValue
	switch aggregate {
	case events.AggregateAccount:
		st = new(commands.Account)
	case events.AggregateUser:
		st = new(commands.User)
	case events.AggregateEmail:
		st = new(commands.EmailOwner)
	case events.AggregateDomain:
		st = new(commands.DomainOwner)
	case events.AggregateLicense:
		st = new(commands.License)
	case events.AggregateSession:
		st = new(commands.Session)
	case events.AggregateAccess:
		st = new(commands.Access)
	case events.AggregateCheck:
		st = new(commands.CheckLog)
	case events.AggregateUsage:
		st = new(commands.UsageLog)
	case events.AggregateAlert:
		st = new(commands.AlertLog)
	case events.AggregateReminder:
		st = new(commands.ReminderLog)
	case events.AggregateToken:
		st = new(commands.Token)
	default:
		return nil, fmt.Errorf("no fold for aggregate %q", aggregate)
	}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, st); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// index maintains the indexes that depend on an aggregate's new state: the
// unassigned practitioner licences of C7 and the commercial and trial
// licences of each product (E1).
func (a *applier) index(e events.Event, state any) error {
	switch d := e.Data.(type) {
	case events.UsageRecorded:
		return a.indexUsage(e, d)
	case events.UsageVoided:
		return a.voidUsage(e, d)
	case events.AccountCreated:
		return a.b.Set(accountKey(d.ID), binary.BigEndian.AppendUint64(nil, a.seq), nil)
	case events.ThresholdSet:
		// A threshold set is checked against the current day (G4).
		day := e.OccurredAt.UTC().Format(time.DateOnly)
		return errors.Join(a.b.Set(thresholdKey(e.Account, d.Product), nil, nil), a.queueAlertCheck(e.Account, d.Product, day, d.MaxMachines))
	case events.ThresholdCleared:
		return a.b.Delete(thresholdKey(e.Account, d.Product), nil)
	case events.ThresholdExceeded:
		return a.indexAlert(e, d)
	case events.TokenCreated:
		return a.b.Set(tokenKey(d.ID), nil, nil)
	}
	l, ok := state.(*commands.License)
	if !ok {
		return nil
	}
	if l.Kind == events.KindCommercial {
		a.noteBilling(e.Account)
	}
	if d, ok := e.Data.(events.LicenseCreated); ok && d.Kind != events.KindPractitioner {
		for _, p := range d.Products {
			if err := a.b.Set(pooledKey(e.Account, p, d.ID), nil, nil); err != nil {
				return err
			}
		}
	}
	key := unassignedKey(e.Account, l.ID)
	if l.Kind == events.KindPractitioner && l.Assignee == "" {
		return a.b.Set(key, nil, nil)
	}
	return a.b.Delete(key, nil)
}

func putJSON(b *pebble.Batch, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Set(key, raw, nil)
}
