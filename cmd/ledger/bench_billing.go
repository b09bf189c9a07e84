package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/entledger/ledger/billing"
	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/ledger"
	"github.com/entledger/ledger/server"
)

// benchBilling imports bc.billingRecords pooled usage records of the current
// quarter over 500 machines and 3 products (most under 8 hours, a few up to
// the 7-day maximum, as in the field) through the Go API, and times the QTL
// report: the first after the import, the same again (nothing changed), as
// of an earlier sequence, and the first after a restart.
func benchBilling(ctx context.Context, bc benchConfig, out io.Writer) error {
	dir := filepath.Join(bc.dir, "billing")
	cfg := unlimited(server.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", SyncInterval: bc.syncInterval, Logger: quietLogger(),
		UsageHorizon: 200 * 24 * time.Hour})
	srv, err := server.Start(ctx, cfg)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	q := quarterOf(now)
	from, until := q.Start(), now.Add(-7*24*time.Hour-time.Hour)
	if !until.After(from.Add(24 * time.Hour)) {
		q = quarterOf(q.Start().Add(-time.Hour))
		from, until = q.Start(), q.End().Add(-7*24*time.Hour)
	}
	products := []string{"microstation", "openroads", "revit"}
	if err := billingAccount(ctx, srv.Ledger(), products, q); err != nil {
		closeServer(srv)
		return err
	}
	start := time.Now()
	mid, err := importPooled(ctx, srv.Ledger(), bc.billingRecords, products, from, until)
	if err != nil {
		closeServer(srv)
		return err
	}
	took := time.Since(start)
	printMeasurement(out, measurement{name: "import pooled usage, Go API, batches of 1000", ops: bc.billingRecords, took: took, unit: "records"})
	applied := time.Now()
	info, err := srv.Conn().Stream.Info(ctx)
	if err == nil {
		err = srv.Store().WaitFor(ctx, info.State.LastSeq)
	}
	if err != nil {
		closeServer(srv)
		return err
	}
	fmt.Fprintf(out, "projections caught up %s after the last answer\n", time.Since(applied).Round(time.Millisecond))
	timeQTL := func(name string, asOf uint64) error {
		t := time.Now()
		rep, err := srv.Ledger().QTL(ctx, "bill", q.String(), asOf)
		if err != nil {
			return err
		}
		units := 0
		for _, p := range rep.Products {
			units += p.Units
		}
		fmt.Fprintf(out, "%-44s %10s  (%d products, %d units, as of %d)\n", name, time.Since(t).Round(100*time.Microsecond),
			len(rep.Products), units, rep.AsOfSeq)
		return nil
	}
	for _, step := range []struct {
		name string
		asOf uint64
	}{{"QTL of " + q.String() + ", first", 0}, {"QTL again, nothing changed", 0}, {"QTL as_of_seq half-way", mid}} {
		if err := timeQTL(step.name, step.asOf); err != nil {
			closeServer(srv)
			return err
		}
	}
	closeServer(srv)
	if srv, err = server.Start(ctx, cfg); err != nil {
		return err
	}
	defer closeServer(srv)
	if err := srv.Store().WaitFor(ctx, info.State.LastSeq); err != nil {
		return err
	}
	return timeQTL("QTL, first after a restart", 0)
}

func quarterOf(t time.Time) billing.Quarter {
	return billing.Quarter{Year: t.Year(), N: (int(t.Month())-1)/3 + 1}
}

// billingAccount creates the account "bill" with 50 users and a commercial
// licence of 100 seats per product for the quarter.
func billingAccount(ctx context.Context, l *ledger.Ledger, products []string, q billing.Quarter) error {
	m := ledger.Meta{}
	at := q.Start().Add(-24 * time.Hour)
	if _, err := l.CreateAccount(ctx, m, commands.CreateAccount{ID: "bill", Name: "Billing", FulfillmentContact: "ops@bill.example", At: at}); err != nil {
		return err
	}
	for u := range usageUsers {
		if _, err := l.RegisterUser(ctx, m, commands.RegisterUser{Account: "bill", Email: fmt.Sprintf("u%d@bill.example", u),
			EntitlementCountry: "DE", At: at}); err != nil {
			return err
		}
	}
	for i, p := range products {
		if _, err := l.CreateLicense(ctx, m, commands.CreateLicense{Account: "bill", ID: fmt.Sprintf("C%d", i), Kind: "commercial",
			Products: []string{p}, Seats: 100, ValidFrom: q.Start(), ValidUntil: q.End(), At: at}); err != nil {
			return err
		}
	}
	return nil
}

// importPooled records n pooled records from 4 clients and returns the
// stream sequence of a batch answered half-way.
func importPooled(ctx context.Context, l *ledger.Ledger, n int, products []string, from, until time.Time) (uint64, error) {
	const batch, clients = 1000, 4
	var mid uint64
	g, gctx := errgroup.WithContext(ctx)
	span := until.Sub(from)
	for c := range clients {
		g.Go(func() error {
			rng := rand.New(rand.NewPCG(uint64(c), 42))
			for b := c; b*batch < n; b += clients {
				recs := make([]commands.UsageRecord, 0, batch)
				for i := b * batch; i < min(n, (b+1)*batch); i++ {
					d := time.Duration(5+rng.IntN(475)) * time.Minute // mostly under 8 hours
					switch r := rng.IntN(100); {
					case r == 0:
						d = time.Duration(1+rng.IntN(7*24)) * time.Hour // a few up to 7 days
					case r < 10:
						d = time.Duration(8+rng.IntN(40)) * time.Hour
					}
					d = min(d, commands.MaxUsageSpan)
					start := from.Add(time.Duration(rng.Int64N(int64(span)))).Truncate(time.Second)
					recs = append(recs, commands.UsageRecord{UsageID: fmt.Sprintf("b-%d", i), Email: fmt.Sprintf("u%d@bill.example", i%usageUsers),
						Product: products[i%len(products)], MachineID: fmt.Sprintf("ws-%d", rng.IntN(500)), ClientVersion: "10.00.18.25",
						StartedAt: start, EndedAt: start.Add(d)})
				}
				if _, err := l.RecordUsage(gctx, ledger.Meta{}, commands.RecordUsage{Account: "bill", Records: recs}); err != nil {
					return err
				}
				if b == n/batch/2 {
					mid = l.Store().Checkpoint()
				}
			}
			return nil
		})
	}
	return mid, g.Wait()
}
