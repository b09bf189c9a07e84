package server

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

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

	dir  *DataDir  // held by DialExisting, released by Close
	auth *natsAuth // the embedded listener's authentication, nil when it does not listen
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
		eo := EmbeddedOptions{StoreDir: filepath.Join(cfg.DataDir, "nats"), Listen: cfg.NATSListen, SyncInterval: cfg.SyncInterval,
			MaxMemory: cfg.jetStreamMemory()}
		opts := []nats.Option{nats.InProcessServer(nil), nats.Name("ledger")}
		if cfg.NATSListen != "" {
			pw, err := loadOrCreatePassword(LedgerNATSPasswordFile(cfg.DataDir))
			if err != nil {
				return nil, fmt.Errorf("server: the ledger's nats password: %w", err)
			}
			c.auth = &natsAuth{ledgerPassword: pw}
			eo.Auth = c.auth
			opts = append(opts, nats.UserInfo(LedgerNATSUser, pw))
		}
		if c.Embedded, err = StartEmbedded(eo); err != nil {
			return nil, err
		}
		opts[0] = nats.InProcessServer(c.Embedded)
		c.NC, err = nats.Connect("", opts...)
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
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("server: connect to the embedded nats server: %w", err)
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
