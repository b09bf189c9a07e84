package server

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/entledger/ledger/events"
)

// VerifyReport is what VerifyStream found.
type VerifyReport struct {
	Events     uint64 // messages checked
	Aggregates int    // distinct subjects
	Breaks     int    // messages that failed a check
	First      *VerifyBreak
	// Stream lists what is wrong with the stream itself (CheckStream):
	// messages deleted, a setting that could lose or rewrite events.
	Stream []string
}

// OK reports whether the stream verified: no break, nothing wrong with it.
func (r VerifyReport) OK() bool { return r.First == nil && len(r.Stream) == 0 }

// VerifyBreak is the first message that failed a check.
type VerifyBreak struct {
	Seq     uint64
	Subject string
	Reason  string
}

// VerifyStream walks the whole stream, as an auditor would with nothing but the
// ledger's public key (H3), and checks every message: strict decoding, that
// it sits on its aggregate's subject, that it carries the hash of the
// aggregate's previous event, and that an Ed25519 signature vouches for it,
// its own or that of the signed event closing its command on its subject
// (see events.ChainVerifier). It also reports what is wrong with the stream
// itself, messages deleted above all, which no walk of what is left can
// see. It reads through one ordered consumer; with a stream from
// DialExisting it changes nothing.
func VerifyStream(ctx context.Context, stream jetstream.Stream, pub *events.Verifier) (VerifyReport, error) {
	var rep VerifyReport
	info, err := stream.Info(ctx)
	if err != nil {
		return rep, fmt.Errorf("server: verify: stream info: %w", err)
	}
	rep.Stream = streamProblems(info, nil)
	last := info.State.LastSeq
	if info.State.Msgs == 0 {
		return rep, nil
	}
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return rep, fmt.Errorf("server: verify: %w", err)
	}
	it, err := cons.Messages()
	if err != nil {
		return rep, fmt.Errorf("server: verify: %w", err)
	}
	defer it.Stop()
	chain := events.NewChainVerifier(pub)
	note := func(bs []events.Break) {
		for _, b := range bs {
			rep.Breaks++
			if rep.First == nil || b.Seq < rep.First.Seq {
				rep.First = &VerifyBreak{Seq: b.Seq, Subject: b.Subject, Reason: b.Reason}
			}
		}
	}
	for {
		m, err := it.Next()
		if err != nil {
			return rep, fmt.Errorf("server: verify: %w", err)
		}
		md, err := m.Metadata()
		if err != nil {
			return rep, fmt.Errorf("server: verify: %w", err)
		}
		rep.Events++
		note(chain.Add(md.Sequence.Stream, m.Subject(), m.Data(), m.Headers().Get(events.SignatureHeader)))
		if md.Sequence.Stream >= last {
			break
		}
	}
	note(chain.Finish())
	rep.Aggregates = chain.Subjects()
	return rep, nil
}
