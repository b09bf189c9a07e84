package ledger

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/entledger/ledger/events"
)

// VerifyReport is what Verify found.
type VerifyReport struct {
	Events     uint64 // messages checked
	Aggregates int    // distinct subjects
	Breaks     int    // messages that failed a check
	First      *VerifyBreak
}

// VerifyBreak is the first message that failed a check.
type VerifyBreak struct {
	Seq     uint64
	Subject string
	Reason  string
}

// Verify walks the whole stream, as an auditor would with nothing but the
// ledger's public key (H3), and checks every message: its Ed25519 signature
// over subject and bytes, strict decoding, that it sits on its aggregate's
// subject, and that it carries the hash of the aggregate's previous valid
// event. It reads through one ordered consumer; with a stream from
// DialExisting it changes nothing.
func Verify(ctx context.Context, stream jetstream.Stream, pub *events.Verifier) (VerifyReport, error) {
	var rep VerifyReport
	info, err := stream.Info(ctx)
	if err != nil {
		return rep, fmt.Errorf("ledger: verify: stream info: %w", err)
	}
	last := info.State.LastSeq
	if info.State.Msgs == 0 {
		return rep, nil
	}
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return rep, fmt.Errorf("ledger: verify: %w", err)
	}
	it, err := cons.Messages()
	if err != nil {
		return rep, fmt.Errorf("ledger: verify: %w", err)
	}
	defer it.Stop()
	chain := map[string]string{} // subject → hash of its last valid event
	for {
		m, err := it.Next()
		if err != nil {
			return rep, fmt.Errorf("ledger: verify: %w", err)
		}
		md, err := m.Metadata()
		if err != nil {
			return rep, fmt.Errorf("ledger: verify: %w", err)
		}
		rep.Events++
		subject, data := m.Subject(), m.Data()
		if _, seen := chain[subject]; !seen {
			chain[subject] = ""
		}
		if reason := verifyOne(pub, subject, data, m.Headers().Get(events.SignatureHeader), chain[subject]); reason != "" {
			rep.Breaks++
			if rep.First == nil {
				rep.First = &VerifyBreak{Seq: md.Sequence.Stream, Subject: subject, Reason: reason}
			}
		} else {
			chain[subject] = events.Hash(data)
		}
		if md.Sequence.Stream >= last {
			break
		}
	}
	rep.Aggregates = len(chain)
	return rep, nil
}

func verifyOne(pub *events.Verifier, subject string, data []byte, sig, prevHash string) string {
	if err := pub.Verify(subject, data, sig); err != nil {
		return "not written by the ledger: " + err.Error()
	}
	e, err := events.Unmarshal(data)
	if err != nil {
		return "undecodable: " + err.Error()
	}
	if e.Subject() != subject {
		return fmt.Sprintf("event for %s stored on %s", e.Subject(), subject)
	}
	if e.PrevHash != prevHash {
		return fmt.Sprintf("hash chain broken: prevhash %q, want %q", e.PrevHash, prevHash)
	}
	return ""
}
