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

// ReplayAnswersBucket is the JetStream key-value bucket that keeps the
// answers of requests made with an Idempotency-Key that appended nothing: a
// rejection, or a command that changed nothing. Commands that appended
// events need no such record: their events are the record (the projections'
// command records). Without this bucket a replay of a rejection would be
// decided again and could land days later; with it, the same key and body
// get the first answer again, as docs/api.md promises.
const ReplayAnswersBucket = "LEDGER_ANSWERS"

// replayAnswers stores the first answers that appended nothing, keyed by
// command id.
type replayAnswers struct {
	kv jetstream.KeyValue
}

// OpenReplayAnswers creates or opens the replay-answers bucket.
func OpenReplayAnswers(ctx context.Context, js jetstream.JetStream, replicas int) (jetstream.KeyValue, error) {
	if replicas < 1 {
		replicas = 1
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      ReplayAnswersBucket,
		Description: "first answers of Idempotency-Key requests that appended nothing",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("ledger: answers bucket: %w", err)
	}
	return kv, nil
}

// keptAnswer is a first answer that appended nothing: a rejection (Code
// set), or a command that changed nothing (State set).
type keptAnswer struct {
	Hash      string          `json:"hash"`
	Code      string          `json:"code,omitempty"`
	Message   string          `json:"message,omitempty"`
	Details   map[string]any  `json:"details,omitempty"`
	State     json.RawMessage `json:"state,omitempty"`
	DecidedAt time.Time       `json:"decided_at"`
}

// lookup returns the kept answer of command id, if any.
func (a *replayAnswers) lookup(ctx context.Context, id string) (*keptAnswer, error) {
	if a == nil || a.kv == nil {
		return nil, nil
	}
	e, err := a.kv.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: replay answers: %w", err)
	}
	var r keptAnswer
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return nil, fmt.Errorf("ledger: replay answers: %s: %w", id, err)
	}
	return &r, nil
}

// keepRejection keeps rej as the first answer of command id. The first
// answer kept wins: a racing identical request that kept its answer first is
// not overwritten.
func (a *replayAnswers) keepRejection(ctx context.Context, id, hash string, rej *commands.Error) error {
	return a.put(ctx, id, keptAnswer{Hash: hash, Code: rej.Code, Message: rej.Message, Details: rej.Details})
}

// keepUnchanged keeps the answer of a command that changed nothing: the
// state it answered and when.
func (a *replayAnswers) keepUnchanged(ctx context.Context, id, hash string, state json.RawMessage, at time.Time) error {
	if state == nil {
		state = json.RawMessage("null")
	}
	return a.put(ctx, id, keptAnswer{Hash: hash, State: state, DecidedAt: at})
}

func (a *replayAnswers) put(ctx context.Context, id string, r keptAnswer) error {
	if a == nil || a.kv == nil {
		return nil
	}
	raw, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if _, err := a.kv.Create(ctx, id, raw); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("ledger: replay answers: %w", err)
	}
	return nil
}
