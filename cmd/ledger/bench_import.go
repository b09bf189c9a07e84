package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/entledger/ledger/billing"
	"github.com/entledger/ledger/commands"
)

// importBatch is the batch size of the import phase, as a billing system's
// nightly import sends it.
const importBatch = 1000

// benchImport imports bc.billingRecords pooled usage records of the last
// quarter into `ledger serve` child processes through HTTP, and reports for
// each the import rate, how long the projections took to catch up after
// the last answer, and the child's peak resident memory. With
// bc.importBinary it alternates that binary (say, one built before a
// change) with this one, bc.importRuns times each, on the same request
// bodies, and prints the medians side by side: one run is inside the noise.
func benchImport(ctx context.Context, bc benchConfig, out io.Writer) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	binaries := []string{self}
	if bc.importBinary != "" {
		binaries = []string{bc.importBinary, self}
	}
	q := billing.QuarterOf(time.Now().UTC().AddDate(0, -3, 0))
	bodies := importBodies(bc.billingRecords, q.Start(), q.End().Add(-commands.MaxUsageSpan))
	results := make([][]importRun, len(binaries))
	for run := range bc.importRuns {
		for b, exe := range binaries {
			dir := filepath.Join(bc.dir, fmt.Sprintf("import-%d-%d", run, b))
			r, err := importOnce(ctx, exe, dir, bc, bodies)
			if err != nil {
				return fmt.Errorf("bench: import with %s: %w", exe, err)
			}
			fmt.Fprintf(out, "import %d records, HTTP, %s: %.0f records/s, projections caught up %s later, peak RSS %.0f MiB\n",
				bc.billingRecords, filepath.Base(exe), r.rate, r.lag.Round(10*time.Millisecond), r.peak)
			results[b] = append(results[b], r)
			if !bc.keep {
				os.RemoveAll(dir)
			}
		}
	}
	if len(binaries) == 2 {
		before, after := medianRun(results[0]), medianRun(results[1])
		fmt.Fprintf(out, "medians of %d runs: %s %.0f records/s, %.0f MiB; %s %.0f records/s, %.0f MiB; rate ratio %.2f, RSS %+.0f MiB\n",
			bc.importRuns, filepath.Base(binaries[0]), before.rate, before.peak, filepath.Base(binaries[1]), after.rate, after.peak,
			after.rate/before.rate, after.peak-before.peak)
	}
	return nil
}

// importRun is one import's rate, catch-up and peak memory.
type importRun struct {
	rate float64       // records answered per second
	lag  time.Duration // from the last answer to the projections' last checkpoint move
	peak float64       // MiB, VmHWM of the child
}

