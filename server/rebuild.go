package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go/jetstream"

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
	// Kept is where the replaced store was kept ("" when it was removed):
	// a rebuild forced over projections of another stream, or of more
	// events than the stream holds, keeps them (Config.Force).
	Kept string
}

// RebuildProjections replays the whole stream into a fresh projection store
// next to the live one and swaps it in. The ledger must be stopped: the data
// directory's lock is taken first, so a running ledger makes the rebuild fail
// before anything changes. It never creates or changes a stream. The old
// store stays in place until the new one is complete: if the rebuild stops
// half-way, the old store is still there; if it stops between the two
// renames, the old store is kept as projections.old-TIME and the new one as
// projections.rebuild-TIME.
//
// It refuses, changing nothing:
//   - a stream that lost messages (see StreamLoss), with ErrMessagesDeleted
//     naming how many, unless cfg.AcceptDeleted: a rebuild from it would
//     quietly drop the missing events' effects from the projections the
//     ledger serves and decides on;
//   - projections built from another stream, or from more events than the
//     stream holds (ErrStreamReplaced, ErrStreamBehind; rule S7), unless
//     cfg.Force, which then keeps the old projections beside the new
//     ones;
//   - a shared stream or bucket weaker than the projections recorded
//     (ErrWeakerSettings), unless cfg.Force, which records the settings as
//     they are.
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
	known, err := readKnownStream(cfg.DataDir)
	if err != nil {
		return rep, fmt.Errorf("server: rebuild: the live store is in use or damaged (stop the ledger first): %w", err)
	}
	if _, err := os.Stat(live); err == nil {
		if rep.Previous, err = storeDigest(live, opts); err != nil {
			return rep, err
		}
	}
	conn, err := dial(ctx, cfg, false) // never a new stream (S7); the lock is held already
	if errors.Is(err, jetstream.ErrStreamNotFound) && known.bound() {
		return rep, fmt.Errorf("%w.\nThe rebuild changed nothing: restore the stream from its backup (docs/operations.md), "+
			"or give the --nats-url of the servers that hold it", known.check(nil))
	}
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
	mismatch := known.check(info)
	if mismatch != nil && !cfg.Force {
		return rep, fmt.Errorf("%w.\nThe rebuild changed nothing. The projections hold what the stream lacks: restore the stream "+
			"from its backup (docs/operations.md); --force rebuilds from this stream all the same, and keeps the old projections beside "+
			"the new ones", mismatch)
	}
	loss := lossOf(info.State)
	if rep.Deleted = loss.Deleted(); rep.Deleted > 0 && !cfg.AcceptDeleted {
		return rep, fmt.Errorf("%w: stream %s: %s; the rebuilt projections would lack their events "+
			"(run ledger verify; --accept-deleted rebuilds from what is left)", ErrMessagesDeleted, StreamName, loss)
	}
	rec, err := rebuiltRecord(ctx, conn.JS, known, mismatch == nil && !cfg.Force)
	if err != nil {
		return rep, err
	}
	if cfg.AcceptDeleted {
		rec.AcceptedDeleted = rep.Deleted
	}
	store, err := buildWithProgress(ctx, conn.Stream, StreamIdentity(info), fresh, opts, cfg.Registerer)
	if err != nil {
		os.RemoveAll(fresh)
		return rep, err
	}
	rep.Took = time.Since(start)
	rep.Events = store.Checkpoint()
	rep.Digest, err = store.Digest()
	if err == nil {
		err = recordShared(store, rec)
	}
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
		return rep, fmt.Errorf("server: rebuild: swap in the new store (the old one is %s, the new one %s): %w", retired, fresh, err)
	}
	if mismatch != nil {
		rep.Kept = retired
		return rep, nil
	}
	if err := os.RemoveAll(retired); err != nil {
		return rep, fmt.Errorf("server: rebuild: remove the old store %s: %w", retired, err)
	}
	return rep, nil
}

// storeDigest opens the store in dir, which no one may be using, for its
// digest.
func storeDigest(dir string, opts projections.Options) (string, error) {
	old, err := projections.Open(dir, opts)
	if err != nil {
		return "", fmt.Errorf("server: rebuild: the live store is in use or damaged (stop the ledger first): %w", err)
	}
	digest, err := old.Digest()
	if cerr := old.Close(); err == nil {
		err = cerr
	}
	return digest, err
}

// rebuiltRecord is what a rebuilt store records of the shared streams:
// their settings as they are, raised to what the old projections recorded
// when carry is set. With carry, a setting weaker than recorded is refused
// (ErrWeakerSettings), as a start would refuse it; without, the settings
// are recorded as they are. A shared bucket not there yet is left out: the
// next start makes it.
func rebuiltRecord(ctx context.Context, js jetstream.JetStream, known knownStream, carry bool) (sharedRecord, error) {
	var rec sharedRecord
	if carry {
		rec.Settings = known.record.Settings
	}
	for _, st := range sharedStreams {
		info, err := sharedInfo(ctx, js, st)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			continue
		}
		if err != nil {
			return rec, fmt.Errorf("server: rebuild: %s: %w", st.what, err)
		}
		if bad := settingsOf(info.Config).weakerThan(st, rec.floor(st), "the most it had while the old projections were built"); carry && len(bad) > 0 {
			return rec, fmt.Errorf("%w: %s: %v. Nothing was changed: set it back (nats stream edit %s); "+
				"to keep it lower on purpose, rebuild with --force, which records the settings as they are", ErrWeakerSettings, st.what, bad, st.name)
		}
		rec.raise(st, settingsOf(info.Config))
	}
	return rec, nil
}

// recordShared keeps rec with the projections of store.
func recordShared(store *projections.Store, rec sharedRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return store.SetShared(b)
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
