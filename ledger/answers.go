package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/entledger/ledger/commands"
)

// AnswersBucket is the JetStream key-value bucket that keeps the rejected
// answers of requests made with an Idempotency-Key. Accepted commands need
// no such record: their events are the record (projections' command
// records). A rejection appends no event, so without this bucket a replay
// would be decided again and could land days later; with it, the same key
// and body get the first answer again, as API.md promises.
const AnswersBucket = "LEDGER_ANSWERS"

// answers stores first answers that were rejections, keyed by command id.
type answers struct {
	kv jetstream.KeyValue
}

// OpenAnswers creates or opens the answers bucket.
func OpenAnswers(ctx context.Context, js jetstream.JetStream, replicas int) (jetstream.KeyValue, error) {
	if replicas < 1 {
		replicas = 1
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      AnswersBucket,
		Description: "first answers of rejected Idempotency-Key requests",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("ledger: answers bucket: %w", err)
	}
	return kv, nil
}

// storedRejection is a first answer that appended nothing: a rejection
// (Code set), or a command that changed nothing (State set).
type storedRejection struct {
	Hash      string          `json:"hash"`
	Code      string          `json:"code,omitempty"`
	Message   string          `json:"message,omitempty"`
	Details   map[string]any  `json:"details,omitempty"`
	State     json.RawMessage `json:"state,omitempty"`
	DecidedAt time.Time       `json:"decided_at"`
}

// lookup returns the recorded rejection of command id, if any.
func (a *answers) lookup(ctx context.Context, id string) (*storedRejection, error) {
	if a == nil || a.kv == nil {
		return nil, nil
	}
	e, err := a.kv.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: answers: %w", err)
	}
	var r storedRejection
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return nil, fmt.Errorf("ledger: answers: %s: %w", id, err)
	}
	return &r, nil
}

// record keeps rej as the first answer of command id. The first record
// wins: a racing identical request that recorded first is not overwritten.
func (a *answers) record(ctx context.Context, id, hash string, rej *commands.Error) error {
	return a.put(ctx, id, storedRejection{Hash: hash, Code: rej.Code, Message: rej.Message, Details: rej.Details})
}

// recordUnchanged keeps the answer of a command that changed nothing: the
// state it answered and when.
func (a *answers) recordUnchanged(ctx context.Context, id, hash string, state json.RawMessage, at time.Time) error {
	if state == nil {
		state = json.RawMessage("null")
	}
	return a.put(ctx, id, storedRejection{Hash: hash, State: state, DecidedAt: at})
}

func (a *answers) put(ctx context.Context, id string, r storedRejection) error {
	if a == nil || a.kv == nil {
		return nil
	}
	raw, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if _, err := a.kv.Create(ctx, id, raw); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("ledger: answers: %w", err)
	}
	return nil
}
