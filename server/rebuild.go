package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/projections"
)

// RebuildReport says what a rebuild did.
type RebuildReport struct {
	Events   uint64        // stream sequence the new store reached
	Took     time.Duration // replay time
	Digest   string        // digest of the new store
	Previous string        // digest of the store it replaced ("" if none)
	// Deleted counts the messages the stream had lost (Config.AcceptDeleted).
	Deleted uint64
}

// RebuildProjections replays the whole stream into a fresh projection store
// next to the live one and swaps it in. The ledger must be stopped: the data
// directory's lock is taken first, so a running ledger makes the rebuild fail
// before anything changes. If the rebuild stops half-way, the
// old store is still in place; if it stops between the two renames, the
// next start finds no store and replays the stream, which gives the same
// state.
//
// A stream that lost messages (see StreamLoss) is refused with
// ErrMessagesDeleted, naming how many, unless cfg.AcceptDeleted: a rebuild
// from it would quietly drop the missing events' effects from the
// projections the ledger serves and decides on.
func RebuildProjections(ctx context.Context, cfg Config) (RebuildReport, error) {
	var rep RebuildReport
	dir, err := OpenDataDir(cfg.DataDir, false)
	if err != nil {
		return rep, err
	}
	defer dir.Close()
	key, err := events.LoadKey(cfg.signingKeyPath())
	if err != nil {
		return rep, fmt.Errorf("server: rebuild needs the key that signed the events: %w", err)
	}
	opts := cfg.projectionOptions(cfg.Logger, events.NewMAC(key))
	live := ProjectionsDir(cfg.DataDir)
	if _, err := os.Stat(live); err == nil {
		old, err := projections.Open(live, opts)
		if err != nil {
			return rep, fmt.Errorf("server: rebuild: the live store is in use or damaged (stop the ledger first): %w", err)
		}
		rep.Previous, err = old.Digest()
		if cerr := old.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return rep, err
		}
	}
	conn, err := Dial(ctx, cfg)
	if err != nil {
		return rep, err
	}
	defer conn.Close()

	stamp := time.Now().UTC().Format("20060102T150405.000000000")
	fresh := live + ".rebuild-" + stamp
	start := time.Now()
	info, err := conn.Stream.Info(ctx)
	if err != nil {
		return rep, fmt.Errorf("server: rebuild: stream info: %w", err)
	}
	loss := lossOf(info.State)
	if rep.Deleted = loss.Deleted(); rep.Deleted > 0 && !cfg.AcceptDeleted {
		return rep, fmt.Errorf("%w: stream %s: %s; the rebuilt projections would lack their events "+
			"(run ledger verify; --accept-deleted rebuilds from what is left)", ErrMessagesDeleted, StreamName, loss)
	}
	store, err := buildWithProgress(ctx, conn.Stream, StreamIdentity(info), fresh, opts, cfg.Registerer)
	if err != nil {
		os.RemoveAll(fresh)
		return rep, err
	}
	rep.Took = time.Since(start)
	rep.Events = store.Checkpoint()
	rep.Digest, err = store.Digest()
	if cerr := store.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.RemoveAll(fresh)
		return rep, err
	}

	retired := live + ".old-" + stamp
	if err := os.Rename(live, retired); err != nil && !errors.Is(err, os.ErrNotExist) {
		os.RemoveAll(fresh)
		return rep, fmt.Errorf("server: rebuild: retire the old store: %w", err)
	}
	if err := os.Rename(fresh, live); err != nil {
		return rep, fmt.Errorf("server: rebuild: swap in the new store: %w", err)
	}
	if err := os.RemoveAll(retired); err != nil {
		return rep, fmt.Errorf("server: rebuild: remove the old store %s: %w", retired, err)
	}
	return rep, nil
}

// ProjectionsDigest opens the projections of the data directory, which the
// ledger must not be using, and returns their checkpoint and digest.
func ProjectionsDigest(dataDir string) (checkpoint uint64, digest string, err error) {
	dir, err := OpenDataDir(dataDir, false)
	if err != nil {
		return 0, "", err
	}
	defer dir.Close()
	if _, err := os.Stat(ProjectionsDir(dataDir)); err != nil {
		return 0, "", fmt.Errorf("%w: --data %s has no projections/ yet (start the ledger, or run ledger rebuild): %w", ErrNoLedger, dataDir, err)
	}
	s, err := projections.Open(ProjectionsDir(dataDir), projections.Options{})
	if err != nil {
		return 0, "", err
	}
	defer s.Close()
	digest, err = s.Digest()
	return s.Checkpoint(), digest, err
}
