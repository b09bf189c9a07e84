package api

import (
	"net/http"

	"github.com/entledger/ledger/ledger"
)

// IntegrityView is the answer of GET /v1/integrity (H3).
type IntegrityView struct {
	Breaks          int        `json:"breaks"`
	FirstBreak      *BreakView `json:"first_break"` // null without a break
	LastVerifiedSeq uint64     `json:"last_verified_seq"`
	StreamProblems  []string   `json:"stream_problems"`
}

// BreakView is an event the projections did not apply.
type BreakView struct {
	Seq     uint64  `json:"seq"`
	Subject string  `json:"subject"`
	Reason  string  `json:"reason"`
	Account *string `json:"account"` // null for a subject of no one account
}

func integrityView(rep ledger.IntegrityReport) IntegrityView {
	v := IntegrityView{Breaks: rep.Breaks, LastVerifiedSeq: rep.LastVerifiedSeq, StreamProblems: rep.StreamProblems}
	if b := rep.FirstBreak; b != nil {
		v.FirstBreak = &BreakView{Seq: b.Seq, Subject: b.Subject, Reason: b.Reason, Account: nullable(b.Account())}
	}
	return v
}

// integrity answers the breaks the caller's token may see: its account's,
// or every one for a token of every account (S2).
func (a *API) integrity(w http.ResponseWriter, r *http.Request) error {
	rep, err := a.l.Integrity(principal(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, integrityView(rep))
	return nil
}
