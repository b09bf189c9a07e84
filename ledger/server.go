package ledger

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/projections"
)

// Config configures a ledger server. The zero value of every optional field
// is a working default.
type Config struct {
	DataDir  string // holds nats/ (embedded JetStream) and projections/ (Pebble)
	HTTPAddr string // e.g. 127.0.0.1:8080; port 0 picks a free one

	// NATSURLs selects an existing NATS server or cluster; empty starts the
	// embedded server.
	NATSURLs []string
	Replicas int // stream replicas when creating the stream on a cluster

	// SigningKey is the Ed25519 private key (PKCS #8 PEM) that signs the
	// events (the last of each subject per command; see events.ChainVerifier)
	// and keys their MACs; "" means DataDir/keys/events.ed25519, created on
	// first start.
	// Ledgers sharing a stream must share the key.
	SigningKey string

	// CheckoutKey is the Ed25519 private key that signs offline checkout
	// tokens (F6); "" means DataDir/keys/checkout.ed25519, created on first
	// start. It never appears in an event or a log.
	CheckoutKey string

	// Embedded server only.
	NATSListen   string        // client address for subscribers; "" listens nowhere
	SyncInterval time.Duration // 0: fsync every write (default)

	SessionTTL   time.Duration // sign-in session TTL (D3); 0 means commands.DefaultSessionTTL
	UsageHorizon time.Duration // late-arrival horizon of usage (F3); 0 means commands.DefaultUsageHorizon

	Now    func() time.Time
	Logger *slog.Logger
}

// Conn is a connection to the LEDGER stream, through the embedded server or
// an external one.
type Conn struct {
	NC       *nats.Conn
	JS       jetstream.JetStream
	Stream   jetstream.Stream
	Embedded *server.Server // nil when connected to an external server
}

// Dial starts the embedded server if cfg names no NATS URL, connects, and
// creates or verifies the stream.
func Dial(ctx context.Context, cfg Config) (*Conn, error) {
	return dial(ctx, cfg, true)
}

// DialExisting is Dial for readers such as `ledger verify`: it neither
// creates nor changes the stream, and fails if there is none.
func DialExisting(ctx context.Context, cfg Config) (*Conn, error) {
	return dial(ctx, cfg, false)
}

func dial(ctx context.Context, cfg Config, ensure bool) (*Conn, error) {
	c := &Conn{}
	var err error
	if len(cfg.NATSURLs) == 0 {
		c.Embedded, err = StartEmbedded(EmbeddedOptions{
			StoreDir: filepath.Join(cfg.DataDir, "nats"), Listen: cfg.NATSListen, SyncInterval: cfg.SyncInterval})
		if err != nil {
			return nil, err
		}
		c.NC, err = nats.Connect("", nats.InProcessServer(c.Embedded), nats.Name("ledger"))
	} else {
		c.NC, err = nats.Connect(strings.Join(cfg.NATSURLs, ","), nats.Name("ledger"), nats.MaxReconnects(-1))
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("ledger: connect to nats: %w", err)
	}
	if c.JS, err = jetstream.New(c.NC); err != nil {
		c.Close()
		return nil, fmt.Errorf("ledger: jetstream: %w", err)
	}
	if ensure {
		c.Stream, err = EnsureStream(ctx, c.JS, cfg.Replicas)
	} else if c.Stream, err = c.JS.Stream(ctx, StreamName); err != nil {
		err = fmt.Errorf("ledger: stream %s: %w", StreamName, err)
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Close closes the connection and stops the embedded server.
func (c *Conn) Close() {
	if c.NC != nil {
		c.NC.Close()
	}
	if c.Embedded != nil {
		c.Embedded.Shutdown()
		c.Embedded.WaitForShutdown()
	}
}

// ClientURL is the address subscribers use to reach the embedded server, or
// "" when it listens nowhere or the ledger uses an external server.
func (c *Conn) ClientURL() string {
	if c.Embedded == nil || c.Embedded.Addr() == nil {
		return ""
	}
	return c.Embedded.ClientURL()
}

// Server is a running ledger: stream, projections, write side and HTTP API.
type Server struct {
	conn   *Conn
	store  *projections.Store
	ledger *Ledger
	http   *http.Server
	ln     net.Listener
	logger *slog.Logger

	cancel     context.CancelFunc
	followErr  chan error    // the projections' error, if they stop by themselves
	followDone chan struct{} // closed when the projections have stopped
}

// signingKeyPath is where cfg's signing key lives.
func (cfg Config) signingKeyPath() string {
	if cfg.SigningKey != "" {
		return cfg.SigningKey
	}
	return filepath.Join(cfg.DataDir, "keys", "events.ed25519")
}

// ProjectionsDir is where the projection store lives under a data directory.
func ProjectionsDir(dataDir string) string { return filepath.Join(dataDir, "projections") }

// Start starts a ledger server and returns once its HTTP API is listening.
// The projections catch up in the background; /readyz says when they have.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("ledger: data directory: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("ledger: http listen %s: %w", cfg.HTTPAddr, err)
	}
	conn, err := Dial(ctx, cfg)
	if err != nil {
		ln.Close()
		return nil, err
	}
	key, store, err := openStore(ctx, cfg, conn.Stream, logger)
	if err != nil {
		ln.Close()
		conn.Close()
		return nil, err
	}
	// A key file the operator named must exist: a typo must not quietly make
	// a new key that clients cannot verify. The default one is made once.
	var checkoutKey ed25519.PrivateKey
	if cfg.CheckoutKey != "" {
		checkoutKey, err = events.LoadKey(cfg.CheckoutKey)
	} else {
		checkoutKey, err = events.LoadOrCreateKey(filepath.Join(cfg.DataDir, "keys", "checkout.ed25519"))
	}
	if err != nil {
		ln.Close()
		store.Close()
		conn.Close()
		return nil, fmt.Errorf("ledger: checkout key: %w", err)
	}
	answersKV, err := OpenAnswers(ctx, conn.JS, cfg.Replicas)
	if err != nil {
		ln.Close()
		store.Close()
		conn.Close()
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	l := New(conn.NC, conn.JS, conn.Stream, store, Options{Key: key, CheckoutKey: checkoutKey, SessionTTL: cfg.SessionTTL, UsageHorizon: cfg.UsageHorizon, Answers: answersKV, Now: cfg.Now, Logger: logger,
		// An embedded server that listens nowhere has no other client:
		// no other ledger can write to its stream.
		Exclusive: len(cfg.NATSURLs) == 0 && cfg.NATSListen == "",
		metrics:   newMetrics(reg, store)})

	s := &Server{conn: conn, store: store, ledger: l, ln: ln, logger: logger, followErr: make(chan error, 1),
		followDone: make(chan struct{})}
	var fctx context.Context
	fctx, s.cancel = context.WithCancel(context.Background())
	go func() {
		defer close(s.followDone)
		if err := store.Follow(fctx, conn.Stream); err != nil || fctx.Err() == nil {
			s.followErr <- err
		}
	}()

	s.http = &http.Server{
		Handler:           NewAPI(l, reg, s.ready),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("http server", "err", err)
		}
	}()
	return s, nil
}

