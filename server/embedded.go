package server

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/entledger/ledger/deploy"
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
	// Secrets are the accounts' passwords and the callout key: the server
	// runs deploy/nats/accounts.conf, as every deployment does. Without a
	// callout key it is a bare JetStream in its default account, without
	// authentication, for tests and benchmarks that need raw JetStream
	// in-process: it then refuses to listen.
	Secrets NATSSecrets
}

// LedgerAccount is the NATS account that holds the stream, its buckets and
// the ledger's own user (deploy/nats/accounts.conf).
const LedgerAccount = "LEDGER"

// StartEmbedded starts a single-node NATS server with JetStream and the
// accounts of deploy/nats/accounts.conf, and waits until it accepts
// connections.
func StartEmbedded(o EmbeddedOptions) (*natsserver.Server, error) {
	opts := &natsserver.Options{}
	bare := o.Secrets.CalloutKey == nil
	if bare && o.Listen != "" {
		return nil, errors.New("server: an embedded nats server that listens needs its accounts' secrets (S4)")
	}
	if !bare {
		conf, err := accountsConfig(o.Secrets)
		if err != nil {
			return nil, err
		}
		if err := opts.ProcessConfigString(conf); err != nil {
			return nil, fmt.Errorf("server: embedded nats: deploy/nats/accounts.conf: %w", err)
		}
		if err := adoptGlobalAccountStore(o.StoreDir); err != nil {
			return nil, err
		}
	}
	opts.ServerName, opts.JetStream, opts.StoreDir = "ledger", true, o.StoreDir
	opts.NoLog, opts.NoSigs = true, true
	opts.JetStreamMaxMemory = budget(o.MaxMemory, 256<<20)
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

// accountsConfig is deploy/nats/accounts.conf with its variables defined
// from s, for an in-process server (which must not depend on the process's
// environment: one test process runs several ledgers).
func accountsConfig(s NATSSecrets) (string, error) {
	env, err := s.Env()
	if err != nil {
		return "", fmt.Errorf("server: nats secrets: %w", err)
	}
	var b strings.Builder
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if k == EnvCalloutKey || k == EnvRoutePassword {
			continue // the ledger's, or a cluster's
		}
		fmt.Fprintf(&b, "%s: %q\n", k, v)
	}
	return b.String() + deploy.Accounts, nil
}

// adoptGlobalAccountStore moves the stream of a data directory made before
// the ledger's NATS accounts (when it lived in the server's default account,
// $G) into the LEDGER account's store, once, before the server starts.
func adoptGlobalAccountStore(storeDir string) error {
	old := filepath.Join(storeDir, "jetstream", natsserver.DEFAULT_GLOBAL_ACCOUNT)
	dst := filepath.Join(storeDir, "jetstream", LedgerAccount)
	if _, err := os.Stat(old); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if _, err := os.Stat(dst); err == nil {
		return fmt.Errorf("server: embedded nats: both %s and %s exist; the ledger's stream belongs in account %s: move one away", old, dst, LedgerAccount)
	}
	if err := os.Rename(old, dst); err != nil {
		return fmt.Errorf("server: embedded nats: move the stream into account %s: %w", LedgerAccount, err)
	}
	return nil
}
