package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/projections"
)

// loader reads aggregate states for a decision and remembers the version of
// each, which becomes the expected last subject sequence of the append.
type loader struct {
	store    *projections.Store
	versions map[string]projections.Version
	err      error
}

func newLoader(store *projections.Store) *loader {
	return &loader{store: store, versions: map[string]projections.Version{}}
}

func load[T any](ld *loader, subject string) T {
	st, v, err := projections.Load[T](ld.store, subject)
	if err != nil && ld.err == nil {
		ld.err = err
	}
	ld.versions[subject] = v
	return st
}

// fail records an error met while loading; the decision is then abandoned.
func (ld *loader) fail(err error) {
	if err != nil && ld.err == nil {
		ld.err = err
	}
}

// decideFunc loads what a command needs through ld and decides at now.
type decideFunc func(ld *loader, now time.Time) ([]events.Event, error)

// command is one command as the write side runs it.
type command struct {
	name string // its metrics label
	// account is the account the command acts in: it must exist
	// (account_not_found), except for the command that creates it.
	account        string
	createsAccount bool
	primary        string // the subject whose state answers the command
	readsUsage     bool   // the decision reads usage (a session kept alive by it, D3)
	// answeredOnAppend answers the command once JetStream holds its events,
	// without waiting for the projections, and with no state: for a
	// command whose answer is its decision and whose events nothing else
	// reads (a check). The next decision on its subjects uses the last
	// appended event (lastAppended) when the projections are behind it.
	answeredOnAppend bool
	// emitted marks an event the ledger emits itself (an alert, G4; a
	// reminder, G5), from a loop that decides it again whenever the
	// projections move. Every ledger process sharing the stream emits it,
	// under an id derived from what it is about (eventID), so (rule H5):
	// it is appended on its own, never in a group commit; a duplicate
	// means another process appended it, and ends the command
	// (answer.elsewhere); and a decision to append nothing is not checked
	// against the stream (decideOnStream): the loop's next one corrects it.
	emitted bool
	decide  decideFunc
}

// answer is what a command answers: its primary aggregate's state and the
// ledger's clock when it was decided (for a replay: when it was first
// decided).
type answer struct {
	state     json.RawMessage
	decidedAt time.Time
	// landed are the events this call decided and appended; nil when it
	// answered a replay, or appended nothing.
	landed []events.Event
	// elsewhere: an emitted command's event was refused as a duplicate,
	// stored or being stored by another ledger process (command.emitted).
	elsewhere bool
}

// execute runs a command: replay, decide, append, await (see the package
// doc), deciding again after a lost race.
func (l *Ledger) execute(ctx context.Context, meta Meta, c command) (answer, error) {
	start := time.Now()
	ans, err := l.executeCommand(ctx, meta.withDefaults(), c)
	l.metrics.observeCommand(c.name, start, err)
	return ans, err
}

func (l *Ledger) executeCommand(ctx context.Context, meta Meta, c command) (answer, error) {
	if c.readsUsage {
		if err := l.awaitUsage(ctx, c.account); err != nil {
			return answer{}, err
		}
	}
	for attempt := 1; ; attempt++ {
		if ans, ok, err := l.replay(ctx, meta, attempt == 1); ok || err != nil {
			return ans, err
		}
		now, evs, versions, err := l.decideOnStream(ctx, c)
		if lostRace(err) {
			if err := l.beforeRetry(ctx, c.name, attempt); err != nil {
				return answer{}, err
			}
			continue
		}
		if err != nil {
			return answer{}, l.keepRejection(ctx, meta, err)
		}
		if len(evs) == 0 {
			return l.unchanged(ctx, meta, c.primary, now)
		}
		msgs, err := l.encode(evs, events.Event.Subject, versions, meta, now)
		if err != nil {
			return answer{}, err
		}
		appendVia := l.commit.append
		if c.emitted {
			appendVia = l.commit.appendAlone
		}
		seq, err := l.appendEncoded(ctx, evs, msgs, appendVia)
		if c.emitted && errors.Is(err, ErrDuplicate) {
			// rule H5: another ledger process emitted this very event.
			return answer{decidedAt: now, elsewhere: true}, nil
		}
		if lostRace(err) {
			if err := l.beforeRetry(ctx, c.name, attempt); err != nil {
				return answer{}, err
			}
			continue
		}
		if err != nil {
			return answer{}, err
		}
		if c.answeredOnAppend {
			l.lastAppended.note(evs, msgs, seq)
			return answer{decidedAt: now, landed: evs}, nil
		}
		if err := l.store.WaitFor(ctx, seq); err != nil {
			return answer{}, err
		}
		st, _, err := projections.Load[json.RawMessage](l.store, evs[0].Subject())
		return answer{state: st, decidedAt: now, landed: evs}, err
	}
}

// errKeyReused is the answer to an Idempotency-Key sent again with another
// request.
func errKeyReused() error {
	return commands.Reject(commands.CodeIdempotencyKeyReused,
		"this Idempotency-Key was already used with a different request")
}

