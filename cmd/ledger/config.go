package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/entledger/ledger/server"
)

// newFlagSet makes a subcommand's flag set with a usage text.
func newFlagSet(name, summary string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: ledger %s [flags]\n\n%s\n\nFlags (or LEDGER_<FLAG> in the environment):\n", name, summary)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args, then fills every flag not given on the command line
// from LEDGER_<FLAG>. A bad value fails naming the setting.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return parseError(err)
	}
	if fs.NArg() > 0 {
		return &usageError{fmt.Errorf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))}
	}
	return fromEnv(fs)
}

// parseWithArg is parse for a command with one positional argument, which
// may come before or after the flags; it returns the argument ("" if none).
func parseWithArg(fs *flag.FlagSet, args []string) (string, error) {
	var arg string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		arg, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return "", parseError(err)
	}
	rest := fs.Args()
	if arg == "" && len(rest) > 0 {
		arg, rest = rest[0], rest[1:]
	}
	if len(rest) > 0 {
		return "", &usageError{fmt.Errorf("%s: unexpected argument %q", fs.Name(), rest[0])}
	}
	return arg, fromEnv(fs)
}

// parseError is an error of fs.Parse: flag.ErrHelp when help was asked for
// (and printed), otherwise a usage error (printed with the usage).
func parseError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	return &usageError{err}
}

// fromEnv fills every flag not given on the command line from LEDGER_<FLAG>.
func fromEnv(fs *flag.FlagSet) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		env := "LEDGER_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("setting %s=%q: %w", env, v, e)
			}
		}
	})
	return err
}

// storeFlags are the flags that locate the stream and the data.
type storeFlags struct {
	natsCreds, natsNkey, natsTLSCA, natsTLSCert, natsTLSKey         string
	natsUser, natsPasswordFile, natsCalloutKey, natsSysPasswordFile string
	natsInsecure                                                    bool

	data         string
	signingKey   string
	natsURL      string
	replicas     int
	natsListen   string
	syncInterval time.Duration
}

func (s *storeFlags) register(fs *flag.FlagSet, listen bool) {
	fs.StringVar(&s.data, "data", "./data", "data directory: embedded JetStream under nats/, projections under projections/")
	fs.StringVar(&s.natsURL, "nats-url", "", "use this NATS server or cluster (URL[,URL...]) instead of the embedded one")
	fs.StringVar(&s.signingKey, "signing-key", "",
		"Ed25519 private key (PKCS #8 PEM) that signs the events and keys their MACs; default DATA/keys/events.ed25519, created on first start")
	intVar(fs, &s.replicas, "replicas", 1,
		"the least replicas, `n` = 1, 3 or 5, of the stream and the ledger's buckets on a NATS cluster: what the ledger creates has n, "+
			"an existing one with fewer is raised to n; never lowered")
	durationVar(fs, &s.syncInterval, "sync-interval", 0,
		"embedded server: the `duration` between fsyncs, e.g. 100ms; 0 syncs every write before acknowledging it (no acknowledged event is lost on power loss)")
	fs.StringVar(&s.natsCreds, "nats-creds", "", "with --nats-url: a NATS credentials file (user JWT and NKey seed) for the ledger's own user")
	fs.StringVar(&s.natsNkey, "nats-nkey", "", "with --nats-url: an NKey seed file for the ledger's own user")
	fs.StringVar(&s.natsTLSCA, "nats-tls-ca", "", "with --nats-url: the CA certificate (PEM) that signed the NATS servers' certificates")
	fs.StringVar(&s.natsTLSCert, "nats-tls-cert", "", "with --nats-url: a client certificate (PEM), with --nats-tls-key")
	fs.StringVar(&s.natsTLSKey, "nats-tls-key", "", "with --nats-url: the client certificate's key (PEM)")
	fs.StringVar(&s.natsUser, "nats-user", server.LedgerNATSUser, "with --nats-url: the ledger's NATS user (deploy/nats/accounts.conf)")
	fs.StringVar(&s.natsPasswordFile, "nats-password-file", "",
		"with --nats-url: a file holding the ledger's NATS password; default: the environment's "+server.EnvLedgerPassword+" (never put it in the URL: ps shows it)")
	fs.StringVar(&s.natsCalloutKey, "nats-callout-key-file", "",
		"with --nats-url: a file holding the deployment's callout key (an account nkey seed, SA...), with which this ledger admits subscribers; "+
			"default: the environment's "+server.EnvCalloutKey)
	fs.StringVar(&s.natsSysPasswordFile, "nats-sys-password-file", "",
		"with --nats-url: a file holding the system user's NATS password, with which a revoked subscriber's live connections are closed on every server; "+
			"default: the environment's "+server.EnvSysPassword)
	fs.BoolVar(&s.natsInsecure, "nats-insecure", false,
		"with --nats-url: use a NATS server on a non-loopback address that admits clients without credentials "+
			"(anyone who reaches it can read every event, write into the stream or delete it)")
	if listen {
		fs.StringVar(&s.natsListen, "nats-listen", "",
			"embedded server: address where subscribers connect, e.g. 127.0.0.1:4222; every client needs credentials "+
				"(subscribers: POST .../subscribers; another ledger process: user ledger, password in DATA/keys/nats-ledger.password)")
	}
}

