package server

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/nkeys"
)

// The NATS users of a ledger deployment (deploy/nats/accounts.conf): the
// ledger itself, the operator's backup and read-only users and the system
// account's user, each with a password; subscribers are admitted by the
// ledger's auth callout (callout.go), whose answers the callout key signs.
const (
	LedgerNATSUser = "ledger"
	BackupNATSUser = "backup"
	ReaderNATSUser = "reader"
	SysNATSUser    = "sys"
)

// NATSSecrets are the secrets of a deployment's NATS accounts. Every server
// and every ledger process of a deployment shares them.
type NATSSecrets struct {
	LedgerPassword, BackupPassword, ReaderPassword, SysPassword string
	// RoutePassword authenticates the routes between a cluster's servers
	// (deploy/nats/cluster.conf); the embedded server has none.
	RoutePassword string
	// CalloutKey signs the users the ledger issues to subscribers; the
	// servers know its public key (LEDGER_NATS_CALLOUT_ISSUER).
	CalloutKey nkeys.KeyPair
}

// The environment variables of the secrets, as deploy/nats/accounts.conf
// names them (the servers read them) and as the ledger reads them.
const (
	EnvLedgerPassword = "LEDGER_NATS_PASSWORD"
	EnvBackupPassword = "LEDGER_NATS_BACKUP_PASSWORD"
	EnvReaderPassword = "LEDGER_NATS_READER_PASSWORD"
	EnvSysPassword    = "LEDGER_NATS_SYS_PASSWORD"
	EnvRoutePassword  = "LEDGER_NATS_ROUTE_PASSWORD"
	EnvCalloutIssuer  = "LEDGER_NATS_CALLOUT_ISSUER"
	EnvCalloutKey     = "LEDGER_NATS_CALLOUT_KEY" // the ledger's: the seed (SA...)
)

// Env is the secrets as KEY=VALUE lines for the servers' and the ledgers'
// environment: the servers need the passwords and the callout issuer, the
// ledgers their password and the callout key.
func (s NATSSecrets) Env() ([]string, error) {
	pub, err := s.CalloutKey.PublicKey()
	if err != nil {
		return nil, err
	}
	seed, err := s.CalloutKey.Seed()
	if err != nil {
		return nil, err
	}
	return []string{
		EnvLedgerPassword + "=" + s.LedgerPassword,
		EnvBackupPassword + "=" + s.BackupPassword,
		EnvReaderPassword + "=" + s.ReaderPassword,
		EnvSysPassword + "=" + s.SysPassword,
		EnvRoutePassword + "=" + s.RoutePassword,
		EnvCalloutIssuer + "=" + pub,
		EnvCalloutKey + "=" + string(seed),
	}, nil
}

// RoutesEnv is the NATS_ROUTES line of deploy/nats/cluster.conf: the
// routes to the servers at hostports (host:port each), with the route
// user and password in their URLs.
func RoutesEnv(routePassword string, hostports []string) string {
	urls := make([]string, len(hostports))
	for i, hp := range hostports {
		urls[i] = fmt.Sprintf("%q", "nats-route://route:"+routePassword+"@"+hp)
	}
	return "NATS_ROUTES=[" + strings.Join(urls, ", ") + "]"
}

// NewNATSSecrets makes a fresh set: 32 random bytes a password, a new
// account key pair for the callout.
func NewNATSSecrets() (NATSSecrets, error) {
	var s NATSSecrets
	for _, pw := range []*string{&s.LedgerPassword, &s.BackupPassword, &s.ReaderPassword, &s.SysPassword, &s.RoutePassword} {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return s, err
		}
		*pw = hex.EncodeToString(b)
	}
	kp, err := nkeys.CreateAccount()
	s.CalloutKey = kp
	return s, err
}

// LedgerNATSPasswordFile holds the password of LedgerNATSUser for the
// embedded server, readable by its owner only; another ledger process
// sharing the stream reads it with --nats-password-file.
func LedgerNATSPasswordFile(dataDir string) string {
	return filepath.Join(dataDir, "keys", "nats-ledger.password")
}

