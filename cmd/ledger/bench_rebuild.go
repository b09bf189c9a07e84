package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/entledger/ledger/billing"
	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/ledger"
	"github.com/entledger/ledger/server"
)

// benchRebuild writes a stream of mixed events through the Go API
// (bc.billingRecords pooled usage records in batches of 1000, and a mixed
// account with users, licences, assignments, sessions and checks), stops
// the ledger, and compares a raw ordered-consumer replay of the stream, raw
// Pebble writes of its messages and a projection rebuild (benchReplay).
func benchRebuild(ctx context.Context, bc benchConfig, out io.Writer) error {
	dir := filepath.Join(bc.dir, "rebuild-stream")
	srv, err := server.Start(ctx, unlimited(server.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", SyncInterval: bc.syncInterval,
		Logger: quietLogger(), UsageHorizon: 200 * 24 * time.Hour, NoReminders: true}))
	if err != nil {
		return err
	}
	start := time.Now()
	q := billing.QuarterOf(time.Now().UTC())
	products := []string{"microstation", "openroads", "revit"}
	err = billingAccount(ctx, srv.Ledger(), products, q)
	if err == nil {
		now := time.Now().UTC()
		_, err = importPooled(ctx, srv.Ledger(), bc.billingRecords, products, now.Add(-30*24*time.Hour), now.Add(-8*24*time.Hour))
	}
	n := max(bc.billingRecords/100, 100)
	if err == nil {
		err = mixedAccount(ctx, srv.Ledger(), n)
	}
	if err == nil {
		err = sessionsAndChecks(ctx, srv.Ledger(), n)
	}
	if err != nil {
		closeServer(srv)
		return err
	}
	closeServer(srv)
	fmt.Fprintf(out, "mixed stream written in %s: %d usage records; %d users, licences and assignments; %d sessions and checks\n",
		time.Since(start).Round(time.Second), bc.billingRecords, n, n)
	return benchReplay(ctx, bc, dir, out)
}

// sessionsAndChecks signs each of the mixed account's first n users in on a
// machine and checks their product, as a desktop client does at start.
func sessionsAndChecks(ctx context.Context, l *ledger.Ledger, n int) error {
	m := ledger.Meta{Actor: "bench"}
	g, gctx := errgroup.WithContext(ctx)
	for w := range 8 {
		g.Go(func() error {
			for i := w; i < n; i += 8 {
				email, machine := fmt.Sprintf("u%d@mix.example", i), fmt.Sprintf("mws-%d", i)
				if _, err := l.SignIn(gctx, m, commands.SignIn{Account: "mix", Email: email, MachineID: machine,
					ClientVersion: "10.00.18.25", ClientTime: time.Now().UTC()}); err != nil {
					return err
				}
				if _, err := l.Check(gctx, m, commands.Check{Account: "mix", Email: email, Product: "microstation",
					MachineID: machine, ClientVersion: "10.00.18.25"}); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return g.Wait()
}

// profileRebuild starts a CPU profile of the rebuild alone into file (none
// when file is ""), and returns the function that stops it.
func profileRebuild(file string) (stop func(), err error) {
	if file == "" {
		return func() {}, nil
	}
	f, err := os.Create(file)
	if err != nil {
		return nil, fmt.Errorf("bench: --rebuild-profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("bench: --rebuild-profile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
