package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/entledger/ledger/billing"
	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/ledger"
	"github.com/entledger/ledger/server"
)

// benchBilling imports bc.billingRecords pooled usage records of the current
// quarter over 500 machines, 3 products and users in 4 countries (most under
// 8 hours, a few up to the 7-day maximum, as in the field) through the Go
// API, into an account with global seats and seats for 3 of the countries
// (countryPools), and times the QTL report (G9): the first after the
// import, the same again (nothing changed), as of an earlier sequence, and
// the first after a restart; and the advice (G11), as of the import's end
// and after the restart.
func benchBilling(ctx context.Context, bc benchConfig, out io.Writer) error {
	dir := filepath.Join(bc.dir, "billing")
	cfg := unlimited(server.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", SyncInterval: bc.syncInterval, Logger: quietLogger(),
		UsageHorizon: 200 * 24 * time.Hour})
	srv, err := server.Start(ctx, cfg)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	q := billing.QuarterOf(now)
	from, until := q.Start(), now.Add(-7*24*time.Hour-time.Hour)
	if !until.After(from.Add(24 * time.Hour)) {
		q = billing.QuarterOf(q.Start().Add(-time.Hour))
		from, until = q.Start(), q.End().Add(-7*24*time.Hour)
	}
	products := []string{"microstation", "openroads", "revit"}
	err = billingAccount(ctx, srv.Ledger(), products, q)
	if err == nil {
		err = countryPools(ctx, srv.Ledger(), products, q)
	}
	if err != nil {
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
	// Half-way: the sequence of the record in the middle of the import
	// (the checkpoint importPooled saw then lags far behind under load).
	if known, err := srv.Store().KnownUsage("bill", []string{fmt.Sprintf("b-%d", bc.billingRecords/2)}); err == nil {
		for _, k := range known {
			mid = k.Seq
		}
	}
	timeQTL := func(name string, asOf uint64) error {
		t := time.Now()
		rep, err := srv.Ledger().QTL(ctx, "bill", q, asOf)
		if err != nil {
			return err
		}
		units := 0
		for _, p := range rep.Products {
			units += p.Units
		}
		pools := 0
		for _, p := range rep.Products {
			pools = max(pools, len(p.Countries))
		}
		fmt.Fprintf(out, "%-44s %10s  (%d products, %d units, up to %d country pools at a peak, as of %d)\n", name,
			time.Since(t).Round(100*time.Microsecond), len(rep.Products), units, pools, rep.AsOfSeq)
		return nil
	}
	timeAdvice := func(name string, asOf uint64) error {
		t := time.Now()
		adv, err := srv.Ledger().Advice(ctx, "bill", q, asOf)
		if err != nil {
			return err
		}
		var plan []string
		for _, p := range adv.Products {
			plan = append(plan, fmt.Sprintf("%s %d→%d (leak %d records, %d users)", p.Product, p.Units, p.Plan.UnitsAfter,
				p.Leak.Records, len(p.Users)))
		}
		fmt.Fprintf(out, "%-44s %10s  (%s)\n", name, time.Since(t).Round(100*time.Microsecond), strings.Join(plan, "; "))
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
	if err := timeAdvice("advice of "+q.String(), 0); err != nil {
		closeServer(srv)
		return err
	}
	closeServer(srv)
	if srv, err = server.Start(ctx, cfg); err != nil {
		return err
	}
	defer closeServer(srv)
	if err := srv.Store().WaitFor(ctx, info.State.LastSeq); err != nil {
		return err
	}
	if err := timeQTL("QTL, first after a restart", 0); err != nil {
		return err
	}
	return timeAdvice("advice, first after a restart", 0)
}

// benchCountries are the countries of the billing phase's users.
var benchCountries = []string{"DE", "FR", "US", "JP"}

// countryPools spreads the users of account "bill" over benchCountries
// (user i in country i mod 4, from 12 hours before the quarter), gives each
// product seats for Germany (20), France and the United States (10 each)
// besides billingAccount's 100 global ones, and practitioner licences for
// every product: P0 and P1 held by u0 and u1 from before the quarter (their
// use from old clients is the advice's leak), P2 to P4 free for the plan.
func countryPools(ctx context.Context, l *ledger.Ledger, products []string, q billing.Period) error {
	m := ledger.Meta{}
	at := q.Start().Add(-12 * time.Hour)
	for u := range usageUsers {
		if c := benchCountries[u%len(benchCountries)]; c != "DE" {
			if _, err := l.ChangeUserCountry(ctx, m, commands.ChangeUserCountry{Account: "bill", Email: fmt.Sprintf("u%d@bill.example", u),
				EntitlementCountry: c, At: at}); err != nil {
				return err
			}
		}
	}
	for i, p := range products {
		for c, seats := range map[string]int{"DE": 20, "FR": 10, "US": 10} {
			if _, err := l.CreateLicense(ctx, m, commands.CreateLicense{Account: "bill", ID: fmt.Sprintf("C%d-%s", i, c), Kind: "commercial",
				Products: []string{p}, Seats: seats, Country: c, ValidFrom: q.Start(), ValidUntil: q.End(), At: at}); err != nil {
				return err
			}
		}
	}
	for i := range 5 {
		id := fmt.Sprintf("P%d", i)
		if _, err := l.CreateLicense(ctx, m, commands.CreateLicense{Account: "bill", ID: id, Kind: "practitioner",
			Products: products, ValidFrom: q.Start().Add(-24 * time.Hour), ValidUntil: q.End().AddDate(1, 0, 0), At: at}); err != nil {
			return err
		}
		if i < 2 {
			if _, err := l.Assign(ctx, m, commands.Assign{Account: "bill", LicenseID: id, Email: fmt.Sprintf("u%d@bill.example", i),
				At: at}); err != nil {
				return err
			}
		}
	}
	return nil
}

// billingAccount creates the account "bill" with 50 users and a commercial
// licence of 100 seats per product for the quarter.
func billingAccount(ctx context.Context, l *ledger.Ledger, products []string, q billing.Period) error {
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
					version := "10.00.18.25"
					if rng.IntN(25) == 0 {
						version = "10.00.17.4" // an old client: pooled even for a practitioner (F4)
					}
					// Each user works on the machines of one site: a quarter
					// of the 500, by the user's country (countryPools).
					user := i % usageUsers
					site := user % len(benchCountries) * 125
					recs = append(recs, commands.UsageRecord{UsageID: fmt.Sprintf("b-%d", i), Email: fmt.Sprintf("u%d@bill.example", user),
						Product: products[i%len(products)], MachineID: fmt.Sprintf("ws-%d", site+rng.IntN(125)), ClientVersion: version,
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
