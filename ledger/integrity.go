package ledger

import (
	"fmt"
	"sync"

	"github.com/entledger/ledger/auth"
	"github.com/entledger/ledger/projections"
)

// IntegrityReport is the ledger's integrity while it runs (H3), as one
// principal may see it.
type IntegrityReport struct {
	// Breaks counts the events the projections did not apply, up to
	// LastVerifiedSeq, that the principal may see.
	Breaks int
	// FirstBreak is the first of them; nil when there is none.
	FirstBreak *projections.Break
	// LastVerifiedSeq is the projections' checkpoint: every event up to it
	// was checked (MAC, decoding, subject, hash chain) before it was
	// applied or recorded as a break.
	LastVerifiedSeq uint64
	// StreamProblems are what the last stream check found wrong with the
	// stream itself (server.CheckStream); empty when it found nothing or
	// has not run yet.
	StreamProblems []string
}

// integrity holds what the ledger is told of its stream between checks.
type integrity struct {
	mu             sync.Mutex
	streamProblems []string
}

// Integrity reports the events' breaks that p may see and the stream's
// problems. A token scoped to an account sees the breaks on that account's
// subjects only; a break on a subject of no one account (_global, or not a
// ledger subject) only a token of every account sees (S2).
func (l *Ledger) Integrity(p auth.Principal) (IntegrityReport, error) {
	rep := IntegrityReport{LastVerifiedSeq: l.store.Checkpoint(), StreamProblems: l.StreamProblems()}
	breaks, err := l.store.Breaks()
	if err != nil {
		return rep, err
	}
	for _, b := range breaks {
		// A break committed after the checkpoint was read is left for the
		// next report, so the report is as of LastVerifiedSeq.
		if b.Seq > rep.LastVerifiedSeq || !seesBreak(p, b) {
			continue
		}
		rep.Breaks++
		if rep.FirstBreak == nil {
			rep.FirstBreak = &b
		}
	}
	return rep, nil
}

// seesBreak reports whether p may see b: a break of an account to a token
// that reaches it, one of no account to a token of every account.
func seesBreak(p auth.Principal, b projections.Break) bool {
	if account := b.Account(); account != "" {
		return p.Reaches(account)
	}
	return p.Account == ""
}

// IntegrityNote sums the events' breaks up for /readyz, which anyone may
// read: their count and the first one's sequence, never its subject or
// reason, which name an account. It is "" when there is no break.
func (l *Ledger) IntegrityNote() string {
	n, first, ok := l.store.BreakSummary()
	if !ok {
		return ""
	}
	noun := "breaks"
	if n == 1 {
		noun = "break"
	}
	return fmt.Sprintf("%d %s, first at sequence %d", n, noun, first.Seq)
}

// SetStreamProblems records what the latest stream check found (nil:
// nothing), for Integrity.
func (l *Ledger) SetStreamProblems(problems []string) {
	l.integrity.mu.Lock()
	defer l.integrity.mu.Unlock()
	l.integrity.streamProblems = append([]string(nil), problems...)
}

// StreamProblems is what the latest stream check found, never nil.
func (l *Ledger) StreamProblems() []string {
	l.integrity.mu.Lock()
	defer l.integrity.mu.Unlock()
	return append([]string{}, l.integrity.streamProblems...)
}

// reportEventBreaks is the projections' OnBreaks hook: each break a batch
// recorded is a warning, once, and one count of IntegrityEvent. Breaks of
// an earlier process or a rebuild are not reported again: the store tells
// only of what it applies.
func (l *Ledger) reportEventBreaks(breaks []projections.Break) {
	for _, b := range breaks {
		l.logger.Warn("integrity break: an event was not applied to the projections",
			"seq", b.Seq, "subject", b.Subject, "reason", b.Reason)
		l.metrics.integrityBreak(IntegrityEvent)
	}
}
