package server

import (
	"log/slog"
	"path/filepath"
	"time"

	"github.com/nats-io/nkeys"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/projections"
)

// Config configures a ledger server. The zero value of every optional field
// is a working default.
type Config struct {
	DataDir  string // holds nats/ (embedded JetStream) and projections/ (Pebble)
	HTTPAddr string // e.g. 127.0.0.1:8080; port 0 picks a free one

	// PublicNames are the DNS names, besides HTTPAddr's host, that clients
	// reach the API by, e.g. ledger.example.com. A request whose Host is
	// none of them is refused 421 invalid_host (against DNS rebinding; see
	// api.CheckHost). IP addresses need no listing when HTTPAddr listens on
	// every interface (0.0.0.0 or ::), nor the loopback names when it
	// listens on loopback.
	PublicNames []string

	// NATSURLs selects an existing NATS server or cluster; empty starts the
	// embedded server.
	NATSURLs []string
	// Replicas is the least number of replicas of the stream and the
	// buckets: they are created with it, and an existing one with fewer is
	// raised to it (never lowered).
	Replicas int
	// How the ledger authenticates to NATSURLs (a user and password can
	// also be in a URL, nats://user:password@host:port): a credentials
	// file (JWT and NKey seed), an NKey seed file, and TLS (a CA to trust,
	// and a client certificate and key).
	NATSCreds, NATSNkey                string
	NATSTLSCA, NATSTLSCert, NATSTLSKey string
	// NATSUser and NATSPassword are the ledger's user on NATSURLs (the
	// user defaults to LedgerNATSUser). Give the password as a file or in
	// the environment (ReadSecret), never in a URL, which ps shows.
	NATSUser, NATSPassword string
	// NATSSysPassword is the password of the deployment's system user on
	// NATSURLs (deploy/nats/accounts.conf): with it, revoking a subscriber
	// also closes its live connections on every server. Optional.
	NATSSysPassword string
	// NATSCalloutKey is the deployment's callout key on NATSURLs: with it
	// the ledger admits subscribers (auth callout, deploy/nats/accounts.conf);
	// without it, subscribers cannot connect. The embedded server makes its
	// own under DATA/keys.
	NATSCalloutKey nkeys.KeyPair
	// NATSInsecure lets the ledger use a NATS server on a non-loopback
	// address that admits clients without credentials (S7).
	NATSInsecure bool

	// SigningKey is the Ed25519 private key (PKCS #8 PEM) that signs the
	// events (the last of each subject per command; see events.ChainVerifier)
	// and keys their MACs; "" means DataDir/keys/events.ed25519, created on
	// first start.
	// Ledgers sharing a stream must share the key.
	SigningKey string

	// CheckoutKey is the Ed25519 private key that signs offline checkout
	// tokens (F6); "" means the stream's: derived from the signing key, the
	// same on every ledger of the stream (or DataDir/keys/checkout.ed25519
	// if an earlier version made one there). It never appears in an event
	// or a log.
	CheckoutKey string

	// Embedded server only.
	NATSListen   string        // client address for subscribers; "" listens nowhere
	SyncInterval time.Duration // 0: fsync every write (default)

	SessionTTL   time.Duration // sign-in session TTL (D3); 0 means commands.DefaultSessionTTL
	UsageShards  int           // subjects per product's usage; 0 means ledger.DefaultUsageShards
	UsageHorizon time.Duration // late-arrival horizon of usage (F3); 0 means commands.DefaultUsageHorizon

	// ReminderPoll bounds how long the reminders wait before they look at
	// the clock again; 0 means ledger.DefaultReminderPoll. Tests with a fake
	// clock set it short.
	ReminderPoll time.Duration
	// NoReminders stops the ledger from emitting the daily reminders of
	// unassigned licences (G5): for tests that count the stream's events.
	NoReminders bool

	// NoBootstrap stops the first start on a stream without tokens from
	// creating an admin token (see AdminTokenFile): for `ledger token
	// create`, which makes the one it was asked for.
	NoBootstrap bool
	// ReadyMaxLag and ReadyMaxLagEvents bound how far behind the stream
	// the projections may be while /readyz answers 200: the oldest event
	// not applied stored at most ReadyMaxLag ago, at most ReadyMaxLagEvents
	// events behind. Zero means DefaultReadyMaxLag and
	// DefaultReadyMaxLagEvents.
	ReadyMaxLag       time.Duration
	ReadyMaxLagEvents uint64
	// StreamCheckInterval is how often the running ledger compares the
	// stream and its buckets with what it requires (CheckStream), besides
	// once at start and on every stream advisory; 0 means
	// DefaultStreamCheckInterval.
	StreamCheckInterval time.Duration
	// AcceptDeleted lets RebuildProjections rebuild from a stream that lost
	// messages (ErrMessagesDeleted): the projections then lack their events.
	AcceptDeleted bool
	// NewStream lets Start start over when the projections were built from
	// a stream that is missing, was replaced or holds less than they
	// applied (rule S7): it creates the stream if it is missing and sets the
	// projections aside, to be built again from the stream. Without it
	// Start refuses (ErrStreamMissing, ErrStreamReplaced, ErrStreamBehind).
	NewStream bool
	// Force lets RebuildProjections replace projections with those of
	// another stream, or of a stream that holds less than they applied;
	// the old projections are then kept beside the new ones.
	Force bool

	// GroupsInFlight is how many group commits the ledger keeps in flight
	// (ledger.Options.GroupsInFlight; 0: one).
	GroupsInFlight int
	// The limits of S9 (api.Options: 0 the default, < 0 none): commands a
	// second per token, usage records, report computations and body bytes
	// a second per account, and requests running at once in the process.
	RateLimit, UsageRate, ReportRate, BodyRate float64
	MaxInFlight                                int

	// WriteTimeout bounds how long an answer may take to write (0: 60 s).
	// An NDJSON answer extends it as it writes (api.Options.StreamStall), so
	// it bounds the time without progress there: a reader that stalls is
	// cut, one that keeps reading is not.
	WriteTimeout time.Duration
	// CommandTimeout bounds each command from its arrival to its answer
	// (api.Options.CommandTimeout; 0: api.DefaultCommandTimeout, 15 s).
	CommandTimeout time.Duration
	// MemoryLimit, if set, sizes the caches from the process's memory
	// budget (the caller sets the Go runtime's soft limit to GoMemoryLimit):
	// the projections' block cache gets an eighth (at most 64 MiB), its
	// memtable a thirty-second (at most 64 MiB; two may be held at once),
	// JetStream's memory store a quarter (at most 256 MiB).
	MemoryLimit int64
	// TLSCert and TLSKey serve the API over HTTPS. The key file must not be
	// readable by others.
	TLSCert, TLSKey string

	Now    func() time.Time
	Logger *slog.Logger
	// Registerer gets RebuildProjections' progress gauges while it runs
	// (nil: none); a running server makes its own registry.
	Registerer prometheus.Registerer
}

