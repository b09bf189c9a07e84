package projections

import (
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
)

// Msg is one message of the stream as the projections see it.
type Msg struct {
	Seq     uint64 // stream sequence
	Subject string
	Data    []byte // the encoded event
}

// Version is the position of an aggregate's last event: the write side
// appends with Seq as the expected last subject sequence and Hash as prevhash.
type Version struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

// record is the value of an a/<subject> key.
type record struct {
	Version
	State json.RawMessage `json:"state,omitempty"`
}

// commandRecord is the value of a c/<command id> key: what the command's
// first answer was, so that a replayed Idempotency-Key gets it again.
type commandRecord struct {
	Hash    string          `json:"hash"`    // the events' commandhash
	Subject string          `json:"subject"` // the command's primary aggregate: its first event's subject
	Seq     uint64          `json:"seq"`     // the command's last event
	State   json.RawMessage `json:"state"`   // the primary aggregate right after the command
}

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
	b := s.db.NewIndexedBatch()
	defer b.Close()
	last := cp
	for _, m := range msgs {
		if m.Seq <= last {
			continue
		}
		if err := applyOne(b, m); err != nil {
			return fmt.Errorf("projections: apply sequence %d: %w", m.Seq, err)
		}
		last = m.Seq
	}
	if last == cp {
		return nil
	}
	if err := b.Set(keyCheckpoint, binary.BigEndian.AppendUint64(nil, last), nil); err != nil {
		return err
	}
	// The stream is the source of truth: a batch lost in a crash is applied
	// again from the older checkpoint, so the store need not sync.
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("projections: commit through sequence %d: %w", last, err)
	}
	s.advance(last)
	return nil
}

func applyOne(b *pebble.Batch, m Msg) error {
	var rec record
	if raw, err := get(b, aggKey(m.Subject)); err != nil {
		return err
	} else if raw != nil {
		if err := json.Unmarshal(raw, &rec); err != nil {
			return fmt.Errorf("aggregate %s: %w", m.Subject, err)
		}
	}
	e, reason := check(m, rec.Hash)
	if reason != "" {
		// Not applied: the aggregate keeps its state and hash, but its
		// sequence moves on, because the stream's last sequence for the
		// subject did, and the write side appends against it.
		rec.Seq = m.Seq
		if err := putJSON(b, breakKey(m.Seq), Break{Seq: m.Seq, Subject: m.Subject, Reason: reason}); err != nil {
			return err
		}
		return putJSON(b, aggKey(m.Subject), rec)
	}
	state, err := fold(b, rec.State, e)
	if err != nil {
		return fmt.Errorf("aggregate %s: %w", m.Subject, err)
	}
	rec = record{Version: Version{Seq: m.Seq, Hash: events.Hash(m.Data)}, State: state}
	if err := putJSON(b, aggKey(m.Subject), rec); err != nil {
		return err
	}
	if err := b.Set(histKey(m.Subject, m.Seq), m.Data, nil); err != nil {
		return err
	}
	return recordCommand(b, e, m, state)
}

// check decodes m and verifies it belongs where it is and continues its
// aggregate's hash chain. A non-empty reason means: do not apply.
func check(m Msg, prevHash string) (events.Event, string) {
	e, err := events.Unmarshal(m.Data)
	if err != nil {
		return e, "undecodable: " + err.Error()
	}
	if got := e.Subject(); got != m.Subject {
		return e, fmt.Sprintf("event for %s stored on %s", got, m.Subject)
	}
	if e.PrevHash != prevHash {
		return e, fmt.Sprintf("hash chain broken: prevhash %q, want %q", e.PrevHash, prevHash)
	}
	return e, ""
}

// fold applies e to the aggregate state raw and maintains the indexes that
// depend on it.
func fold(b *pebble.Batch, raw json.RawMessage, e events.Event) (json.RawMessage, error) {
	switch e.Aggregate() {
	case events.AggregateAccount:
		return foldInto[commands.Account](raw, e)
	case events.AggregateUser:
		return foldInto[commands.User](raw, e)
	case events.AggregateEmail:
		return foldInto[commands.EmailOwner](raw, e)
	case events.AggregateLicense:
		out, err := foldInto[commands.License](raw, e)
		if err != nil {
			return nil, err
		}
		var l commands.License
		if err := json.Unmarshal(out, &l); err != nil {
			return nil, err
		}
		key := unassignedKey(e.Account, l.ID)
		if l.Kind == events.KindPractitioner && l.Assignee == "" {
			return out, b.Set(key, nil, nil)
		}
		return out, b.Delete(key, nil)
	}
	return nil, fmt.Errorf("no fold for aggregate %q", e.Aggregate())
}

func foldInto[T any, P interface {
	*T
	Apply(events.Event)
}](raw json.RawMessage, e events.Event) (json.RawMessage, error) {
	var st T
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &st); err != nil {
			return nil, err
		}
	}
	P(&st).Apply(e)
	return json.Marshal(&st)
}

func recordCommand(b *pebble.Batch, e events.Event, m Msg, state json.RawMessage) error {
	key := cmdKey(e.CommandID)
	var cr commandRecord
	raw, err := get(b, key)
	if err != nil {
		return err
	}
	if raw == nil {
		cr = commandRecord{Hash: e.CommandHash, Subject: m.Subject}
	} else if err := json.Unmarshal(raw, &cr); err != nil {
		return fmt.Errorf("command %s: %w", e.CommandID, err)
	}
	cr.Seq = m.Seq
	if cr.Subject == m.Subject {
		cr.State = state
	}
	return putJSON(b, key, cr)
}

func putJSON(b *pebble.Batch, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Set(key, raw, nil)
}
