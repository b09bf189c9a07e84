package server

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/projections"
)

// openStore loads the signing key and opens the projections, refusing what
// would make the ledger write or serve the wrong history:
//   - a key is created only for an empty stream; a stream with events needs
//     the key that wrote them, checked against the MAC of its first event;
//   - projections built from another stream (its identity differs, or their
//     checkpoint is ahead of the stream) are never served or appended to.
func openStore(ctx context.Context, cfg Config, stream jetstream.Stream, logger *slog.Logger) (ed25519.PrivateKey, *projections.Store, error) {
	info, err := stream.Info(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("server: stream info: %w", err)
	}
	path := cfg.signingKeyPath()
	var key ed25519.PrivateKey
	if info.State.Msgs == 0 {
		key, err = events.LoadOrCreateKey(path)
	} else {
		key, err = events.LoadKey(path)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("server: signing key (the stream holds %d events; start with the key that signed them, --signing-key): %w",
			info.State.Msgs, err)
	}
	mac := events.NewMAC(key)
	if info.State.Msgs > 0 {
		if err := keyWroteStream(ctx, stream, info, mac); err != nil {
			return nil, nil, fmt.Errorf("server: the signing key %s did not write this stream's events (%w); start with the key that did, --signing-key",
				path, err)
		}
	}
	store, err := projections.Open(ProjectionsDir(cfg.DataDir), cfg.projectionOptions(logger, mac))
	if err != nil {
		return nil, nil, err
	}
	if err := store.Bind(StreamIdentity(info), info.State.LastSeq); err != nil {
		store.Close()
		return nil, nil, fmt.Errorf("server: %w; stop the ledger and run `ledger rebuild`", err)
	}
	return key, store, nil
}

// keyWroteStream checks the key against the first of the stream's messages
// that carries a MAC: a foreign message without one (a break) does not stop
// the ledger from starting, a MAC made with another key does.
func keyWroteStream(ctx context.Context, stream jetstream.Stream, info *jetstream.StreamInfo, mac *events.MAC) error {
	const scan = 1000
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && seq < info.State.FirstSeq+scan; seq++ {
		m, err := stream.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read sequence %d: %w", seq, err)
		}
		if m.Header.Get(events.MACHeader) == "" {
			continue
		}
		return mac.Check(m.Subject, m.Data, m.Header.Get(events.MACHeader))
	}
	return nil
}

// StreamIdentity names one stream for the projections: its name and creation
// time, which a recreated stream of the same name does not share.
func StreamIdentity(info *jetstream.StreamInfo) string {
	return info.Config.Name + "@" + info.Created.UTC().Format(time.RFC3339Nano)
}

// Errors of a data directory whose projections know another stream than the
// one found (rule S7). Each is wrapped with what was expected and found.
var (
	// ErrStreamMissing: the projections were built from a stream that no
	// longer exists.
	ErrStreamMissing = errors.New("server: the stream the projections were built from is missing")
	// ErrStreamReplaced: the stream of that name is another one (another
	// creation time): deleted and created again.
	ErrStreamReplaced = errors.New("server: the stream is not the one the projections were built from")
	// ErrStreamBehind: the stream is the one, but ends before the last
	// event the projections applied (restored from an older backup, say).
	ErrStreamBehind = errors.New("server: the stream holds less than the projections applied")
)

// knownStream is what a data directory's projections say of the stream
// they were built from: its identity (StreamIdentity) and the last
// sequence they applied, and what they recorded of the shared settings.
type knownStream struct {
	projections.Binding
	record sharedRecord
	dir    string // the projections' directory
}

// readKnownStream reads the projections of dataDir without opening them for
// writing; no projections, or projections never bound to a stream, know
// none.
func readKnownStream(dataDir string) (knownStream, error) {
	k := knownStream{dir: ProjectionsDir(dataDir)}
	b, err := projections.ReadBinding(k.dir)
	if errors.Is(err, projections.ErrNoStore) {
		return k, nil
	}
	if err != nil {
		return k, fmt.Errorf("server: read the projections' stream: %w", err)
	}
	k.Binding = b
	if k.record, err = decodeSharedRecord(b.Shared); err != nil {
		return k, err
	}
	return k, nil
}

// bound reports whether the projections were built from a stream.
func (k knownStream) bound() bool { return k.Stream != "" }

// check compares the stream found (nil: none) with the one the projections
// know: nil when they know none or it is the one, and as long as they
// applied; otherwise ErrStreamMissing, ErrStreamReplaced or ErrStreamBehind
// naming both.
func (k knownStream) check(found *jetstream.StreamInfo) error {
	if !k.bound() {
		return nil
	}
	expected := fmt.Sprintf("the projections in %s were built from the stream %s and applied it up to sequence %d",
		k.dir, k.Stream, k.Checkpoint)
	switch {
	case found == nil:
		return fmt.Errorf("%w (rule S7): %s; the NATS server has no stream %s", ErrStreamMissing, expected, StreamName)
	case StreamIdentity(found) != k.Stream:
		return fmt.Errorf("%w (rule S7): %s; the stream found is %s, last sequence %d: it was deleted and created again",
			ErrStreamReplaced, expected, StreamIdentity(found), found.State.LastSeq)
	case found.State.LastSeq < k.Checkpoint:
		return fmt.Errorf("%w (rule S7): %s; the stream ends at sequence %d: %d events are gone (restored from an older backup?)",
			ErrStreamBehind, expected, found.State.LastSeq, k.Checkpoint-found.State.LastSeq)
	}
	return nil
}

// setAside moves the projections out of the way, to be built again from
// the stream; they are kept, never deleted, as projections.old-TIME.
func (k knownStream) setAside(logger *slog.Logger, why error) error {
	if logger == nil {
		logger = slog.Default()
	}
	aside := k.dir + ".old-" + time.Now().UTC().Format("20060102T150405.000000000")
	if err := os.Rename(k.dir, aside); err != nil {
		return fmt.Errorf("server: --new-stream: set the projections aside: %w", err)
	}
	logger.Warn("--new-stream: starting over; the projections of the earlier stream are set aside, not deleted",
		"kept", aside, "because", why.Error())
	return nil
}