// replay answers a command that already landed, as it answered the first
// time (ok true). The replay answers kept for keyed commands that appended
// nothing are looked up on the first attempt only: a later attempt follows
// a lost race, which only an appending decision has.
func (l *Ledger) replay(ctx context.Context, meta Meta, firstAttempt bool) (answer, bool, error) {
	if res, ok, err := l.store.Command(meta.CommandID); err != nil || ok {
		if err == nil && !meta.sameRequest(res.Hash) {
			err = errKeyReused()
		}
		return answer{state: res.State, decidedAt: res.RecordedAt}, true, err
	}
	if !meta.FromIdempotencyKey || !firstAttempt {
		return answer{}, false, nil
	}
	kept, err := l.lookupAnswer(ctx, meta.CommandID)
	if err != nil || kept == nil {
		return answer{}, false, err
	}
	if !meta.sameRequest(kept.Hash) {
		return answer{}, true, errKeyReused()
	}
	if kept.Code != "" {
		return answer{}, true, &commands.Error{Code: kept.Code, Message: kept.Message, Details: kept.Details}
	}
	ans := answer{decidedAt: kept.DecidedAt}
	if string(kept.State) != "null" {
		ans.state = kept.State
	}
	return ans, true, nil
}

// decide loads what c needs and decides it at now, first making sure the
// account it acts in exists.
func (l *Ledger) decide(c command, now time.Time) ([]events.Event, map[string]projections.Version, error) {
	ld := newLoader(l.store)
	if !c.createsAccount && c.account != "" {
		acct := load[commands.Account](ld, events.AccountSubject(c.account))
		if ld.err != nil {
			return nil, nil, ld.err
		}
		if err := commands.AccountMustExist(acct, c.account); err != nil {
			return nil, nil, err
		}
	}
	evs, err := c.decide(ld, now)
	if ld.err != nil {
		return nil, nil, ld.err
	}
	return evs, ld.versions, err
}

// keepRejection keeps a keyed command's rejection as its first answer, so
// that a replay answers the same even after the state changed, and returns
// err.
func (l *Ledger) keepRejection(ctx context.Context, meta Meta, err error) error {
	var rej *commands.Error
	if !meta.FromIdempotencyKey || !errors.As(err, &rej) {
		return err
	}
	if kerr := l.keepAnswer(ctx, meta.CommandID, rejectionAnswer(meta.CommandHash, rej)); kerr != nil {
		return kerr
	}
	return err
}

// unchanged answers a command that decided to append nothing. Appending
// nothing leaves no command record: a keyed command's answer is kept, so a
// replay does not decide again and change something later.
func (l *Ledger) unchanged(ctx context.Context, meta Meta, primary string, now time.Time) (answer, error) {
	st, _, err := projections.Load[json.RawMessage](l.store, primary)
	if err == nil && meta.FromIdempotencyKey {
		err = l.keepAnswer(ctx, meta.CommandID, unchangedAnswer(meta.CommandHash, st, now))
	}
	return answer{state: st, decidedAt: now}, err
}

// appendFunc appends encoded events and returns the stream sequence of the
// last.
type appendFunc func(ctx context.Context, msgs []outgoing) (uint64, error)

// appendEncoded appends msgs, the encoded evs, through via, remembers their
// sequences as this ledger's own and counts what they record.
func (l *Ledger) appendEncoded(ctx context.Context, evs []events.Event, msgs []outgoing, via appendFunc) (uint64, error) {
	seq, err := via(ctx, msgs)
	if err == nil {
		l.metrics.lag.noteAppended(seq)
		l.metrics.countAppended(evs)
		// An atomic batch stores its messages under consecutive
		// sequences, ending at seq.
		l.ownAppends.add(seq-uint64(len(msgs))+1, seq, l.store.Checkpoint())
	}
	return seq, err
}

// lostRace reports an append that lost to another writer: an aggregate
// changed after it was loaded, or a message of the command is already
// stored.
func lostRace(err error) bool { return errors.Is(err, ErrConflict) || errors.Is(err, ErrDuplicate) }

// beforeRetry prepares attempt+1 of a command that lost a race: it fails
// with conflict after maxAttempts, otherwise catches the projections up with
// the stream and waits a little, to spread racing writers apart. It counts
// the lost race under the command's name.
func (l *Ledger) beforeRetry(ctx context.Context, name string, attempt int) error {
	l.metrics.conflicts.Inc()
	l.metrics.lostRace(name, attempt < l.maxAttempts)
	if attempt >= l.maxAttempts {
		return commands.Reject(commands.CodeConflict,
			"the aggregate kept changing while this command was decided (%d attempts); retry", attempt)
	}
	if err := l.catchUp(ctx); err != nil {
		return err
	}
	backoff := time.Duration(rand.Int64N(int64(attempt) * int64(time.Millisecond)))
	select {
	case <-time.After(backoff):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// catchUp waits until the projections have applied everything the stream
// holds now.
func (l *Ledger) catchUp(ctx context.Context) error {
	info, err := l.streamInfo(ctx)
	if err != nil {
		return fmt.Errorf("ledger: stream info: %w", err)
	}
	return l.store.WaitFor(ctx, info.State.LastSeq)
}

// streamInfo asks for the stream's state, within streamRequestTimeout.
func (l *Ledger) streamInfo(ctx context.Context) (*jetstream.StreamInfo, error) {
	ctx, cancel := askStream(ctx)
	defer cancel()
	return l.stream.Info(ctx)
}

// maxPayload is the largest message the NATS connection accepts (0 if
// unknown).
func (l *Ledger) maxPayload() int {
	if l.commit == nil || l.commit.app.nc == nil {
		return 0
	}
	return int(l.commit.app.nc.MaxPayload())
}