// pebbleCache is the projections' block cache size.
func (cfg Config) pebbleCache() int64 { return budget(cfg.MemoryLimit/8, 64<<20) }

// pebbleMemTable is the projections' memtable size.
func (cfg Config) pebbleMemTable() int64 {
	if cfg.MemoryLimit <= 0 {
		return projections.DefaultMemTableBytes
	}
	return min(max(cfg.MemoryLimit/32, 4<<20), projections.DefaultMemTableBytes) // Pebble's least is 4 MiB
}

// GoMemoryLimit is the Go runtime's soft memory limit for a process whose
// whole budget is cfg.MemoryLimit (0: none): the budget less what Pebble
// allocates outside the Go heap (its block cache and up to two memtables,
// when built with cgo), so that the process as a whole stays near the
// budget.
func (cfg Config) GoMemoryLimit() int64 {
	if cfg.MemoryLimit <= 0 {
		return 0
	}
	if !pebbleOffHeap {
		return cfg.MemoryLimit
	}
	return max(cfg.MemoryLimit-cfg.pebbleCache()-2*cfg.pebbleMemTable(), cfg.MemoryLimit/2)
}

// projectionOptions are the projections' store options of cfg.
func (cfg Config) projectionOptions(logger *slog.Logger, mac *events.MAC) projections.Options {
	return projections.Options{Logger: logger, Authenticator: mac, CacheBytes: cfg.pebbleCache(), MemTableBytes: cfg.pebbleMemTable()}
}

// jetStreamMemory is the embedded server's JetStream memory limit.
func (cfg Config) jetStreamMemory() int64 { return budget(cfg.MemoryLimit/4, 256<<20) }

// budget is share of the memory limit, at most ceiling (ceiling without a
// limit).
func budget(share, ceiling int64) int64 {
	if share <= 0 {
		return ceiling
	}
	return min(share, ceiling)
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

// DefaultWriteTimeout is Config.WriteTimeout's default.
const DefaultWriteTimeout = 60 * time.Second

func (c Config) writeTimeout() time.Duration {
	if c.WriteTimeout <= 0 {
		return DefaultWriteTimeout
	}
	return c.WriteTimeout
}
