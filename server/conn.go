package server

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Conn is a connection to the LEDGER stream, through the embedded server or
// an external one.
type Conn struct {
	NC       *nats.Conn
	JS       jetstream.JetStream
	Stream   jetstream.Stream
	Embedded *natsserver.Server // nil when connected to an external server
	// Sys is a connection of the deployment's system user, with which the
	// ledger disconnects revoked subscribers; nil without its password.
	Sys *nats.Conn

	dir     *DataDir    // held by DialExisting, released by Close
	secrets NATSSecrets // the embedded server's; on a cluster, only the callout key (if given)
}

// Dial starts the embedded server if cfg names no NATS URL, connects, and
// creates or verifies the stream. With the embedded server, the caller must
// hold the data directory (OpenDataDir).
func Dial(ctx context.Context, cfg Config) (*Conn, error) {
	return dial(ctx, cfg, true)
}

// DialExisting is Dial for readers such as `ledger verify`: it neither
// creates nor changes the stream, and fails if there is none. With the
// embedded server it takes the data directory itself, which must hold a
// ledger, and Close releases it.
func DialExisting(ctx context.Context, cfg Config) (*Conn, error) {
	if len(cfg.NATSURLs) > 0 {
		return dial(ctx, cfg, false)
	}
	dir, err := OpenDataDir(cfg.DataDir, false)
	if err != nil {
		return nil, err
	}
	c, err := dial(ctx, cfg, false)
	if err != nil {
		dir.Close()
		return nil, err
	}
	c.dir = dir
	return c, nil
}

func dial(ctx context.Context, cfg Config, ensure bool) (*Conn, error) {
	c := &Conn{}
	var err error
	if len(cfg.NATSURLs) == 0 {
		if c.secrets, err = loadOrCreateNATSSecrets(cfg.DataDir); err != nil {
			return nil, fmt.Errorf("server: the embedded nats server's secrets: %w", err)
		}
		eo := EmbeddedOptions{StoreDir: filepath.Join(cfg.DataDir, "nats"), Listen: cfg.NATSListen, SyncInterval: cfg.SyncInterval,
			MaxMemory: cfg.jetStreamMemory(), Secrets: c.secrets}
		if c.Embedded, err = StartEmbedded(eo); err != nil {
			return nil, err
		}
		c.NC, err = nats.Connect("", nats.InProcessServer(c.Embedded), nats.Name("ledger"),
			nats.UserInfo(LedgerNATSUser, c.secrets.LedgerPassword))
		if err == nil {
			c.Sys, err = nats.Connect("", nats.InProcessServer(c.Embedded), nats.Name("ledger system"),
				nats.UserInfo(SysNATSUser, c.secrets.SysPassword))
		}
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("server: connect to the embedded nats server: %w", err)
		}
	} else {
		urls := strings.Join(cfg.NATSURLs, ",")
		opts, err := clusterOptions(cfg)
		if err != nil {
			return nil, err
		}
		c.NC, err = nats.Connect(urls, append(opts, nats.Name("ledger"), nats.MaxReconnects(-1))...)
		if err != nil {
			return nil, fmt.Errorf("server: --nats-url %s: cannot connect: %w", urls, err)
		}
		if err := checkNATSAuthenticated(c.NC, cfg); err != nil {
			c.Close()
			return nil, err
		}
		c.secrets.CalloutKey = cfg.NATSCalloutKey
		if cfg.NATSSysPassword != "" {
			sysOpts, _ := clusterOptions(Config{NATSTLSCA: cfg.NATSTLSCA, NATSTLSCert: cfg.NATSTLSCert, NATSTLSKey: cfg.NATSTLSKey,
				NATSUser: SysNATSUser, NATSPassword: cfg.NATSSysPassword})
			if c.Sys, err = nats.Connect(urls, append(sysOpts, nats.Name("ledger system"), nats.MaxReconnects(-1))...); err != nil {
				c.Close()
				return nil, fmt.Errorf("server: --nats-url %s as the system user %q: %w", urls, SysNATSUser, err)
			}
		}
	}
	if c.JS, err = jetstream.New(c.NC); err != nil {
		c.Close()
		return nil, fmt.Errorf("server: jetstream: %w", err)
	}
	if ensure {
		c.Stream, err = ensureStreams(ctx, c.JS, cfg)
	} else if c.Stream, err = c.JS.Stream(ctx, StreamName); err != nil {
		err = fmt.Errorf("server: stream %s: %w", StreamName, err)
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
	if c.Sys != nil {
		c.Sys.Close()
	}
	if c.Embedded != nil {
		c.Embedded.Shutdown()
		c.Embedded.WaitForShutdown()
	}
	c.dir.Close()
}

