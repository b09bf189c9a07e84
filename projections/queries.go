package projections

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
)

// Load returns the state of the aggregate on subject and its version. An
// aggregate with no events gives the zero state and Version{}.
func Load[T any](s *Store, subject string) (T, Version, error) {
	var st T
	release, err := s.read()
	if err != nil {
		return st, Version{}, err
	}
	defer release()
	raw, err := get(s.db, aggKey(subject))
	if err != nil || raw == nil {
		return st, Version{}, err
	}
	var rec record
	if err := rec.unmarshal(raw); err != nil {
		return st, Version{}, fmt.Errorf("projections: aggregate %s: %w", subject, err)
	}
	if len(rec.State) > 0 {
		if err := json.Unmarshal(rec.State, &st); err != nil {
			return st, Version{}, fmt.Errorf("projections: aggregate %s: %w", subject, err)
		}
	}
	return st, rec.Version, nil
}

// Account returns an account's state.
func (s *Store) Account(id string) (commands.Account, Version, error) {
	return Load[commands.Account](s, events.AccountSubject(id))
}

// User returns the state of email in account.
func (s *Store) User(account, email string) (commands.User, Version, error) {
	return Load[commands.User](s, events.UserSubject(account, email))
}

// EmailOwner returns which account email is registered in (A2).
func (s *Store) EmailOwner(email string) (commands.EmailOwner, Version, error) {
	return Load[commands.EmailOwner](s, events.EmailSubject(email))
}

// Session returns the sign-in session of email in account.
func (s *Store) Session(account, email string) (commands.Session, Version, error) {
	return Load[commands.Session](s, events.SessionSubject(account, email))
}

// License returns a licence's state.
func (s *Store) License(account, id string) (commands.License, Version, error) {
	return Load[commands.License](s, events.LicenseSubject(account, id))
}

// Unassigned returns the account's unassigned practitioner licences in id
// order (C7). Whether each is active is the caller's question: it depends on
// the time asked about.
func (s *Store) Unassigned(account string) ([]commands.License, error) {
	return s.indexedLicences(account, unassignedKey(account, ""), "reminders")
}

// LicenceRef names a licence of an account.
type LicenceRef struct{ Account, ID string }

// UnassignedLicences returns every unassigned practitioner licence of every
// account, in key order (G5).
func (s *Store) UnassignedLicences() ([]LicenceRef, error) {
	keys, err := s.keysAfter(prefixUnasg)
	if err != nil {
		return nil, err
	}
	out := make([]LicenceRef, 0, len(keys))
	for _, k := range keys {
		if account, id, ok := strings.Cut(k, "/"); ok {
			out = append(out, LicenceRef{Account: account, ID: id})
		}
	}
	return out, nil
}

// Pooled returns the account's commercial and trial licences that cover
// product, in id order (E1).
func (s *Store) Pooled(account, product string) ([]commands.License, error) {
	return s.indexedLicences(account, pooledKey(account, product, ""), "pooled licences")
}

