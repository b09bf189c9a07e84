package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/entledger/ledger/events"
)

// Header names of JetStream's publish protocol.
const (
	hdrMsgID          = "Nats-Msg-Id"
	hdrExpectedSubSeq = "Nats-Expected-Last-Subject-Sequence"
	hdrBatchID        = "Nats-Batch-Id"
	hdrBatchSeq       = "Nats-Batch-Sequence"
	hdrBatchCommit    = "Nats-Batch-Commit"
)

// JetStream error codes the appender tells apart (appendError).
const (
	errCodeWrongLastSeq      = 10071 // JSStreamWrongLastSequenceErrF
	errCodeWrongLastSeqConst = 10164 // JSStreamWrongLastSequenceConstantErr (clustered)
	errCodeDuplicateInFlight = 10158 // JSStreamDuplicateMessageConflict: the id is being stored (clustered)
	errCodeBatchDuplicate    = 10201 // JSAtomicPublishContainsDuplicateMessageErr
	errCodeBatchIncomplete   = 10176 // JSAtomicPublishIncompleteBatchErr: the server refused part of it
)

// The answers of JetStream that another writer can cause, each a lost race
// (lostRace), never a failure: the command is decided again, or, for an
// event the ledger emits itself, it is there already (rule H5).
var (
	// ErrConflict: an aggregate changed between load and append (another
	// writer won the expected-last-subject-sequence check).
	ErrConflict = errors.New("ledger: concurrent change")
	// ErrDuplicate: JetStream holds, or is storing, a message with the id
	// of one of the append's: a retried append whose first try landed, or
	// the same event appended by another ledger process (a usage record, an
	// alert or reminder, a keyed command sent to two processes; their ids
	// are derived from what they are about, see eventID).
	ErrDuplicate = errors.New("ledger: duplicate append")
)

// commitTimeout bounds the wait for an atomic batch's commit reply.
const commitTimeout = 10 * time.Second

// outgoing is one encoded event ready to publish.
type outgoing struct {
	subject  string
	data     []byte
	msgID    string
	expected uint64 // expected last subject sequence
	expect   bool   // set the expected-sequence header (first event per subject)
	sig      string // events.SignatureHeader value; "" for none
	mac      string // events.MACHeader value; "" for none
}

// appender publishes encoded events to the stream: one event as a plain
// JetStream publish, several as one atomic batch that lands whole or not at
// all.
type appender struct {
	nc *nats.Conn
	js jetstream.JetStream
	// observe records how long JetStream took to answer a publish of n
	// messages (nil: not recorded).
	observe func(n int, start time.Time)
}

// append publishes msgs and returns the stream sequence of the last one.
func (a *appender) append(ctx context.Context, msgs []outgoing) (uint64, error) {
	if len(msgs) == 0 {
		return 0, errors.New("ledger: append of nothing")
	}
	start := time.Now()
	seq, err := a.publish(ctx, msgs)
	if a.observe != nil && ctx.Err() == nil {
		a.observe(len(msgs), start)
	}
	return seq, err
}

// publish sends one message as a plain publish, several as a batch.
func (a *appender) publish(ctx context.Context, msgs []outgoing) (uint64, error) {
	if len(msgs) == 1 {
		return a.publishOne(ctx, msgs[0])
	}
	return a.publishBatch(ctx, msgs)
}

func header(m outgoing) nats.Header {
	h := nats.Header{}
	h.Set(hdrMsgID, m.msgID)
	if m.sig != "" {
		h.Set(events.SignatureHeader, m.sig)
	}
	if m.mac != "" {
		h.Set(events.MACHeader, m.mac)
	}
	if m.expect {
		h.Set(hdrExpectedSubSeq, strconv.FormatUint(m.expected, 10))
	}
	return h
}

func (a *appender) publishOne(ctx context.Context, m outgoing) (uint64, error) {
	ctx, cancel := askStream(ctx)
	defer cancel()
	ack, err := a.js.PublishMsg(ctx, &nats.Msg{Subject: m.subject, Data: m.data, Header: header(m)})
	if err != nil {
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) {
			return 0, appendError(int(apiErr.ErrorCode), apiErr.Description)
		}
		return 0, fmt.Errorf("ledger: publish %s: %w", m.subject, err)
	}
	if ack.Duplicate {
		return ack.Sequence, ErrDuplicate
	}
	return ack.Sequence, nil
}

// batchAck is the server's answer to the commit message of an atomic batch.
type batchAck struct {
	Stream string `json:"stream"`
	Seq    uint64 `json:"seq"`
	Batch  string `json:"batch"`
	Count  int    `json:"count"`
	Error  *struct {
		Code        int    `json:"code"`
		ErrCode     int    `json:"err_code"`
		Description string `json:"description"`
	} `json:"error"`
}

// publishBatch sends msgs as one atomic batch (ADR-50): every message names
// the batch and its place in it, the last one commits. Only the commit is a
// request; the server answers it once the whole batch is stored, or rejects
// the whole batch.
func (a *appender) publishBatch(ctx context.Context, msgs []outgoing) (uint64, error) {
	// A lost commit reply must not hold the appender forever; the caller's
	// retry finds a batch that did land by its command id.
	ctx, cancel := context.WithTimeout(ctx, commitTimeout)
	defer cancel()
	batchID := nats.NewInbox()[len(nats.InboxPrefix):] // a unique token of ≤ 64 bytes
	for i, m := range msgs {
		h := header(m)
		h.Set(hdrBatchID, batchID)
		h.Set(hdrBatchSeq, strconv.Itoa(i+1))
		msg := &nats.Msg{Subject: m.subject, Data: m.data, Header: h}
		if i < len(msgs)-1 {
			if err := a.nc.PublishMsg(msg); err != nil {
				return 0, fmt.Errorf("ledger: publish batch: %w", err)
			}
			continue
		}
		h.Set(hdrBatchCommit, "1")
		reply, err := a.nc.RequestMsgWithContext(ctx, msg)
		if err != nil {
			return 0, fmt.Errorf("ledger: commit batch: %w", err)
		}
		var ack batchAck
		if err := json.Unmarshal(reply.Data, &ack); err != nil {
			return 0, fmt.Errorf("ledger: commit batch: bad reply %q: %w", reply.Data, err)
		}
		if ack.Error != nil {
			return 0, appendError(ack.Error.ErrCode, ack.Error.Description)
		}
		if ack.Count != len(msgs) {
			return 0, fmt.Errorf("ledger: commit batch: server stored %d of %d messages", ack.Count, len(msgs))
		}
		return ack.Seq, nil
	}
	panic("unreachable")
}

// appendError is the error of an append JetStream refused with code: the
// one place that tells a lost race from a failure, for plain publishes and
// atomic batches alike.
func appendError(code int, desc string) error {
	switch code {
	case errCodeWrongLastSeq, errCodeWrongLastSeqConst:
		return fmt.Errorf("%w: %s", ErrConflict, desc)
	case errCodeBatchIncomplete:
		// The server dropped part of the batch (too many batches in flight,
		// say) and stored none of it: the append can be made again.
		return fmt.Errorf("%w: %s", ErrConflict, desc)
	case errCodeBatchDuplicate, errCodeDuplicateInFlight:
		// Stored already, or being stored by another process's publish on
		// a replicated stream: in both cases this append stored nothing.
		return fmt.Errorf("%w: %d %s", ErrDuplicate, code, desc)
	}
	return fmt.Errorf("ledger: jetstream error %d: %s", code, desc)
}
