package ledger

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
)

// ExportedEvent is one event of an export: its stream sequence and the event
// exactly as stored.
type ExportedEvent struct {
	Seq   uint64          `json:"seq"`
	Event json.RawMessage `json:"event"`
}

// ExportUsage calls each with the account's usage events with a stream
// sequence in [fromSeq, toSeq], in stream order, read from the stream
// itself (toSeq 0: the stream's last sequence when the call starts). A
// billing system resumes an export at the sequence after the last one it
// read. Messages the ledger did not write (their MAC does not verify) are
// left out: they are breaks (H3), never usage.
func (l *Ledger) ExportUsage(ctx context.Context, account string, fromSeq, toSeq uint64, each func(ExportedEvent) error) error {
	if _, err := l.Account(account); err != nil {
		return err
	}
	if fromSeq < 1 {
		return commands.Invalid("from_seq", "%d; want a stream sequence from 1", fromSeq)
	}
	info, err := l.stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("ledger: stream info: %w", err)
	}
	last := info.State.LastSeq
	if toSeq == 0 || toSeq > last {
		toSeq = last
	}
	if toSeq < fromSeq {
		return nil
	}
	cons, err := l.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{events.SubjectPrefix + account + "." + events.AggregateUsage + ".>"},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy, OptStartSeq: fromSeq,
	})
	if err != nil {
		return fmt.Errorf("ledger: export: %w", err)
	}
	// The consumer lives on the server: delete it when the export ends,
	// rather than leave it to expire, so that exports polled often do not
	// pile consumers up.
	defer func() {
		if info := cons.CachedInfo(); info != nil {
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			l.stream.DeleteConsumer(dctx, info.Name)
		}
	}()
	ci, err := cons.Info(ctx)
	if err != nil {
		return fmt.Errorf("ledger: export: %w", err)
	}
	if ci.NumPending == 0 {
		return nil // no usage of the account from fromSeq on
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("ledger: export: %w", err)
	}
	defer it.Stop()
	for {
		// The last usage event may lie below toSeq: each message says how
		// many of the account's usage messages follow it.
		m, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			return fmt.Errorf("ledger: export: %w", err)
		}
		md, err := m.Metadata()
		if err != nil {
			return fmt.Errorf("ledger: export: %w", err)
		}
		seq := md.Sequence.Stream
		if seq > toSeq {
			return nil
		}
		if l.mac == nil || l.mac.Check(m.Subject(), m.Data(), m.Headers().Get(events.MACHeader)) == nil {
			if err := each(ExportedEvent{Seq: seq, Event: m.Data()}); err != nil {
				return err
			}
		}
		if seq == toSeq || md.NumPending == 0 {
			return nil
		}
	}
}