// indexedLicences returns the licences of account whose ids follow prefix
// in an index, in id order. The index and the licences are read under one
// read guard, the licences in one sorted pass of one iterator (an account
// may hold ten thousand unassigned licences, and a Get each took most of the
// reminders' time).
func (s *Store) indexedLicences(account string, prefix []byte, what string) ([]commands.License, error) {
	release, err := s.read()
	if err != nil {
		return nil, err
	}
	defer release()
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, fmt.Errorf("projections: %s: %w", what, err)
	}
	var ids []string
	for ok := it.First(); ok; ok = it.Next() {
		ids = append(ids, string(it.Key()[len(prefix):]))
	}
	if err := it.Close(); err != nil {
		return nil, fmt.Errorf("projections: %s: %w", what, err)
	}
	keys := make([][]byte, len(ids))
	for i, id := range ids {
		keys[i] = aggKey(events.LicenseSubject(account, id))
	}
	out := make([]commands.License, len(ids))
	found := make(map[string]int, len(ids))
	for i, k := range keys {
		found[string(k)] = i
	}
	err = lookupSorted(s.db, slices.Clone(keys), func(key, value []byte) error {
		var rec record
		if err := rec.unmarshal(value); err != nil {
			return fmt.Errorf("projections: aggregate %s: %w", key, err)
		}
		if len(rec.State) > 0 {
			if err := json.Unmarshal(rec.State, &out[found[string(key)]]); err != nil {
				return fmt.Errorf("projections: aggregate %s: %w", key, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("projections: %s: %w", what, err)
	}
	return out, nil
}

// HistoryEntry is one applied event of an aggregate.
type HistoryEntry struct {
	Seq   uint64
	Event json.RawMessage // the event exactly as stored in the stream
}

// History returns the applied events of the aggregate on subject in stream
// order (H4).
func (s *Store) History(subject string) ([]HistoryEntry, error) {
	prefix := histPrefix(subject)
	release, err := s.read()
	if err != nil {
		return nil, err
	}
	defer release()
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, fmt.Errorf("projections: history: %w", err)
	}
	var out []HistoryEntry
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) != len(prefix)+8 {
			continue
		}
		out = append(out, HistoryEntry{
			Seq:   binary.BigEndian.Uint64(k[len(prefix):]),
			Event: append(json.RawMessage(nil), it.Value()...),
		})
	}
	if err := it.Close(); err != nil {
		return nil, fmt.Errorf("projections: history: %w", err)
	}
	return out, nil
}

// CommandResult is what the ledger recorded of a command.
type CommandResult struct {
	Hash    string          // the command's request digest (events' commandhash)
	Subject string          // its primary aggregate
	Seq     uint64          // the stream sequence of its last event on Subject
	State   json.RawMessage // the primary aggregate's state right after the command
	// RecordedAt is when the ledger decided the command (its events' recordedat).
	RecordedAt time.Time
}

// Command returns the record of a command by id; ok is false if no event of
// that command has been applied. State is rebuilt by folding the primary
// aggregate's history up to the command; it is nil for an aggregate whose
// history the store does not keep (usage).
func (s *Store) Command(id string) (res CommandResult, ok bool, err error) {
	release, err := s.read()
	if err != nil {
		return res, false, err
	}
	raw, err := get(s.db, cmdKey(id))
	release()
	if err != nil || raw == nil {
		return res, false, err
	}
	var cr commandRecord
	if err := json.Unmarshal(raw, &cr); err != nil {
		return res, false, fmt.Errorf("projections: command %s: %w", id, err)
	}
	res = CommandResult{Hash: cr.Hash, Subject: cr.Subject, Seq: cr.Seq, RecordedAt: cr.RecordedAt}
	if _, aggr, _, err := events.ParseSubject(cr.Subject); err != nil || !keepsHistory(aggr) {
		return res, true, nil
	}
	hist, err := s.History(cr.Subject)
	if err != nil {
		return res, false, err
	}
	for _, h := range hist {
		if h.Seq > cr.Seq {
			break
		}
		e, err := events.Unmarshal(h.Event)
		if err != nil {
			return res, false, fmt.Errorf("projections: command %s: history of %s: %w", id, cr.Subject, err)
		}
		if res.State, err = foldState(res.State, e); err != nil {
			return res, false, err
		}
	}
	return res, true, nil
}

// Breaks returns the events that were not applied, in stream order (H3).
func (s *Store) Breaks() ([]Break, error) {
	release, err := s.read()
	if err != nil {
		return nil, err
	}
	defer release()
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefixBreak, UpperBound: prefixEnd(prefixBreak)})
	if err != nil {
		return nil, fmt.Errorf("projections: breaks: %w", err)
	}
	var out []Break
	for ok := it.First(); ok; ok = it.Next() {
		var b Break
		if err := json.Unmarshal(it.Value(), &b); err != nil {
			it.Close()
			return nil, fmt.Errorf("projections: break: %w", err)
		}
		out = append(out, b)
	}
	return out, it.Close()
}
