package server

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/entledger/ledger/api"
	"github.com/entledger/ledger/console"
	"github.com/entledger/ledger/ledger"
	"github.com/entledger/ledger/projections"
)

// Server is a running ledger: stream, projections, write side and HTTP API.
type Server struct {
	dir    *DataDir
	conn   *Conn
	store  *projections.Store
	ledger *ledger.Ledger
	http   *http.Server
	api    *api.API
	tls    bool // the API is served over TLS
	ln     net.Listener
	logger *slog.Logger
	gate   *streamGate  // open while LEDGER is the stream the ledger started on
	watch  *streamWatch // the stream check

	cancel      context.CancelFunc
	followErr   chan error      // the projections' error, if they stop by themselves
	followDone  chan struct{}   // closed when the projections have stopped
	followCtx   context.Context // cancelled by Close: the projections and the alerter stop
	noReminders bool            // see Config.NoReminders
	// readyMaxLag and readyMaxLagEvents bound the projections' lag for
	// /readyz (readiness.go).
	readyMaxLag       time.Duration
	readyMaxLagEvents uint64
	caughtUp          atomic.Bool        // the projections applied the whole stream once since the start
	alertsDone        chan struct{}      // closed when the alerter has stopped
	stopAlerts        context.CancelFunc // stops the alerter and the reminders, before the projections
}

// Start starts a ledger server and returns once its HTTP API is listening.
// It first takes the data directory's lock, so that no other ledger process
// opens the same files. The projections catch up in the background; /readyz
// says when they have.
func Start(ctx context.Context, cfg Config) (_ *Server, err error) {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	var undo closers
	defer func() {
		if err != nil {
			undo.close()
		}
	}()
	dir, err := OpenDataDir(cfg.DataDir, true)
	if err != nil {
		return nil, err
	}
	undo.add(dir.Close)
	tlsConfig, err := loadTLS(cfg.TLSCert, cfg.TLSKey)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("server: --http %s: %w", cfg.HTTPAddr, err)
	}
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
	}
	undo.add(ln.Close)
	conn, err := Dial(ctx, cfg)
	if err != nil {
		return nil, err
	}
	undo.add(func() error { conn.Close(); return nil })
	key, store, err := openStore(ctx, cfg, conn.Stream, logger)
	if err != nil {
		return nil, err
	}
	undo.add(store.Close)
	checkoutKey, err := checkoutKeyOf(cfg, key, logger)
	if err != nil {
		return nil, err
	}
	if err := writePublicKeys(cfg.DataDir, key, checkoutKey); err != nil {
		return nil, err
	}
	replayKV, err := ledger.OpenReplayAnswers(ctx, conn.JS, cfg.Replicas)
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	l := ledger.New(conn.NC, conn.JS, conn.Stream, store, ledger.Options{
		Key: key, CheckoutKey: checkoutKey, SessionTTL: cfg.SessionTTL, UsageHorizon: cfg.UsageHorizon,
		UsageShards: cfg.UsageShards, ReplayAnswers: replayKV, Now: cfg.Now, Logger: logger, Registerer: reg,
		ReminderPoll: cfg.ReminderPoll, GroupsInFlight: cfg.GroupsInFlight,
		// An embedded server that listens nowhere has no other client:
		// no other ledger can write to its stream.
		Exclusive: len(cfg.NATSURLs) == 0 && cfg.NATSListen == "",
	})
	s := &Server{dir: dir, conn: conn, store: store, ledger: l, ln: ln, logger: logger, noReminders: cfg.NoReminders, tls: tlsConfig != nil,
		readyMaxLag: cmp.Or(cfg.ReadyMaxLag, DefaultReadyMaxLag), readyMaxLagEvents: cmp.Or(cfg.ReadyMaxLagEvents, DefaultReadyMaxLagEvents),
		followErr: make(chan error, 1), followDone: make(chan struct{}), gate: newStreamGate()}
	if err := s.prepareWatch(ctx); err != nil {
		return nil, err
	}
	s.follow()
	if err := s.watchStream(cfg.StreamCheckInterval); err != nil {
		s.cancel()
		<-s.followDone
		return nil, err
	}
	s.registerReady(reg)
	if err := s.serveSubscribers(); err != nil {
		s.cancel()
		<-s.followDone
		return nil, fmt.Errorf("server: the ledger's nats services: %w", err)
	}
	if !cfg.NoBootstrap {
		if err := s.bootstrapAdmin(ctx, cfg.DataDir); err != nil {
			s.cancel()
			<-s.followDone
			return nil, err
		}
	}
	s.raiseAlerts()
	s.api = api.New(l, api.Options{Registerer: reg, Gatherer: reg, Ready: s.ready, Logger: logger,
		RateLimit: cfg.RateLimit, UsageRate: cfg.UsageRate, ReportRate: cfg.ReportRate, BodyRate: cfg.BodyRate, MaxInFlight: cfg.MaxInFlight, StreamStall: cfg.writeTimeout(), CommandTimeout: cfg.CommandTimeout, NATSURLs: conn.SubscriberURLs(cfg), SubscriberRevoked: func(id string) { go s.disconnectSubscriber(id) }})
	con := console.New(s.api, console.Options{Now: l.Now, Logger: logger, TokenFile: AdminTokenFile(cfg.DataDir)})
	s.serveHTTP(api.CheckHost(allowedHosts(cfg, ln.Addr()), withConsole(con, s.api)), cfg.writeTimeout())
	return s, nil
}