func (s *storeFlags) config() (server.Config, error) {
	cfg := server.Config{DataDir: s.data, SigningKey: s.signingKey, Replicas: s.replicas, NATSListen: s.natsListen, SyncInterval: s.syncInterval,
		NATSCreds: s.natsCreds, NATSNkey: s.natsNkey, NATSTLSCA: s.natsTLSCA, NATSTLSCert: s.natsTLSCert, NATSTLSKey: s.natsTLSKey}
	if s.data == "" {
		return cfg, badUsage("--data: a directory is required")
	}
	cfg.NATSUser, cfg.NATSInsecure = s.natsUser, s.natsInsecure
	if s.natsURL != "" {
		pw, err := server.ReadSecret(s.natsPasswordFile, server.EnvLedgerPassword)
		if err != nil {
			return cfg, fmt.Errorf("--nats-password-file: %w", err)
		}
		cfg.NATSPassword = pw
		if cfg.NATSSysPassword, err = server.ReadSecret(s.natsSysPasswordFile, server.EnvSysPassword); err != nil {
			return cfg, fmt.Errorf("--nats-sys-password-file: %w", err)
		}
		seed, err := server.ReadSecret(s.natsCalloutKey, server.EnvCalloutKey)
		if err != nil {
			return cfg, fmt.Errorf("--nats-callout-key-file: %w", err)
		}
		if seed != "" {
			if cfg.NATSCalloutKey, err = server.ParseCalloutKey(seed); err != nil {
				return cfg, fmt.Errorf("--nats-callout-key-file (or %s): %w", server.EnvCalloutKey, err)
			}
		}
	}
	if s.natsURL != "" {
		for _, u := range strings.Split(s.natsURL, ",") {
			u = strings.TrimSpace(u)
			if u == "" {
				return cfg, badUsage("--nats-url: empty URL in %q", s.natsURL)
			}
			cfg.NATSURLs = append(cfg.NATSURLs, u)
		}
	}
	if s.replicas != 1 && s.replicas != 3 && s.replicas != 5 {
		return cfg, badUsage("--replicas: %d; want 1, 3 or 5", s.replicas)
	}
	if s.replicas != 1 && s.natsURL == "" {
		return cfg, badUsage("--replicas: %d needs --nats-url (the embedded server is a single node)", s.replicas)
	}
	if s.syncInterval < 0 {
		return cfg, badUsage("--sync-interval: %s is negative; want 0 (sync every write) or a positive duration", s.syncInterval)
	}
	return cfg, nil
}

// logFlags configure the process logger.
type logFlags struct {
	level  string
	format string
}

func (l *logFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&l.level, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&l.format, "log-format", "text", "log format: text or json")
}

func (l *logFlags) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(l.level)); err != nil {
		return nil, badUsage("--log-level: %q; want debug, info, warn or error", l.level)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch l.format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, badUsage("--log-format: %q; want text or json", l.format)
}
