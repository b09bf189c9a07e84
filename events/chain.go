package events

import (
	"cmp"
	"fmt"
	"slices"
)

// The ledger signs the last event of each subject in each command, not every
// event. The events before it on that subject in the same command are
// authenticated through the hash chain: the signed event carries the hash of
// the one before it, which carries the hash of the one before that, and so
// on. One signature therefore vouches for a whole usage batch of 500 events,
// and an Ed25519 signature (about 18 µs) is no longer paid per record. Every
// event still carries its own MAC, which the ledger's projections check.
//
// A ChainVerifier checks a stream in order with the public key alone, as an
// auditor would (H3).

// Break is an event that failed verification.
type Break struct {
	Seq     uint64
	Subject string
	Reason  string
}

// ChainVerifier walks a stream's events in order and reports every event that
// is not authenticated: an unsigned event counts only once a signed event
// later on its subject chains back to it. It is not safe for concurrent use.
type ChainVerifier struct {
	keys     *Verifier
	subjects map[string]*chain
}

// chain is what the verifier knows of one subject.
type chain struct {
	authentic string // hash of the last authenticated event; "" before the first
	// pending are the unsigned events after it, waiting for a signed event
	// to vouch for them. They may fork (an event injected by someone else
	// and the ledger's own next event both continue the same tip), so each
	// names its parent; the signed event covers only its own ancestors.
	pending []pending
	byHash  map[string]int // pending index by hash
}

type pending struct {
	seq        uint64
	hash, prev string
}

// continues reports whether an event with this prevhash extends the chain:
// it follows the last authenticated event or a pending one.
func (c *chain) continues(prev string) bool {
	_, ok := c.byHash[prev]
	return ok || prev == c.authentic
}

// NewChainVerifier checks signatures against keys.
func NewChainVerifier(keys *Verifier) *ChainVerifier {
	return &ChainVerifier{keys: keys, subjects: map[string]*chain{}}
}

// Subjects is the number of distinct subjects seen.
func (v *ChainVerifier) Subjects() int { return len(v.subjects) }

// Add checks the event stored at seq on subject, with the SignatureHeader
// value sig ("" for an unsigned event), and returns the breaks it settles:
// the event itself if it is bad, and unsigned events before it on its subject
// that it shows can never be covered.
func (v *ChainVerifier) Add(seq uint64, subject string, data []byte, sig string) []Break {
	c := v.subjects[subject]
	if c == nil {
		c = &chain{}
		v.subjects[subject] = c
	}
	e, err := Unmarshal(data)
	switch {
	case sig != "":
		if err := v.keys.Verify(subject, data, sig); err != nil {
			return []Break{{seq, subject, "not written by the ledger: " + err.Error()}}
		}
	case err == nil && !c.continues(e.PrevHash):
		// An unsigned event that continues nothing known can never be
		// covered: a signed event vouches only for its own ancestors.
		return []Break{{seq, subject, fmt.Sprintf("hash chain broken: prevhash %q follows no event of the subject", e.PrevHash)}}
	}
	if err != nil {
		return []Break{{seq, subject, "undecodable: " + err.Error()}}
	}
	if !StoredOn(e, subject) {
		return []Break{{seq, subject, fmt.Sprintf("event for %s stored on %s", e.Subject(), subject)}}
	}
	h := Hash(data)
	if sig == "" {
		if c.byHash == nil {
			c.byHash = map[string]int{}
		}
		if _, dup := c.byHash[h]; !dup {
			c.byHash[h] = len(c.pending)
		}
		c.pending = append(c.pending, pending{seq, h, e.PrevHash})
		return nil
	}
	if !c.continues(e.PrevHash) {
		return []Break{{seq, subject, fmt.Sprintf("hash chain broken: prevhash %q, want %q", e.PrevHash, c.authentic)}}
	}
	// The signed event authenticates its ancestors among the pending events;
	// every other pending event is another history nothing will vouch for.
	covered := make([]bool, len(c.pending))
	for prev := e.PrevHash; prev != c.authentic; {
		i := c.byHash[prev]
		covered[i] = true
		prev = c.pending[i].prev
	}
	var breaks []Break
	for i, p := range c.pending {
		if !covered[i] {
			breaks = append(breaks, uncoveredBreak(subject, p))
		}
	}
	c.authentic, c.pending = h, c.pending[:0]
	clear(c.byHash)
	return breaks
}

// Finish reports the unsigned events that no signed event covered, in stream
// order. The ledger ends every command's events on each subject with a signed
// one, so a stream it wrote leaves none.
func (v *ChainVerifier) Finish() []Break {
	var out []Break
	for subject, c := range v.subjects {
		for _, p := range c.pending {
			out = append(out, uncoveredBreak(subject, p))
		}
		c.pending, c.byHash = nil, nil
	}
	slices.SortFunc(out, func(a, b Break) int { return cmp.Compare(a.Seq, b.Seq) })
	return out
}

func uncoveredBreak(subject string, p pending) Break {
	return Break{p.seq, subject, "unsigned, and no signed event after it on its subject vouches for it"}
}
