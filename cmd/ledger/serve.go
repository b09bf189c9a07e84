package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/entledger/ledger/api"
	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/ledger"
	"github.com/entledger/ledger/server"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", "Run the ledger: the HTTP API, the projections and (by default) an embedded NATS JetStream.", stderr)
	var sf storeFlags
	sf.register(fs, true)
	var lf logFlags
	lf.register(fs)
	httpAddr := fs.String("http", "127.0.0.1:8080", "HTTP API address (port 0 picks a free port)")
	checkoutKey := fs.String("checkout-key", "",
		"Ed25519 private key (PKCS #8 PEM) that signs offline checkout tokens; default: the stream's, derived from the signing key (the same on every ledger of the stream)")
	usageHorizon := durationFlag(fs, "usage-horizon", commands.DefaultUsageHorizon,
		"usage that started longer ago than this `duration` is rejected usage_too_old (F3)")
	sessionTTL := durationFlag(fs, "session-ttl", commands.DefaultSessionTTL,
		"a sign-in session ends after this `duration` without a refresh or heartbeat (D3)")
	var usageShards int
	intVar(fs, &usageShards, "usage-shards", ledger.DefaultUsageShards,
		"subjects one product's usage is spread over, so that concurrent writers do not contend (1 to 256)")
	debugAddr := fs.String("debug-addr", "",
		"serve Go's profiler (/debug/pprof/) on this address, e.g. 127.0.0.1:6060; unauthenticated, so only for trusted hosts (default: off)")
	publicNames := listFlag(fs, "public-name",
		"a DNS `name` clients reach the API by, e.g. ledger.example.com (repeat the flag, or separate names with commas); "+
			"requests for any other host are refused (421 invalid_host). The --http host, IP addresses when --http listens on 0.0.0.0 or ::, "+
			"and localhost when it listens on loopback need no listing")
	var rateLimit, usageRate, reportRate, bodyRate, maxInFlight int
	intVar(fs, &rateLimit, "rate-limit", api.DefaultRateLimit,
		"commands (mutating requests but usage batches) a second each token may send, twice that per account (S9); 0 turns the limit off")
	intVar(fs, &usageRate, "usage-rate", api.DefaultUsageRate,
		"usage records a second each account may send, half that per token (S9); 0 turns the limit off")
	intVar(fs, &reportRate, "report-rate", api.DefaultReportRate,
		"report computations (QTL, peaks, evidence, exports; a cached report is free) a second per account, half that per token (S9); 0 turns the limit off")
	intVar(fs, &bodyRate, "body-rate", api.DefaultBodyRate,
		"request body bytes a second per account, half that per token (S9); 0 turns the limit off")
	intVar(fs, &maxInFlight, "max-inflight", api.DefaultMaxInFlight,
		"requests running at once in the process; an account may hold a quarter of them, a token an eighth; 0 turns the cap off")
	memoryLimit := bytesFlag(fs, "memory-limit",
		"a soft limit for the process's memory, e.g. 400MiB: the Go runtime collects harder near it, and the caches are sized from it (default: none)")
	tlsCert := fs.String("tls-cert", "", "serve the API over HTTPS with this certificate (PEM, the chain after it), with --tls-key")
	tlsKey := fs.String("tls-key", "", "the certificate's private key (PEM); refused when others may read the file")
	readyMaxLag := durationFlag(fs, "ready-max-lag", server.DefaultReadyMaxLag,
		"/readyz answers 503 when the oldest event the projections have not applied was stored longer ago than this `duration` (stuck, or far behind)")
	var readyMaxLagEvents int
	intVar(fs, &readyMaxLagEvents, "ready-max-lag-events", server.DefaultReadyMaxLagEvents,
		"/readyz answers 503 when the projections are more than this many events behind the stream")
	newStream := fs.Bool("new-stream", false,
		"start over when the projections were built from a stream that is missing, was replaced or holds less than they applied: "+
			"create the stream if it is missing and set the projections aside (DATA/projections.old-TIME) to build them again; "+
			"refused when the stream is the one the projections know. Without it such a start is refused (S7)")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := sf.config()
	if err != nil {
		return err
	}
	if *httpAddr == "" {
		return badUsage("--http: an address is required")
	}
	cfg.HTTPAddr = *httpAddr
	for _, name := range *publicNames {
		if err := checkPublicName(name); err != nil {
			return badUsage("--public-name: %q: %w", name, err)
		}
	}
	cfg.PublicNames = *publicNames
	for _, l := range []struct {
		flag string
		v    int
		dst  *float64
	}{{"rate-limit", rateLimit, &cfg.RateLimit}, {"usage-rate", usageRate, &cfg.UsageRate},
		{"report-rate", reportRate, &cfg.ReportRate}, {"body-rate", bodyRate, &cfg.BodyRate}} {
		if l.v < 0 {
			return badUsage("--%s: want 0 (off) or more, not %d", l.flag, l.v)
		}
		*l.dst = offIfZero(float64(l.v))
	}
	if maxInFlight < 0 {
		return badUsage("--max-inflight: want 0 (off) or more, not %d", maxInFlight)
	}
	cfg.MaxInFlight = int(offIfZero(float64(maxInFlight)))
	if (*tlsCert == "") != (*tlsKey == "") {
		return badUsage("--tls-cert and --tls-key: give both, or neither")
	}
	cfg.TLSCert, cfg.TLSKey = *tlsCert, *tlsKey
	cfg.NewStream = *newStream
	if *readyMaxLag <= 0 || readyMaxLagEvents <= 0 {
		return badUsage("--ready-max-lag and --ready-max-lag-events: want a positive duration and a positive count")
	}
	cfg.ReadyMaxLag, cfg.ReadyMaxLagEvents = *readyMaxLag, uint64(readyMaxLagEvents)
	if *memoryLimit > 0 {
		if *memoryLimit < 64<<20 {
			return badUsage("--memory-limit: %d bytes; want at least 64MiB", *memoryLimit)
		}
		cfg.MemoryLimit = *memoryLimit
		debug.SetMemoryLimit(cfg.GoMemoryLimit()) // Pebble's caches live outside the Go heap
	}
	if *sessionTTL <= 0 {
		return badUsage("--session-ttl: %s; want a positive duration", *sessionTTL)
	}
	cfg.SessionTTL = *sessionTTL
	cfg.CheckoutKey = *checkoutKey
	if *usageHorizon <= 0 {
		return badUsage("--usage-horizon: %s; want a positive duration", *usageHorizon)
	}
	cfg.UsageHorizon = *usageHorizon
	if usageShards < 1 || usageShards > events.MaxUsageShards {
		return badUsage("--usage-shards: %d; want 1 to %d", usageShards, events.MaxUsageShards)
	}
	cfg.UsageShards = usageShards
	if cfg.Logger, err = lf.logger(stderr); err != nil {
		return err
	}

	if *debugAddr != "" {
		if err := loopbackOnly(*debugAddr); err != nil {
			return fmt.Errorf("--debug-addr: %w", err)
		}
		stop, err := serveDebug(*debugAddr, cfg.Logger)
		if err != nil {
			return fmt.Errorf("--debug-addr: %w", err)
		}
		defer stop()
	}
	srv, err := server.Start(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "listening on %s://%s\n", srv.Scheme(), srv.Addr())
	if tokenFile := server.AdminTokenFile(cfg.DataDir); fileExists(tokenFile) {
		fmt.Fprintf(stdout, "console at %s://%s/ (sign in with the token in %s)\n", srv.Scheme(), consoleHost(srv.Addr()), tokenFile)
	} else {
		fmt.Fprintf(stdout, "console at %s://%s/ (sign in with an admin token: the first ledger on this stream wrote one to its admin.token; "+
			"`ledger token create` makes more)\n", srv.Scheme(), consoleHost(srv.Addr()))
	}
	if u := srv.NATSURL(); u != "" {
		cfg.Logger.Info("embedded NATS accepts subscribers", "url", u)
	}
	cfg.Logger.Info("ledger started", "data", cfg.DataDir, "http", srv.Addr())
	werr := srv.Wait(ctx)
	cfg.Logger.Info("ledger stopping")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Close(sctx); err != nil && werr == nil {
		werr = err
	}
	return werr
}