// openStore loads the signing key and opens the projections, refusing what
// would make the ledger write or serve the wrong history:
//   - a key is created only for an empty stream; a stream with events needs
//     the key that wrote them, checked against the MAC of its first event;
//   - projections built from another stream (its identity differs, or their
//     checkpoint is ahead of the stream) are never served or appended to.
func openStore(ctx context.Context, cfg Config, stream jetstream.Stream, logger *slog.Logger) (ed25519.PrivateKey, *projections.Store, error) {
	info, err := stream.Info(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("ledger: stream info: %w", err)
	}
	path := cfg.signingKeyPath()
	var key ed25519.PrivateKey
	if info.State.Msgs == 0 {
		key, err = events.LoadOrCreateKey(path)
	} else {
		key, err = events.LoadKey(path)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("ledger: signing key (the stream holds %d events; start with the key that signed them, --signing-key): %w",
			info.State.Msgs, err)
	}
	mac := events.NewMAC(key)
	if info.State.Msgs > 0 {
		if err := keyWroteStream(ctx, stream, info, mac); err != nil {
			return nil, nil, fmt.Errorf("ledger: the signing key %s did not write this stream's events (%w); start with the key that did, --signing-key",
				path, err)
		}
	}
	store, err := projections.Open(ProjectionsDir(cfg.DataDir), projections.Options{Logger: logger, Authenticator: mac})
	if err != nil {
		return nil, nil, err
	}
	if err := store.Bind(StreamIdentity(info), info.State.LastSeq); err != nil {
		store.Close()
		return nil, nil, fmt.Errorf("ledger: %w; stop the ledger and run `ledger rebuild`", err)
	}
	return key, store, nil
}

// keyWroteStream checks the key against the first of the stream's messages
// that carries a MAC: a foreign message without one (a break) does not stop
// the ledger from starting, a MAC made with another key does.
func keyWroteStream(ctx context.Context, stream jetstream.Stream, info *jetstream.StreamInfo, mac *events.MAC) error {
	const scan = 1000
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && seq < info.State.FirstSeq+scan; seq++ {
		m, err := stream.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read sequence %d: %w", seq, err)
		}
		if m.Header.Get(events.MACHeader) == "" {
			continue
		}
		return mac.Check(m.Subject, m.Data, m.Header.Get(events.MACHeader))
	}
	return nil
}

// StreamIdentity names one stream for the projections: its name and creation
// time, which a recreated stream of the same name does not share.
func StreamIdentity(info *jetstream.StreamInfo) string {
	return info.Config.Name + "@" + info.Created.UTC().Format(time.RFC3339Nano)
}

// ready reports whether the stream is reachable and the projections have
// applied everything it held a moment ago.
func (s *Server) ready(ctx context.Context) error {
	info, err := s.conn.Stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("stream unreachable: %w", err)
	}
	if cp := s.store.Checkpoint(); cp < info.State.LastSeq {
		return fmt.Errorf("projections at sequence %d of %d", cp, info.State.LastSeq)
	}
	return nil
}

// Addr is the address the HTTP API listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// NATSURL is the embedded server's client URL ("" if none).
func (s *Server) NATSURL() string { return s.conn.ClientURL() }

// Ledger is the server's write side.
func (s *Server) Ledger() *Ledger { return s.ledger }

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
			return errors.New("ledger: projections stopped")
		}
		return err
	}
}

// Close stops accepting requests, lets running ones finish (up to ctx), then
// stops the projections and the stream connection.
func (s *Server) Close(ctx context.Context) error {
	err := s.http.Shutdown(ctx)
	s.cancel()
	<-s.followDone
	s.conn.Close()
	if cerr := s.store.Close(); err == nil {
		err = cerr
	}
	return err
}