// follow keeps the projections following the stream until Close.
func (s *Server) follow() {
	var fctx context.Context
	fctx, s.cancel = context.WithCancel(context.Background())
	s.followCtx = fctx
	go func() {
		defer close(s.followDone)
		if err := s.followGated(fctx); err != nil || fctx.Err() == nil {
			s.followErr <- err
		}
	}()
}

// raiseAlerts runs the ledger's alerter (G4) and reminders (G5) until
// Close.
func (s *Server) raiseAlerts() {
	s.alertsDone = make(chan struct{})
	actx, stop := context.WithCancel(s.followCtx)
	s.stopAlerts = stop
	done := make(chan struct{}, 2)
	go func() {
		if err := s.ledger.RunAlerter(actx); err != nil {
			s.logger.Error("threshold alerts stopped", "err", err)
		}
		done <- struct{}{}
	}()
	go func() {
		if !s.noReminders {
			if err := s.ledger.RunReminders(actx); err != nil {
				s.logger.Error("reminders stopped", "err", err)
			}
		}
		done <- struct{}{}
	}()
	go func() {
		<-done
		<-done
		close(s.alertsDone)
	}()
}

// withConsole sends the console's paths (console.Owns: /, /accounts/…,
// /assets/…, /sign-in, /sign-out) to the console and every other request to
// the API as it is, unclean paths included (the API refuses them itself).
func withConsole(con, apiHandler http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if console.Owns(r.URL.Path) {
			con.ServeHTTP(w, r)
			return
		}
		apiHandler.ServeHTTP(w, r)
	})
}

// serveHTTP serves h on the server's listener until Close.
func (s *Server) serveHTTP(h http.Handler, writeTimeout time.Duration) {
	s.http = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := s.http.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("http server", "err", err)
		}
	}()
}

// closers undo a half-done start, last first.
type closers []func() error

func (c *closers) add(f func() error) { *c = append(*c, f) }

func (c closers) close() {
	for i := len(c) - 1; i >= 0; i-- {
		c[i]()
	}
}

// Routes lists the HTTP API's endpoints and the access each asks of a token.
func (s *Server) Routes() []api.Route { return s.api.Routes() }

// DataDir is the server's data directory.
func (s *Server) DataDir() string { return s.dir.Path }

// Scheme is how clients reach the API: https with TLSCert, else http.
func (s *Server) Scheme() string {
	if s.tls {
		return "https"
	}
	return "http"
}

// Addr is the address the HTTP API listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// NATSURL is the embedded server's client URL ("" if none).
func (s *Server) NATSURL() string { return s.conn.ClientURL() }

// Ledger is the server's write side.
func (s *Server) Ledger() *ledger.Ledger { return s.ledger }

// Store is the server's projection store.
func (s *Server) Store() *projections.Store { return s.store }

// Conn is the server's stream connection.
func (s *Server) Conn() *Conn { return s.conn }

// Wait blocks until ctx is done (nil) or the projections fail (their error).
func (s *Server) Wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case err := <-s.followErr:
		if err == nil {
			return errors.New("server: projections stopped")
		}
		return err
	}
}

// Close stops accepting requests, lets running ones finish (up to ctx), then
// stops the projections and the stream connection.
func (s *Server) Close(ctx context.Context) error {
	err := s.http.Shutdown(ctx)
	// What the ledger emits itself (alerts, reminders) stops first, and the
	// projections then apply everything the stream holds, so that a clean
	// stop leaves a store equal to a rebuild's (an event appended at the
	// last moment would otherwise be on the stream but not in the store
	// until the next start).
	s.stopAlerts()
	<-s.alertsDone
	s.drainProjections(ctx)
	s.cancel()
	<-s.followDone
	s.conn.Close()
	if cerr := s.store.Close(); err == nil {
		err = cerr
	}
	if cerr := s.dir.Close(); err == nil {
		err = cerr
	}
	return err
}

// drainProjections waits, within ctx, for the projections to apply the
// stream's last event; not for a stream that is not the one the ledger
// started on, which they no longer follow.
func (s *Server) drainProjections(ctx context.Context) {
	if lost, _ := s.gate.state(); lost != "" {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-s.followDone: // the projections stopped by themselves: nothing to wait for
			cancel()
		case <-ctx.Done():
		}
	}()
	info, err := s.conn.Stream.Info(ctx)
	if err != nil {
		return
	}
	if err := s.store.WaitFor(ctx, info.State.LastSeq); err != nil {
		s.logger.Warn("stopping before the projections applied the whole stream; they catch up at the next start",
			"checkpoint", s.store.Checkpoint(), "stream", info.State.LastSeq, "err", err)
	}
}