// natsSecretFiles are where the embedded server's secrets live under
// DATA/keys, made on the first start.
func natsSecretFiles(dataDir string) (ledger, backup, reader, sys, callout string) {
	k := filepath.Join(dataDir, "keys")
	return LedgerNATSPasswordFile(dataDir), filepath.Join(k, "nats-backup.password"), filepath.Join(k, "nats-reader.password"),
		filepath.Join(k, "nats-sys.password"), filepath.Join(k, "nats-callout.nk")
}

// EmbeddedSecrets are the secrets of dataDir's embedded server (under
// DATA/keys), each made if missing: how a tool or a test starts that
// server itself, with the ledger's accounts, while no ledger runs.
func EmbeddedSecrets(dataDir string) (NATSSecrets, error) { return loadOrCreateNATSSecrets(dataDir) }

// loadOrCreateNATSSecrets reads the embedded server's secrets, making each
// one that is missing.
func loadOrCreateNATSSecrets(dataDir string) (NATSSecrets, error) {
	fresh, err := NewNATSSecrets()
	if err != nil {
		return fresh, err
	}
	ledgerF, backupF, readerF, sysF, calloutF := natsSecretFiles(dataDir)
	var s NATSSecrets
	for _, f := range []struct {
		path   string
		dst    *string
		create string
	}{{ledgerF, &s.LedgerPassword, fresh.LedgerPassword}, {backupF, &s.BackupPassword, fresh.BackupPassword},
		{readerF, &s.ReaderPassword, fresh.ReaderPassword}, {sysF, &s.SysPassword, fresh.SysPassword}} {
		if *f.dst, err = loadOrCreateSecret(f.path, f.create); err != nil {
			return s, err
		}
	}
	seed, _ := fresh.CalloutKey.Seed()
	raw, err := loadOrCreateSecret(calloutF, string(seed))
	if err != nil {
		return s, err
	}
	if s.CalloutKey, err = ParseCalloutKey(raw); err != nil {
		return s, fmt.Errorf("server: %s: %w", calloutF, err)
	}
	return s, nil
}

// ParseCalloutKey reads an account seed (SA...), as `ledger nats secrets`
// writes it.
func ParseCalloutKey(seed string) (nkeys.KeyPair, error) {
	kp, err := nkeys.FromSeed([]byte(strings.TrimSpace(seed)))
	if err != nil {
		return nil, fmt.Errorf("not an nkey seed: %w", err)
	}
	if pub, _ := kp.PublicKey(); !nkeys.IsValidPublicAccountKey(pub) {
		return nil, errors.New("the callout key must be an account key (its seed starts SA)")
	}
	return kp, nil
}

// loadOrCreateSecret reads the secret at path, or writes value there
// (readable by its owner only) and returns it.
func loadOrCreateSecret(path, value string) (string, error) {
	raw, err := os.ReadFile(path)
	if err == nil {
		if v := strings.TrimSpace(string(raw)); len(v) >= 32 {
			return v, nil
		}
		return "", fmt.Errorf("server: %s holds no secret", path)
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	return value, WriteSecretFile(path, value+"\n")
}

// ReadSecret is a secret given as a file or, when file is "", in the
// environment variable env ("" when neither is set). A secret is never
// taken from a URL or a flag's value, which `ps` shows.
func ReadSecret(file, env string) (string, error) {
	if file != "" {
		raw, err := os.ReadFile(file)
		if err != nil {
			return "", err
		}
		return strings.TrimSpace(string(raw)), nil
	}
	return strings.TrimSpace(os.Getenv(env)), nil
}

// LedgerNATSPassword is the password of LedgerNATSUser on the embedded
// server of dataDir: how another ledger process (Config.NATSPassword), or
// a test, connects to its listener as the ledger.
func LedgerNATSPassword(dataDir string) (string, error) {
	return ReadSecret(LedgerNATSPasswordFile(dataDir), "")
}