// medianRun takes the median of each measure separately.
func medianRun(rs []importRun) importRun {
	med := func(f func(importRun) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	return importRun{rate: med(func(r importRun) float64 { return r.rate }),
		lag:  time.Duration(med(func(r importRun) float64 { return float64(r.lag) })),
		peak: med(func(r importRun) float64 { return r.peak })}
}

// importOnce runs one child on a fresh dir, imports bodies from 4 clients
// and measures it.
func importOnce(ctx context.Context, exe, dir string, bc benchConfig, bodies [][]byte) (importRun, error) {
	flags := append([]string{"--usage-horizon", "4800h"}, unlimitedFlags(exe)...)
	if bc.importMemory != "" {
		flags = append(flags, "--memory-limit", bc.importMemory)
	}
	child, err := startServeBinary(ctx, exe, dir, bc.syncInterval, flags...)
	if err != nil {
		return importRun{}, err
	}
	defer child.kill()
	if err := importAccount(ctx, child.base); err != nil {
		return importRun{}, err
	}
	client := benchClient(4)
	var next atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	start := time.Now()
	for range 4 {
		g.Go(func() error {
			for b := int(next.Add(1)) - 1; b < len(bodies); b = int(next.Add(1)) - 1 {
				status, answer, err := post(gctx, client, child.base+"/v1/accounts/imp/usage", bodies[b])
				if err != nil {
					return err
				}
				if status != http.StatusOK || !bytes.Contains(answer, []byte(`"duplicates":0`)) {
					return fmt.Errorf("usage answer %d %.200s", status, answer)
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return importRun{}, err
	}
	took := time.Since(start)
	lag, err := catchUp(ctx, child.base)
	if err != nil {
		return importRun{}, err
	}
	peak, err := child.peakMiB()
	if err != nil {
		return importRun{}, err
	}
	r := importRun{rate: float64(bc.billingRecords) / took.Seconds(), lag: lag, peak: peak}
	return r, child.stop()
}

// catchUp polls the child's projection checkpoint until it has not moved
// for two seconds and returns when it last moved, from now.
func catchUp(ctx context.Context, base string) (time.Duration, error) {
	start, moved := time.Now(), time.Now()
	last := -1.0
	for time.Since(moved) < 2*time.Second {
		v, err := metric(ctx, base, "ledger_projection_checkpoint")
		if err != nil {
			return 0, err
		}
		if v != last {
			last, moved = v, time.Now()
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return moved.Sub(start), nil
}

// metric reads one unlabelled sample from the child's /metrics.
func metric(ctx context.Context, base, name string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := benchClient(2).Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("no %s in /metrics", name)
}

// importAccount creates the account "imp" with usageUsers users (whose use
// is pooled: none holds a practitioner licence) and a commercial licence of
// 100 seats on each product.
func importAccount(ctx context.Context, base string) error {
	client := benchClient(2)
	send := func(path string, body string) error {
		status, answer, err := post(ctx, client, base+path, []byte(body))
		if err == nil && status/100 != 2 {
			err = fmt.Errorf("POST %s: %d %.200s", path, status, answer)
		}
		return err
	}
	if err := send("/v1/accounts", `{"id":"imp","name":"Import","fulfillment_contact":"ops@imp.example"}`); err != nil {
		return err
	}
	for i, p := range importProducts {
		if err := send("/v1/accounts/imp/licenses", fmt.Sprintf(`{"id":"C%d","kind":"commercial","products":[%q],"seats":100,`+
			`"valid_from":"2020-01-01T00:00:00Z","valid_until":"2099-01-01T00:00:00Z"}`, i, p)); err != nil {
			return err
		}
	}
	for u := range usageUsers {
		if err := send("/v1/accounts/imp/users", fmt.Sprintf(`{"email":"u%d@imp.example","entitlement_country":"DE"}`, u)); err != nil {
			return err
		}
	}
	return nil
}

var importProducts = []string{"microstation", "openroads", "revit"}

// importBodies encodes n pooled records starting in [from, until), over
// 500 machines and 3 products, lasting as in the field (most under 8 hours,
// 9% up to 2 days, 1% up to 7), in request bodies of importBatch records.
func importBodies(n int, from, until time.Time) [][]byte {
	rng := rand.New(rand.NewPCG(7, 42))
	span := until.Sub(from)
	var bodies [][]byte
	for b := 0; b*importBatch < n; b++ {
		var buf bytes.Buffer
		buf.WriteString(`{"records":[`)
		for i := b * importBatch; i < min(n, (b+1)*importBatch); i++ {
			d := time.Duration(5+rng.IntN(475)) * time.Minute
			switch r := rng.IntN(100); {
			case r == 0:
				d = time.Duration(1+rng.IntN(7*24)) * time.Hour
			case r < 10:
				d = time.Duration(8+rng.IntN(40)) * time.Hour
			}
			d = min(d, commands.MaxUsageSpan)
			start := from.Add(time.Duration(rng.Int64N(int64(span)))).Truncate(time.Second)
			if i > b*importBatch {
				buf.WriteByte(',')
			}
			fmt.Fprintf(&buf, `{"usage_id":"i-%d","email":"u%d@imp.example","product":%q,"machine_id":"ws-%d",`+
				`"client_version":"10.00.18.25","started_at":%q,"ended_at":%q,"offline":false}`,
				i, i%usageUsers, importProducts[i%len(importProducts)], rng.IntN(500),
				start.Format(time.RFC3339), start.Add(d).Format(time.RFC3339))
		}
		buf.WriteString(`]}`)
		bodies = append(bodies, buf.Bytes())
	}
	return bodies
}
