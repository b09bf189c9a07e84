package server

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
)

// EmbeddedOptions configure the in-process NATS natsserver.
type EmbeddedOptions struct {
	// StoreDir holds JetStream's files.
	StoreDir string
	// Listen is the host:port on which other services can connect to
	// subscribe to events; "" listens nowhere (the ledger itself connects
	// in-process either way). Port 0 or -1 picks a free port.
	Listen string
	// SyncInterval is how often JetStream fsyncs its files. Zero, the
	// default, syncs every write before acknowledging it: an acknowledged
	// event survives power loss.
	SyncInterval time.Duration
	// MaxMemory bounds JetStream's memory store; 0 means 256 MiB.
	MaxMemory int64
	// Auth admits clients when the server listens; required then (S4).
	Auth natsserver.Authentication
}

// StartEmbedded starts a single-node NATS server with JetStream and waits
// until it accepts connections.
func StartEmbedded(o EmbeddedOptions) (*natsserver.Server, error) {
	opts := &natsserver.Options{
		ServerName:         "ledger",
		JetStream:          true,
		StoreDir:           o.StoreDir,
		NoLog:              true,
		NoSigs:             true,
		JetStreamMaxMemory: budget(o.MaxMemory, 256<<20),
	}
	if o.SyncInterval == 0 {
		opts.SyncAlways = true
	} else {
		opts.SyncInterval = o.SyncInterval
	}
	if o.Listen == "" {
		opts.DontListen = true
	} else {
		host, port, err := net.SplitHostPort(o.Listen)
		if err != nil {
			return nil, fmt.Errorf("server: nats listen address %q: %w", o.Listen, err)
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			return nil, fmt.Errorf("server: nats listen port %q: %w", port, err)
		}
		if p == 0 {
			p = -1
		}
		opts.Host, opts.Port = host, p
		if o.Auth == nil {
			return nil, errors.New("server: an embedded nats server that listens needs authentication")
		}
		opts.CustomClientAuthentication = o.Auth
	}
	ns, err := natsserver.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("server: embedded nats: %w", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return nil, fmt.Errorf("server: embedded nats not ready after 30s (store %s)", o.StoreDir)
	}
	return ns, nil
}
