package main

import (
	"context"
	"fmt"
	"io"

	"github.com/entledger/ledger/server"
	"github.com/prometheus/client_golang/prometheus"
)

func runRebuild(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("rebuild",
		"Replay the whole stream into a fresh projection store and swap it in. Stop the ledger first.", stderr)
	var sf storeFlags
	sf.register(fs, false)
	var lf logFlags
	lf.register(fs)
	acceptDeleted := fs.Bool("accept-deleted", false,
		"rebuild even if messages were deleted from the stream (ledger verify lists them); the projections then lack their events")
	force := fs.Bool("force", false,
		"replace projections built from another stream, or from more events than the stream holds (the old ones are kept beside), "+
			"and record the stream's and buckets' settings as they are, even where weaker than recorded")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := sf.config()
	if err != nil {
		return err
	}
	cfg.AcceptDeleted, cfg.Force = *acceptDeleted, *force
	if cfg.Logger, err = lf.logger(stderr); err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	cfg.Registerer = reg
	stop := rebuildProgress(reg, stderr)
	rep, err := server.RebuildProjections(ctx, cfg)
	stop()
	if err != nil {
		return err
	}
	rate := 0.0
	if s := rep.Took.Seconds(); s > 0 {
		rate = float64(rep.Events) / s
	}
	fmt.Fprintf(stdout, "rebuilt %s in %s (%.0f events/s)\n", plural(int(rep.Events), "event"), rep.Took.Round(1e6), rate)
	if rep.Deleted > 0 {
		fmt.Fprintf(stdout, "warning  the stream had lost %s; the projections lack their events\n", plural(int(rep.Deleted), "message"))
	}
	fmt.Fprintf(stdout, "digest   %s\n", rep.Digest)
	if rep.Kept != "" {
		fmt.Fprintf(stdout, "kept     the replaced projections, built from another stream or from more events, in %s\n", rep.Kept)
	}
	if rep.Previous != "" {
		same := "differs from"
		if rep.Previous == rep.Digest {
			same = "equals"
		}
		fmt.Fprintf(stdout, "previous %s (%s the rebuilt store)\n", rep.Previous, same)
	}
	return nil
}

func runDigest(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("digest", "Print the checkpoint and digest of the projection store (the ledger must be stopped).", stderr)
	data := fs.String("data", "./data", "data directory")
	if err := parse(fs, args); err != nil {
		return err
	}
	cp, d, err := server.ProjectionsDigest(*data)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "checkpoint %d\ndigest     %s\n", cp, d)
	return nil
}
