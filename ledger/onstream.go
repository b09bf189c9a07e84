package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/projections"
)

// Decisions on the stream's state (rule H5).
//
// A decision that appends events is held to the state it read by the
// expected-sequence check of its append. A decision that appends nothing,
// a refusal or a command that changes nothing, is not: it stands on what
// this process's projections had applied. Ledger processes sharing the
// stream apply each other's events a little after they are acknowledged, so
// a command sent to one right after another acknowledged what it depends on
// could be refused on a state that write made wrong (license_not_found
// after the other's 201), and with an Idempotency-Key that refusal would be
// kept for a day. So before such an answer stands, the process asks the
// stream for the last sequence of each subject the decision read; if one is
// past what the projections had applied when they were read, it waits for
// the projections to apply it and decides again. Asked after the command
// arrived, the stream's answer includes everything acknowledged before it.
//
// It costs nothing on the way of a command that appends, and one round trip
// (one request per subject, in parallel) for one that does not; a ledger
// that owns its stream (Options.Exclusive) knows the answer without asking.

// streamRequestTimeout bounds one request to JetStream on a command's way
// (a lookup, a publish, the stream's state), whatever deadline the
// command has: a request the stream lost (its leader went away) fails
// then, and the command is answered 503 soon, not at its deadline.
const streamRequestTimeout = 5 * time.Second

// askStream is ctx bounded for one request to JetStream.
func askStream(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, streamRequestTimeout)
}

// maxStreamChecks bounds the decisions of one attempt that find what they
// read behind the stream; then the attempt counts as a lost race.
const maxStreamChecks = 4

// decideOnStream decides c at the ledger's clock and returns when, with the
// decision. A decision that appends nothing is decided again until the
// state it read includes everything the stream held, when the command
// arrived, on every subject it read (see above); one that keeps finding
// them behind is a lost race (ErrConflict). An emitted command is exempt
// (command.emitted).
func (l *Ledger) decideOnStream(ctx context.Context, c command) (time.Time, []events.Event, map[string]projections.Version, error) {
	checked := map[string]bool{} // subjects the projections have caught up on since the command arrived
	for round := 1; ; round++ {
		applied := l.store.Checkpoint()
		now := l.Now()
		evs, versions, err := l.decide(c, now)
		var rej *commands.Error
		if len(evs) > 0 || c.emitted || (err != nil && !errors.As(err, &rej)) {
			return now, evs, versions, err
		}
		var unchecked []string
		for subject := range versions {
			if !checked[subject] {
				checked[subject] = true
				unchecked = append(unchecked, subject)
			}
		}
		if len(unchecked) == 0 {
			return now, evs, versions, err
		}
		if round > maxStreamChecks {
			return now, nil, nil, fmt.Errorf("%w: what the decision read kept changing on the stream", ErrConflict)
		}
		behind, cerr := l.catchUpOn(ctx, unchecked, applied)
		if cerr != nil {
			return now, nil, nil, cerr
		}
		if !behind {
			return now, evs, versions, err
		}
	}
}

// catchUpOn makes sure the projections have applied every event the stream
// holds on subjects, whose state was read when they had applied everything
// through sequence applied. It reports whether they had not: the state read
// then must be read again.
func (l *Ledger) catchUpOn(ctx context.Context, subjects []string, applied uint64) (bool, error) {
	last, err := l.lastSeqOf(ctx, subjects)
	if err != nil || last <= applied {
		return false, err
	}
	return true, l.store.WaitFor(ctx, last)
}

// lastSeqOf is the stream's last sequence on any of subjects (0: none).
func (l *Ledger) lastSeqOf(ctx context.Context, subjects []string) (uint64, error) {
	if l.exclusive {
		// Nothing else writes to the stream: it holds what it held when
		// the ledger started and what this ledger appended since. Of
		// that, every command it answered is applied, but usage and
		// checks, which no refusal reads (a session's usage is awaited
		// apart, awaitUsage).
		return l.startSeq, nil
	}
	ctx, cancel := askStream(ctx)
	defer cancel()
	seqs := make([]uint64, len(subjects))
	g, gctx := errgroup.WithContext(ctx)
	for i, subject := range subjects {
		g.Go(func() (err error) {
			seqs[i], err = l.lastSeqOn(gctx, subject)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return 0, err
	}
	return slices.Max(append(seqs, 0)), nil
}

// lastSeqOn asks the stream's leader for the sequence of the last message on
// subject (0: none). Not a direct get: any replica may answer one, also a
// replica that has not stored the latest acknowledged message yet.
func (l *Ledger) lastSeqOn(ctx context.Context, subject string) (uint64, error) {
	req, err := json.Marshal(struct {
		LastBySubject string `json:"last_by_subj"`
	}{subject})
	if err != nil {
		return 0, err
	}
	reply, err := l.commit.app.nc.RequestWithContext(ctx, l.msgGetSubject, req)
	if err != nil {
		return 0, fmt.Errorf("ledger: last sequence on %s: %w", subject, err)
	}
	var resp struct {
		Message *struct {
			Seq uint64 `json:"seq"`
		} `json:"message"`
		Error *jetstream.APIError `json:"error"`
	}
	if err := json.Unmarshal(reply.Data, &resp); err != nil {
		return 0, fmt.Errorf("ledger: last sequence on %s: bad reply %q: %w", subject, reply.Data, err)
	}
	switch {
	case resp.Error != nil && resp.Error.ErrorCode == jetstream.JSErrCodeMessageNotFound:
		return 0, nil
	case resp.Error != nil:
		return 0, fmt.Errorf("ledger: last sequence on %s: %w", subject, resp.Error)
	case resp.Message == nil:
		return 0, fmt.Errorf("ledger: last sequence on %s: reply without a message: %q", subject, reply.Data)
	}
	return resp.Message.Seq, nil
}

// msgGetSubject is the JetStream API subject that gets a message of the
// stream from its leader.
func msgGetSubject(js jetstream.JetStream, stream string) string {
	prefix := jetstream.DefaultAPIPrefix
	if o := js.Options(); o.Domain != "" {
		prefix = "$JS." + o.Domain + ".API."
	} else if o.APIPrefix != "" {
		prefix = strings.TrimSuffix(o.APIPrefix, ".") + "."
	}
	return prefix + "STREAM.MSG.GET." + stream
}
