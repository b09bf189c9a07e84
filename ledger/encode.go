package ledger

import (
	"fmt"
	"strconv"
	"time"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/projections"
)

// eventID is the id, and so the Nats-Msg-Id, of the i-th event of a
// command. A usage event's is derived from its usage id, so that two copies
// of one record collide in JetStream (F2); an alert's and a reminder's from
// what they are about, so that two ledgers raising one collide. A keyed
// command's events take theirs from the command id, so that a replay decided
// again before the projections show the first one's events (which are
// answered before they are applied, or whose acknowledgement was lost)
// collides with them, is refused as a duplicate, and is answered from the
// first once the projections catch up. Any other event gets a new ULID.
//
// Derived ids are keyed with the ledger's secret (events.MAC.DerivedID): the
// same in every ledger process sharing the stream (they share the key), and
// unknown to anyone else, who could otherwise send a message under the id
// of a record not yet sent and have JetStream refuse the record, as a
// duplicate, for its whole duplicate window. A ledger without a key (mac
// nil) derives them from the public values alone.
func eventID(mac *events.MAC, e events.Event, meta Meta, i int) string {
	switch d := e.Data.(type) {
	case events.UsageRecorded:
		return mac.DerivedID("usage", e.Account, d.UsageID)
	case events.ThresholdExceeded: // one per (account, product, day), whoever raises it
		return mac.DerivedID("alert", e.Account, d.Product, d.Day)
	case events.UnassignedReminder: // one per (account, licence, day)
		return mac.DerivedID("reminder", e.Account, d.LicenseID, d.Day)
	}
	if meta.FromIdempotencyKey {
		return mac.DerivedID("command", meta.CommandID, strconv.Itoa(i))
	}
	return events.NewID()
}

// storedOn is the subject an event is stored on: its aggregate's subject
// (events.Event.Subject), or for usage the shard a batch holds.
type storedOn func(events.Event) string

// encode fills in the events' metadata and hash chain and encodes them. Every
// subject an event goes to must have been loaded: its version gives the
// expected last subject sequence and the prevhash.
func (l *Ledger) encode(evs []events.Event, subjectOf storedOn, versions map[string]projections.Version, meta Meta, recorded time.Time) ([]outgoing, error) {
	prev := map[string]string{}
	out := make([]outgoing, 0, len(evs))
	for _, e := range evs {
		subject := subjectOf(e)
		v, ok := versions[subject]
		if !ok {
			return nil, fmt.Errorf("ledger: %s writes to %s, which it did not load", e.Type(), subject)
		}
		ph, seen := prev[subject]
		if !seen {
			ph = v.Hash
		}
		e.ID = eventID(l.mac, e, meta, len(out))
		e.RecordedAt = recorded
		e.Actor, e.CommandID, e.CommandHash = meta.Actor, meta.CommandID, meta.CommandHash
		e.CorrelationID, e.CausationID = meta.CorrelationID, meta.CausationID
		e.PrevHash = ph
		data, err := events.Marshal(e)
		if err != nil {
			return nil, err
		}
		if max := l.maxPayload(); max > 0 && len(data)+1024 > max {
			return nil, commands.Reject(commands.CodeBodyTooLarge,
				"the %s event would be %d bytes, more than the %d a message may hold; send less", e.Type(), len(data), max).
				With("limit", max)
		}
		prev[subject] = events.Hash(data)
		o := outgoing{subject: subject, data: data, msgID: e.ID, expected: v.Seq, expect: !seen}
		if l.mac != nil {
			o.mac = l.mac.Tag(subject, data)
		}
		out = append(out, o)
	}
	// The last event of each subject is signed; its hash chain vouches for
	// the ones before it in this command (events.ChainVerifier).
	if l.signer != nil {
		signed := make(map[string]bool, len(versions))
		for i := len(out) - 1; i >= 0; i-- {
			if o := &out[i]; !signed[o.subject] {
				signed[o.subject] = true
				o.sig = l.signer.Sign(o.subject, o.data)
			}
		}
	}
	return out, nil
}
