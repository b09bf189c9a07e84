package server

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/entledger/ledger/events"
)

// StreamName is the one JetStream stream that holds every event.
const StreamName = "LEDGER"

// StreamConfig is the configuration of the LEDGER stream (docs/api.md): file
// storage, deny delete and purge (H1), atomic batches, no limits, the
// duplicate window DefaultDuplicateWindow.
func StreamConfig(replicas int) jetstream.StreamConfig {
	if replicas < 1 {
		replicas = 1
	}
	return jetstream.StreamConfig{
		Name:               StreamName,
		Description:        "entitlement ledger events (immutable)",
		Subjects:           []string{events.SubjectPrefix + ">"},
		Retention:          jetstream.LimitsPolicy,
		Storage:            jetstream.FileStorage,
		Replicas:           replicas,
		MaxMsgs:            -1,
		MaxBytes:           -1,
		MaxAge:             0,
		MaxMsgsPerSubject:  -1,
		MaxMsgSize:         -1,
		Discard:            jetstream.DiscardNew,
		Duplicates:         DefaultDuplicateWindow,
		DenyDelete:         true,
		DenyPurge:          true,
		AllowDirect:        true,
		AllowAtomicPublish: true,
	}
}

// EnsureStream creates the LEDGER stream, or verifies that an existing one
// keeps the ledger's guarantees. A stream that could lose or rewrite events
// (deletes or purges allowed, any limit set) is an error naming the setting:
// the ledger never weakens or silently "fixes" an operator's stream. It
// raises an existing stream's replicas to replicas, never lowers them, and
// turns atomic publish on. It knows nothing of the projections: Dial, which
// does, is what a ledger process uses.
func EnsureStream(ctx context.Context, js jetstream.JetStream, replicas int) (jetstream.Stream, error) {
	if _, err := adoptShared(ctx, js, ledgerShared, replicas, sharedRecord{}); err != nil {
		return nil, err
	}
	return js.Stream(ctx, StreamName)
}

// ensureStreams is Dial's step for a process that may create streams: it
// never starts a new stream over a ledger the data directory knows (rule
// S7), then makes every shared stream and bucket at least as strong as
// declared and as the projections recorded (adoptShared).
//
// If the projections of cfg.DataDir were built from a stream, and the
// LEDGER stream is missing, is another one (another creation time) or holds
// less than they applied, it refuses, naming what it expected and what it
// found, and creates and changes nothing. With cfg.NewStream it starts over
// instead: it creates the stream if it is missing and sets the projections
// aside (projections.old-TIME, never deleted), so that they are built again
// from the stream. cfg.NewStream on a stream the projections were built
// from is refused: there is nothing to start over.
func ensureStreams(ctx context.Context, js jetstream.JetStream, cfg Config) (jetstream.Stream, error) {
	known, err := readKnownStream(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	found, err := lookup(ctx, js, ledgerShared)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		found, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	mismatch := known.check(found)
	switch {
	case mismatch != nil && !cfg.NewStream:
		return nil, fmt.Errorf("%w.\nNothing was created or changed. Restore the stream from its backup (docs/operations.md), "+
			"or give the --nats-url of the servers that hold it; to start over on what is there now, start once with --new-stream "+
			"(the projections are set aside, not deleted, and built again from the stream)", mismatch)
	case mismatch == nil && cfg.NewStream && known.bound():
		return nil, fmt.Errorf("server: --new-stream: the stream %s (last sequence %d) is the one the projections in %s were built from; "+
			"there is nothing to start over: start without --new-stream", known.Stream, found.State.LastSeq, known.dir)
	}
	rec := known.record
	if mismatch != nil {
		rec = sharedRecord{} // the projections go; so does what they recorded
	}
	if err := adoptAllShared(ctx, js, cfg.Replicas, rec); err != nil {
		return nil, err
	}
	if mismatch != nil {
		if err := known.setAside(cfg.Logger, mismatch); err != nil {
			return nil, err
		}
	}
	s, err := js.Stream(ctx, StreamName)
	if err != nil {
		return nil, fmt.Errorf("server: stream %s: %w", StreamName, err)
	}
	return s, nil
}

// configProblems names every setting of got, a LEDGER stream's
// configuration, that could lose or rewrite events, or let others write,
// compared with want (StreamConfig).
func configProblems(got, want jetstream.StreamConfig) []string {
	var bad []string
	check := func(ok bool, setting string) {
		if !ok {
			bad = append(bad, setting)
		}
	}
	check(slices.Equal(got.Subjects, want.Subjects), fmt.Sprintf("subjects %v (want %v)", got.Subjects, want.Subjects))
	check(got.Storage == jetstream.FileStorage, "storage (want file)")
	check(got.Retention == jetstream.LimitsPolicy, "retention (want limits)")
	check(got.DenyDelete, "deny_delete (want true)")
	check(got.DenyPurge, "deny_purge (want true)")
	check(got.MaxMsgs <= 0 && got.MaxBytes <= 0 && got.MaxAge == 0 && got.MaxMsgsPerSubject <= 0,
		"max_msgs/max_bytes/max_age/max_msgs_per_subject (want no limits)")
	check(!got.Sealed, "sealed (want false: the ledger appends)")
	check(got.Mirror == nil && len(got.Sources) == 0, "mirror/sources (want none: only the ledger writes)")
	check(got.SubjectTransform == nil, "subject_transform (want none: it would rewrite subjects)")
	check(!got.AllowMsgTTL, "allow_msg_ttl (want false: a TTL would delete events)")
	check(!got.NoAck, "no_ack (want false: appends need acknowledgements)")
	check(!got.AllowRollup, "allow_rollup_hdrs (want false: a rollup would purge events)")
	return bad
}
