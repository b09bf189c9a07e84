package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/entledger/ledger/server"
)

// The bench subcommand measures the ledger beside raw JetStream and raw
// Pebble in one run, on one embedded server, with one durability setting,
// and prints each rate and the ratios the issues set goals for.

type benchConfig struct {
	clients         int
	ops             int   // commands per client and phase
	licences        int   // licences held by the serve process in the memory phase (0 skips it)
	usageClients    []int // client counts of the usage phase, all on one product
	usageBatches    int   // batches of 500 records per client count
	usageSpread     bool  // each usage client on its own product instead of all on one
	billingRecords  int   // pooled records imported by the billing phase
	applyEvents     int   // usage events the apply phase applies per run
	consoleLicences int   // licences of the console phase's account
	consoleRequests int   // requests of each page timed by the console phase
	syncInterval    time.Duration
	dir             string
	keep            bool
	importBinary    string // the import phase compares this binary's serve with this one's
	importRuns      int
	importMemory    string          // --memory-limit for the import phase's children ("": none)
	rebuildProfile  string          // a CPU profile of the rebuild alone goes here ("": none)
	replicasFlag    int             // --replicas: 1 (the embedded server) or 3 (an in-process cluster)
	groupsInFlight  int             // --groups-in-flight for the ledgers of the writes and usage phases (0: their default)
	cluster         *benchCluster   // the R3 cluster, when replicasFlag is 3
	phases          map[string]bool // which phases run
	fairness        fairnessConfig  // the fairness phase's sizes
}

// measurement is one timed phase.
type measurement struct {
	name string
	ops  int
	took time.Duration
	unit string
}

func (m measurement) rate() float64 {
	if m.took <= 0 {
		return 0
	}
	return float64(m.ops) / m.took.Seconds()
}

// benchFlags are the bench's settings and the profiles it writes.
type benchFlags struct {
	benchConfig
	cpuProfile, memProfile string
}

