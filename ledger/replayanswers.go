package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
)

// ReplayAnswersBucket is the JetStream key-value bucket that keeps the
// answers of requests made with an Idempotency-Key that appended nothing: a
// rejection, or a command that changed nothing. Commands that appended
// events need no such record: their events are the record (the projections'
// command records). Without this bucket a replay of a rejection would be
// decided again and could land days later; with it, the same key and body
// get the first answer again for ReplayAnswersTTL, as docs/api.md promises.
//
// Every stored answer carries the ledger's MAC over its key and bytes
// (sealedAnswer): anyone who can write the bucket can delete an answer,
// which only has the command decided again, but cannot make one up.
const ReplayAnswersBucket = "LEDGER_ANSWERS"

// ReplayAnswersTTL is how long the bucket keeps an answer. Keyed rejections
// never appended anything, so without a bound the bucket would grow forever;
// a replay after it is decided again.
const ReplayAnswersTTL = 24 * time.Hour

// ReplayAnswersConfig is the bucket's declared configuration: file storage,
// one value a key, ReplayAnswersTTL, no size limit, with replicas (at least
// 1) when it is created.
func ReplayAnswersConfig(replicas int) jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:      ReplayAnswersBucket,
		Description: "first answers of Idempotency-Key requests that appended nothing",
		History:     1,
		TTL:         ReplayAnswersTTL,
		Storage:     jetstream.FileStorage,
		Replicas:    max(replicas, 1),
	}
}

// OpenReplayAnswers opens the replay-answers bucket, creating it with
// ReplayAnswersConfig(replicas) if it is missing. An existing bucket is
// taken as it is: other ledger processes share it, and none of them lowers
// what another set (the server checks its settings before, see
// server.Dial).
func OpenReplayAnswers(ctx context.Context, js jetstream.JetStream, replicas int) (jetstream.KeyValue, error) {
	kv, err := js.KeyValue(ctx, ReplayAnswersBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, ReplayAnswersConfig(replicas))
		if errors.Is(err, jetstream.ErrBucketExists) { // another process made it first
			kv, err = js.KeyValue(ctx, ReplayAnswersBucket)
		}
	}
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

// rejectionAnswer is the kept answer of a rejected command.
func rejectionAnswer(hash string, rej *commands.Error) keptAnswer {
	return keptAnswer{Hash: hash, Code: rej.Code, Message: rej.Message, Details: rej.Details}
}

// unchangedAnswer is the kept answer of a command that changed nothing: the
// state it answered and when.
func unchangedAnswer(hash string, state json.RawMessage, at time.Time) keptAnswer {
	if state == nil {
		state = json.RawMessage("null")
	}
	return keptAnswer{Hash: hash, State: state, DecidedAt: at}
}

// sealedAnswer is a kept answer as the bucket stores it: the answer's JSON
// and the ledger's MAC (events.MAC.Tag) over it on answerSubject. A ledger
// without a key stores no MAC.
type sealedAnswer struct {
	Answer json.RawMessage `json:"answer"`
	MAC    string          `json:"mac,omitempty"`
}

// answerSubject is what a kept answer's MAC binds it to: its bucket and key,
// so an answer cannot be moved to another command, and no event's MAC (made
// on a subject of the stream) vouches for it.
func answerSubject(id string) string { return ReplayAnswersBucket + "." + id }

// errNotKept is why a stored answer is not taken for one the ledger kept.
var errNotKept = errors.New("not an answer this ledger kept")

// seal encodes r for the bucket under command id.
func seal(mac *events.MAC, id string, r keptAnswer) ([]byte, error) {
	raw, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	s := sealedAnswer{Answer: raw}
	if mac != nil {
		s.MAC = mac.Tag(answerSubject(id), raw)
	}
	return json.Marshal(s)
}

// unseal decodes the stored answer of command id, checking its MAC when the
// ledger has a key.
func unseal(mac *events.MAC, id string, stored []byte) (*keptAnswer, error) {
	var s sealedAnswer
	if err := json.Unmarshal(stored, &s); err != nil {
		return nil, fmt.Errorf("%w: undecodable: %w", errNotKept, err)
	}
	if mac != nil {
		if s.MAC == "" {
			return nil, fmt.Errorf("%w: it carries no MAC", errNotKept)
		}
		if err := mac.Check(answerSubject(id), s.Answer, s.MAC); err != nil {
			return nil, fmt.Errorf("%w: its MAC does not verify for key %s", errNotKept, id)
		}
	}
	var r keptAnswer
	if err := json.Unmarshal(s.Answer, &r); err != nil {
		return nil, fmt.Errorf("%w: undecodable answer: %w", errNotKept, err)
	}
	return &r, nil
}

// lookupAnswer returns the kept answer of command id, if any. A stored entry
// the ledger did not keep (a bad or missing MAC, or bytes that do not
// decode: someone else wrote the bucket) is an integrity break: it is
// logged and counted once, removed, and the command is decided again as if
// no answer were kept.
func (l *Ledger) lookupAnswer(ctx context.Context, id string) (*keptAnswer, error) {
	e, err := l.replayAnswers.get(ctx, id)
	if err != nil || e == nil {
		return nil, err
	}
	r, err := unseal(l.mac, id, e.Value())
	if err == nil {
		return r, nil
	}
	l.logger.Warn("integrity break: a replay answer the ledger did not keep; the command is decided again",
		"bucket", ReplayAnswersBucket, "key", id, "revision", e.Revision(), "reason", err)
	l.metrics.integrityBreak(IntegrityReplayAnswer)
	if err := l.replayAnswers.drop(ctx, id, e.Revision()); err != nil {
		l.logger.Warn("the replay answer the ledger did not keep stays", "key", id, "err", err)
	}
	return nil, nil
}

// keepAnswer keeps r as the first answer of command id. The first answer
// kept wins: a racing identical request that kept its answer first is not
// overwritten.
func (l *Ledger) keepAnswer(ctx context.Context, id string, r keptAnswer) error {
	if l.replayAnswers == nil {
		return nil
	}
	raw, err := seal(l.mac, id, r)
	if err != nil {
		return err
	}
	return l.replayAnswers.create(ctx, id, raw)
}

// replayAnswers is the bucket of kept answers, keyed by command id. A nil
// one keeps nothing.
type replayAnswers struct {
	kv jetstream.KeyValue
}

// get returns the stored entry of command id (nil if none).
func (a *replayAnswers) get(ctx context.Context, id string) (jetstream.KeyValueEntry, error) {
	if a == nil || a.kv == nil {
		return nil, nil
	}
	ctx, cancel := askStream(ctx)
	defer cancel()
	e, err := a.kv.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: replay answers: %w", err)
	}
	return e, nil
}

// create stores raw under command id unless an entry is there already.
func (a *replayAnswers) create(ctx context.Context, id string, raw []byte) error {
	if a == nil || a.kv == nil {
		return nil
	}
	ctx, cancel := askStream(ctx)
	defer cancel()
	if _, err := a.kv.Create(ctx, id, raw); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("ledger: replay answers: %w", err)
	}
	return nil
}

// drop deletes the entry of command id if it is still at revision rev.
func (a *replayAnswers) drop(ctx context.Context, id string, rev uint64) error {
	ctx, cancel := askStream(ctx)
	defer cancel()
	if err := a.kv.Delete(ctx, id, jetstream.LastRevision(rev)); err != nil {
		return fmt.Errorf("ledger: replay answers: %w", err)
	}
	return nil
}
