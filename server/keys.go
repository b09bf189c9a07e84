package server

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
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