// parseBench reads the bench's flags into its settings.
func parseBench(args []string, stderr io.Writer) (benchFlags, error) {
	fs := newFlagSet("bench", "Measure the ledger beside raw JetStream and raw Pebble in one run and print the ratios.", stderr)
	var f benchFlags
	bc := &f.benchConfig
	intVar(fs, &bc.clients, "clients", 16, "concurrent clients (publishers) in the write phases")
	intVar(fs, &bc.ops, "ops", 200, "commands per client in each write phase")
	intVar(fs, &bc.licences, "licences", 100_000, "licences created through a `ledger serve` process for the memory phase (0 skips it)")
	usageClients := fs.String("usage-clients", "1,4,16,64", "comma-separated client counts of the usage phase, all clients on one product")
	intVar(fs, &bc.usageBatches, "usage-batches", 256, "batches of 500 usage records for each client count, split among the clients")
	fs.BoolVar(&bc.usageSpread, "usage-spread", false, "put each usage client on its own product (the friendly case) instead of all on one")
	durationVar(fs, &bc.syncInterval, "sync-interval", 0, "JetStream fsync interval for every phase; 0 syncs every write")
	fs.StringVar(&bc.dir, "dir", "", "directory to work in (a new subdirectory of it is kept); default: a temporary directory, removed at the end")
	fs.BoolVar(&bc.keep, "keep", false, "keep the temporary directory")
	phases := fs.String("phases", "writes,usage,serve", "comma-separated phases to run: writes, usage, serve; billing, import, subscriber and rebuild "+
		"(not by default: each imports --billing-records); console (not by default: the console's pages with --console-licences); "+
		"apply (not by default: --apply-events usage events applied to the projections with countries and without); "+
		"fairness (not by default: one account floods usage, another's latency beside its idle figures, default limits)")
	intVar(fs, &bc.consoleLicences, "console-licences", 10_000, "unassigned licences of the console phase's account")
	intVar(fs, &bc.consoleRequests, "console-requests", 50, "requests of each page the console phase times (their medians are printed)")
	intVar(fs, &bc.billingRecords, "billing-records", 1_000_000, "pooled usage records of the billing phase, over 500 machines, 3 products and 4 countries")
	intVar(fs, &bc.applyEvents, "apply-events", 200_000, "usage events the apply phase applies in each of its runs, with countries and without")
	fs.StringVar(&bc.importBinary, "import-binary", "", "the import phase alternates `ledger serve` of this binary (say, one built before a change) with this one")
	fs.StringVar(&bc.importMemory, "import-memory-limit", "", "the import phase's `ledger serve` children run with this --memory-limit, e.g. 400MiB")
	intVar(fs, &bc.importRuns, "import-runs", 1, "runs of each binary in the import phase (medians are printed with --import-binary)")
	intVar(fs, &bc.replicasFlag, "replicas", 1, "stream replicas of the writes and usage phases: 1 (the embedded server) or 3 (three nats-servers clustered in this process, on loopback)")
	intVar(fs, &bc.groupsInFlight, "groups-in-flight", 0, "group commits each ledger keeps in flight in the writes and usage phases; 0: the ledger's default, 1")
	fs.StringVar(&bc.rebuildProfile, "rebuild-profile", "", "write a CPU profile of the projection rebuild alone (phases serve and rebuild) to this file")
	durationVar(fs, &bc.fairness.flood, "fairness-flood", 20*time.Second, "how long account alpha floods usage in the fairness phase")
	intVar(fs, &bc.fairness.floodClients, "fairness-clients", 8, "alpha's clients in the fairness phase, all with one ingest token")
	intVar(fs, &bc.fairness.floodBatch, "fairness-batch", 1000, "usage records per batch of alpha's clients")
	intVar(fs, &bc.fairness.betaOps, "fairness-ops", 200, "beta's PATCH and check pairs measured idle, before the flood")
	durationVar(fs, &bc.fairness.betaEvery, "fairness-every", 20*time.Millisecond, "beta's pace: one PATCH and one check per interval")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file")
	fs.StringVar(&f.memProfile, "memprofile", "", "write a heap profile at the end of the run to this file")
	if err := parse(fs, args); err != nil {
		return f, err
	}
	bc.phases = map[string]bool{}
	for _, p := range strings.Split(*phases, ",") {
		switch p = strings.TrimSpace(p); p {
		case "writes", "usage", "serve", "billing", "import", "subscriber", "rebuild", "console", "apply", "fairness":
			bc.phases[p] = true
		default:
			return f, fmt.Errorf("bench: --phases: unknown phase %q (want writes, usage, serve, billing, import, subscriber, rebuild, console, apply or fairness)", p)
		}
	}
	for _, field := range strings.Split(*usageClients, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(field))
		if err != nil || n < 1 {
			return f, fmt.Errorf("bench: --usage-clients: %q is not a client count; want e.g. 1,4,16,64", field)
		}
		bc.usageClients = append(bc.usageClients, n)
	}
	if bc.replicasFlag != 1 && bc.replicasFlag != 3 {
		return f, fmt.Errorf("bench: --replicas: %d; want 1 or 3", bc.replicasFlag)
	}
	if bc.importRuns < 1 {
		return f, fmt.Errorf("bench: --import-runs: %d; want 1 or more", bc.importRuns)
	}
	if bc.consoleLicences < 1 || bc.consoleRequests < 1 {
		return f, fmt.Errorf("bench: --console-licences and --console-requests: want 1 or more")
	}
	if fc := bc.fairness; fc.flood <= 0 || fc.floodClients < 1 || fc.floodBatch < 1 || fc.floodBatch > 1000 || fc.betaOps < 1 || fc.betaEvery <= 0 {
		return f, fmt.Errorf("bench: --fairness-flood and --fairness-every > 0, --fairness-clients and --fairness-ops >= 1, --fairness-batch 1 to 1000 are required")
	}
	if bc.clients < 1 || bc.ops < 2 || bc.licences < 0 {
		return f, fmt.Errorf("bench: --clients >= 1, --ops >= 2 and --licences >= 0 are required")
	}
	return f, nil
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseBench(args, stderr)
	if err != nil {
		return err
	}
	bc := f.benchConfig
	if f.cpuProfile != "" {
		out, err := os.Create(f.cpuProfile)
		if err != nil {
			return fmt.Errorf("bench: --cpuprofile: %w", err)
		}
		defer out.Close()
		if err := pprof.StartCPUProfile(out); err != nil {
			return fmt.Errorf("bench: --cpuprofile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	if f.memProfile != "" {
		defer func() {
			if out, err := os.Create(f.memProfile); err == nil {
				runtime.GC()
				pprof.WriteHeapProfile(out)
				out.Close()
			}
		}()
	}
	if bc.dir == "" {
		d, err := os.MkdirTemp("", "ledger-bench-")
		if err != nil {
			return err
		}
		bc.dir = d
		if !bc.keep {
			defer os.RemoveAll(bc.dir)
		}
	} else {
		// A directory the user named is never removed; the bench works in a
		// new subdirectory of it.
		d, err := os.MkdirTemp(bc.dir, "ledger-bench-")
		if err != nil {
			return err
		}
		bc.dir = d
	}
	if bc.replicasFlag == 3 {
		c, err := startBenchCluster(filepath.Join(bc.dir, "cluster"), bc.syncInterval)
		if err != nil {
			return err
		}
		defer c.stop()
		bc.cluster = c
	}
	durability := "every write fsynced before it is acknowledged"
	if bc.syncInterval > 0 {
		durability = "fsync every " + bc.syncInterval.String()
	}
	fmt.Fprintf(stdout, "ledger bench: %d clients, %d commands each, %s, R%d; GOMAXPROCS=%d, %s/%s\n\n",
		bc.clients, bc.ops, durability, bc.replicas(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH)

	if bc.phases["writes"] {
		w, err := benchWrites(ctx, bc, stdout)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout)
		fmt.Fprintf(stdout, "ratio  ledger Go API / raw JetStream  %.2f  (goal >= 0.5)\n", w.goAPI.rate()/w.raw.rate())
		fmt.Fprintf(stdout, "ratio  ledger HTTP   / raw JetStream  %.2f  (goal >= 0.4)\n", w.http.rate()/w.raw.rate())
	}
	if bc.phases["usage"] && bc.usageBatches > 0 {
		fmt.Fprintln(stdout)
		if err := benchUsage(ctx, bc, stdout); err != nil {
			return err
		}
		// After the first part has stopped its ledger: on a cluster this
		// part deletes the stream the first part used.
		if err := benchUsageTwoProcesses(ctx, bc, stdout); err != nil {
			return err
		}
	}
	if bc.phases["billing"] && bc.billingRecords > 0 {
		fmt.Fprintln(stdout)
		if err := benchBilling(ctx, bc, stdout); err != nil {
			return err
		}
	}
	if bc.phases["import"] && bc.billingRecords > 0 {
		fmt.Fprintln(stdout)
		if err := benchImport(ctx, bc, stdout); err != nil {
			return err
		}
	}
	if bc.phases["subscriber"] && bc.billingRecords > 0 {
		fmt.Fprintln(stdout)
		if err := benchSubscriber(ctx, bc, stdout); err != nil {
			return err
		}
	}
	if bc.phases["rebuild"] && bc.billingRecords > 0 {
		fmt.Fprintln(stdout)
		if err := benchRebuild(ctx, bc, stdout); err != nil {
			return err
		}
	}
	if bc.phases["console"] {
		fmt.Fprintln(stdout)
		if err := benchConsole(ctx, bc, stdout); err != nil {
			return err
		}
	}
	if bc.phases["apply"] && bc.applyEvents > 0 {
		fmt.Fprintln(stdout)
		if err := benchApply(ctx, bc, stdout); err != nil {
			return err
		}
	}
	if bc.phases["fairness"] {
		fmt.Fprintln(stdout)
		if err := benchFairness(ctx, bc, stdout); err != nil {
			return err
		}
	}
	if bc.phases["serve"] && bc.licences > 0 {
		fmt.Fprintln(stdout)
		if err := benchServe(ctx, bc, stdout); err != nil {
			return err
		}
	}
	return nil
}

func printMeasurement(w io.Writer, m measurement) {
	fmt.Fprintf(w, "%-44s %8d %-9s in %8s  %10.0f %s/s\n", m.name, m.ops, m.unit, m.took.Round(time.Millisecond), m.rate(), m.unit)
}

// writeResults are the three write phases.
type writeResults struct{ raw, batch2, batch3, goAPI, http measurement }

func benchWrites(ctx context.Context, bc benchConfig, out io.Writer) (writeResults, error) {
	var res writeResults
	if err := bc.freshStream(ctx); err != nil {
		return res, err
	}
	srv, err := server.Start(ctx, bc.onStream(server.Config{
		DataDir: filepath.Join(bc.dir, "writes"), HTTPAddr: "127.0.0.1:0", SyncInterval: bc.syncInterval,
		Logger: quietLogger(),
	}))
	if err != nil {
		return res, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Close(cctx)
	}()
	noteToken(srv.Addr(), srv.DataDir())

	if res.raw, err = benchRawPublish(ctx, srv.Conn(), bc); err != nil {
		return res, err
	}
	printMeasurement(out, res.raw)
	one, conflicts, err := benchRawOneSubject(ctx, srv.Conn(), bc)
	if err != nil {
		return res, err
	}
	printMeasurement(out, one)
	fmt.Fprintf(out, "  (the one-subject-per-account layout: no batch, %.2f× the raw publishes, %d publishes lost a race and were sent again)\n",
		one.rate()/res.raw.rate(), conflicts)
	if res.batch2, err = benchRawBatch(ctx, srv.Conn(), bc, 2); err != nil {
		return res, err
	}
	printMeasurement(out, res.batch2)
	if res.batch3, err = benchRawBatch(ctx, srv.Conn(), bc, 3); err != nil {
		return res, err
	}
	printMeasurement(out, res.batch3)
	if res.goAPI, err = benchLedgerGo(ctx, srv.Ledger(), bc); err != nil {
		return res, err
	}
	printMeasurement(out, res.goAPI)
	if res.http, err = benchLedgerHTTP(ctx, "http://"+srv.Addr(), bc); err != nil {
		return res, err
	}
	printMeasurement(out, res.http)
	return res, nil
}