// consoleHost is the address a person opens the console at: the bound
// address, with a loopback name for an address that listens everywhere
// (a browser cannot open 0.0.0.0).
func consoleHost(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// loopbackOnly refuses an address that is not on loopback: a listener
// without authentication never faces the network (S4).
func loopbackOnly(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%s is not a loopback address: the profiler has no authentication, so it listens on 127.0.0.1 or ::1 only", addr)
}

// serveDebug serves net/http/pprof on addr, apart from the API.
func serveDebug(addr string, logger *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Warn("debug server", "err", err)
		}
	}()
	logger.Info("profiler listening", "url", "http://"+ln.Addr().String()+"/debug/pprof/")
	return func() { hs.Close() }, nil
}

// checkPublicName accepts a host name (letters, digits and '-' in labels
// separated by dots, optionally ending in one) or an IP address, without a
// scheme or a port.
func checkPublicName(name string) error {
	if _, err := netip.ParseAddr(strings.Trim(name, "[]")); err == nil {
		return nil
	}
	host := strings.TrimSuffix(name, ".")
	if len(host) == 0 || len(host) > 253 {
		return errHostName
	}
	for label := range strings.SplitSeq(host, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return errHostName
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return errHostName
			}
		}
	}
	return nil
}

var errHostName = errors.New("want a host name such as ledger.example.com or an IP address, without a scheme or a port")

// fileExists reports whether path names a file that can be read.
func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// offIfZero maps a limit flag's 0 (off) to the API's "no limit" (< 0).
func offIfZero(v float64) float64 {
	if v == 0 {
		return -1
	}
	return v
}