// ClientURL is the address subscribers use to reach the embedded server, or
// "" when it listens nowhere or the ledger uses an external server.
func (c *Conn) ClientURL() string {
	if c.Embedded == nil || c.Embedded.Addr() == nil {
		return ""
	}
	return c.Embedded.ClientURL()
}

// clusterOptions are the options that authenticate the ledger to an
// existing NATS server or cluster.
func clusterOptions(cfg Config) ([]nats.Option, error) {
	var opts []nats.Option
	if cfg.NATSPassword != "" {
		user := cfg.NATSUser
		if user == "" {
			user = LedgerNATSUser
		}
		opts = append(opts, nats.UserInfo(user, cfg.NATSPassword))
	}
	if cfg.NATSCreds != "" {
		opts = append(opts, nats.UserCredentials(cfg.NATSCreds))
	}
	if cfg.NATSNkey != "" {
		o, err := nats.NkeyOptionFromSeed(cfg.NATSNkey)
		if err != nil {
			return nil, fmt.Errorf("server: --nats-nkey %s: %w", cfg.NATSNkey, err)
		}
		opts = append(opts, o)
	}
	if cfg.NATSTLSCA != "" {
		opts = append(opts, nats.RootCAs(cfg.NATSTLSCA))
	}
	if (cfg.NATSTLSCert == "") != (cfg.NATSTLSKey == "") {
		return nil, fmt.Errorf("server: --nats-tls-cert and --nats-tls-key go together")
	}
	if cfg.NATSTLSCert != "" {
		opts = append(opts, nats.ClientCert(cfg.NATSTLSCert, cfg.NATSTLSKey))
	}
	return opts, nil
}

// checkNATSAuthenticated refuses a NATS server on a non-loopback address
// that admits a client without credentials (S7): anyone who reaches it
// could read every account's events, publish forged ones or delete the
// stream. cfg.NATSInsecure accepts the risk.
func checkNATSAuthenticated(nc *nats.Conn, cfg Config) error {
	if cfg.NATSInsecure {
		return nil
	}
	var remote []string
	for _, u := range cfg.NATSURLs {
		if !isLoopback(u) {
			remote = append(remote, redactURL(u))
		}
	}
	if len(remote) == 0 {
		return nil
	}
	anon, err := nats.Connect(strings.Join(remote, ","), nats.NoReconnect(), nats.Timeout(3*time.Second), nats.Name("ledger anonymous probe"))
	if err != nil {
		return nil // refused (or unreachable): it asks for credentials
	}
	anon.Close()
	return fmt.Errorf("server: the NATS server at %s admits clients without credentials: anyone who reaches it can read every account's events, "+
		"write into the stream or delete it; run it with authentication (deploy/nats), or pass --nats-insecure to accept the risk", strings.Join(remote, ","))
}

// isLoopback is loopbackURL; a test that has only loopback addresses
// treats them as remote with it.
var isLoopback = loopbackURL

// loopbackURL reports whether a nats:// URL names a loopback host.
func loopbackURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// redactURL is raw without its user information.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	u.User = nil
	return u.String()
}

// SubscriberURLs are the NATS URLs subscribers connect to: the embedded
// server's listener, or the cluster's URLs without credentials.
func (c *Conn) SubscriberURLs(cfg Config) []string {
	if c.Embedded != nil {
		if u := c.ClientURL(); u != "" {
			return []string{u}
		}
		return nil
	}
	urls := make([]string, 0, len(cfg.NATSURLs))
	for _, u := range cfg.NATSURLs {
		urls = append(urls, redactURL(u))
	}
	return urls
}
