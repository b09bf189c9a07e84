package subscriber

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/entledger/ledger/events"
)

// Break is an event that failed verification: it never reaches the
// handler.
type Break struct {
	Seq     uint64
	Subject string
	Reason  string
}

// vouchWindow bounds how many messages may follow an unsigned event before
// the signed event that vouches for it: the ledger appends each command's
// events in one atomic batch (at most 1,000 messages), signed last.
const vouchWindow = 2000

// message is one event on its way to the handler.
type message struct {
	seq     uint64
	subject string
	data    []byte
	hash    string
	prev    string
	event   events.Event // the decoded event when its type is known
	typ     string
	known   bool
	settled bool
	broken  string // the reason it failed; "" when authentic
	msg     jetstream.Msg
}

// chain is what the verifier knows of one subject: the hash of its last
// authenticated event ("" with anchored false: none seen since the start
// of this run), and the unsigned events after it waiting to be vouched for.
type chain struct {
	tip      string
	anchored bool
	pending  map[string]*message // by hash
}

// verifier checks messages in stream order. It is not safe for concurrent
// use, except precheck, which reads only the key.
type verifier struct {
	keys     *events.Verifier
	subjects map[string]*chain
	waiting  []*message // unsigned messages as they came, for expire; settled ones are skipped
	fromZero bool       // the run reads from the stream's start: every chain starts at ""
}

func newVerifier(keys *events.Verifier, fromZero bool) *verifier {
	return &verifier{keys: keys, subjects: map[string]*chain{}, fromZero: fromZero}
}

// precheck is the part of a message's verification that needs neither the
// other messages nor their order: decoding, hashing and checking the
// signature (the costly part: an Ed25519 verification for nearly every
// event of a licence or a user). Run does it on several goroutines ahead of
// add, which follows stream order.
type precheck struct {
	signed bool
	decErr error // undecodable
	sigErr error // signed, but not by the ledger's key
}

func (v *verifier) precheck(m *message, signature string) precheck {
	p := precheck{signed: signature != ""}
	if p.decErr = decode(m); p.decErr == nil && p.signed {
		p.sigErr = v.keys.Verify(m.subject, m.data, signature)
	}
	return p
}

// add checks m, prechecked, and settles it, or leaves it pending; it may
// settle pending messages of m's subject too.
func (v *verifier) add(m *message, p precheck) {
	c := v.subjects[m.subject]
	if c == nil {
		c = &chain{anchored: v.fromZero, pending: map[string]*message{}}
		v.subjects[m.subject] = c
	}
	if err := p.decErr; err != nil {
		settle(m, "undecodable: "+err.Error())
		return
	}
	if !p.signed {
		if c.anchored && c.tip != m.prev && c.pending[m.prev] == nil {
			settle(m, fmt.Sprintf("hash chain broken: prevhash %q follows no event of the subject", m.prev))
			return
		}
		c.pending[m.hash] = m
		v.waiting = append(v.waiting, m)
		return
	}
	if err := p.sigErr; err != nil {
		settle(m, "not written by the ledger: "+err.Error())
		return
	}
	covered := map[*message]bool{}
	prev := m.prev
	for p := c.pending[prev]; p != nil; p = c.pending[prev] {
		covered[p] = true
		prev = p.prev
	}
	if c.anchored && prev != c.tip {
		settle(m, fmt.Sprintf("hash chain broken: prevhash %q, want %q", m.prev, c.tip))
		return
	}
	for _, p := range c.pending {
		if covered[p] {
			settle(p, "")
		} else {
			settle(p, "unsigned, and the signed event after it on its subject does not vouch for it")
		}
	}
	clear(c.pending)
	c.tip, c.anchored = m.hash, true
	settle(m, "")
}

// expire settles as broken every pending message at or before seq: no
// signed event vouched for it in time.
func (v *verifier) expire(seq uint64) {
	for len(v.waiting) > 0 && v.waiting[0].seq <= seq {
		m := v.waiting[0]
		v.waiting = v.waiting[1:]
		if !m.settled {
			settle(m, "unsigned, and no signed event vouched for it")
			delete(v.subjects[m.subject].pending, m.hash)
		}
	}
}

func settle(m *message, broken string) { m.settled, m.broken = true, broken }

// decode reads m's event: typed when its type is known, else only what
// verification needs (its type is future: delivered raw).
func decode(m *message) error {
	m.hash = events.Hash(m.data)
	e, err := events.Unmarshal(m.data)
	switch {
	case err == nil:
		if !events.StoredOn(e, m.subject) {
			return fmt.Errorf("event for %s stored on %s", e.Subject(), m.subject)
		}
		m.event, m.known, m.prev, m.typ = e, true, e.PrevHash, e.Type()
		return nil
	case errors.Is(err, events.ErrUnknownType), errors.Is(err, events.ErrUnknownVersion):
		var env struct {
			ID       string `json:"id"`
			Type     string `json:"type"`
			PrevHash string `json:"prevhash"`
		}
		if err := json.Unmarshal(m.data, &env); err != nil || env.ID == "" || env.Type == "" {
			return fmt.Errorf("not a CloudEvent: %v", err)
		}
		m.prev, m.typ = env.PrevHash, env.Type
		m.event = events.Event{ID: env.ID, PrevHash: env.PrevHash}
		return nil
	default:
		return err
	}
}
