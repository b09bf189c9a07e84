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
// storage, deny delete and purge (H1), atomic batches, no limits.
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
		DenyDelete:         true,
		DenyPurge:          true,
		AllowDirect:        true,
		AllowAtomicPublish: true,
	}
}

// EnsureStream creates the LEDGER stream, or verifies that an existing one
// keeps the ledger's guarantees. A stream that could lose or rewrite events
// (deletes or purges allowed, any limit set) is an error naming the setting:
// the ledger never weakens or silently "fixes" an operator's stream.
func EnsureStream(ctx context.Context, js jetstream.JetStream, replicas int) (jetstream.Stream, error) {
	want := StreamConfig(replicas)
	s, err := js.Stream(ctx, StreamName)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		s, err = js.CreateStream(ctx, want)
		if err != nil {
			return nil, fmt.Errorf("server: create stream %s: %w", StreamName, err)
		}
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("server: stream %s: %w", StreamName, err)
	}
	got := s.CachedInfo().Config
	bad := configProblems(got, want)
	if len(bad) > 0 {
		return nil, fmt.Errorf("server: stream %s exists with settings that break the ledger's guarantees: %v", StreamName, bad)
	}
	if !got.AllowAtomicPublish {
		// Safe to turn on: it adds a capability and loses nothing.
		got.AllowAtomicPublish = true
		if s, err = js.UpdateStream(ctx, got); err != nil {
			return nil, fmt.Errorf("server: enable atomic publish on stream %s: %w", StreamName, err)
		}
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
