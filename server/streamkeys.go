package server

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/entledger/ledger/events"
)

// The keys of a stream (rule H5): every ledger process of one stream signs
// events and checkout tokens with the same keys, and serves the same public
// keys. The signing key is shared by the operator (--signing-key); the
// checkout key is derived from it, so it needs no sharing of its own.

// checkoutKeyInfo is the HKDF info of the checkout key: a key of its own,
// not the signing key.
const checkoutKeyInfo = "entledger checkout key v1"

// DeriveCheckoutKey is the checkout key of the stream whose events signing
// signs: the same on every ledger that holds signing.
func DeriveCheckoutKey(signing ed25519.PrivateKey) (ed25519.PrivateKey, error) {
	seed, err := hkdf.Key(sha256.New, signing.Seed(), nil, checkoutKeyInfo, ed25519.SeedSize)
	if err != nil {
		return nil, fmt.Errorf("server: derive the checkout key: %w", err)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// legacyCheckoutKeyFile is where versions before the stream's derived key
// made a checkout key of each process's own.
func legacyCheckoutKeyFile(dataDir string) string {
	return filepath.Join(dataDir, "keys", "checkout.ed25519")
}

// checkoutKeyOf is the key that signs offline checkout tokens (F6):
//   - the file the operator named (--checkout-key), which must exist: a
//     typo must not quietly make a key clients cannot verify;
//   - else a key file an earlier version made in DATA/keys, kept so that
//     the tokens it signed still verify; every ledger of the stream must
//     then be given it, and the log says so;
//   - else the key derived from the signing key: the stream's, the same on
//     every ledger process, with nothing to distribute.
func checkoutKeyOf(cfg Config, signing ed25519.PrivateKey, logger *slog.Logger) (ed25519.PrivateKey, error) {
	if cfg.CheckoutKey != "" {
		key, err := events.LoadKey(cfg.CheckoutKey)
		if err != nil {
			return nil, fmt.Errorf("server: checkout key (--checkout-key): %w", err)
		}
		return key, nil
	}
	legacy := legacyCheckoutKeyFile(cfg.DataDir)
	key, err := events.LoadKey(legacy)
	switch {
	case err == nil:
		logger.Warn("signing checkout tokens with a key file of an earlier version, not the stream's key: "+
			"give every ledger of this stream the same file (--checkout-key), or move it away once its tokens have expired",
			"file", legacy)
		return key, nil
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("server: checkout key %s: %w", legacy, err)
	}
	return DeriveCheckoutKey(signing)
}

// writePublicKeys writes the public halves of the stream's keys into
// DATA/keys, where `ledger verify` and `ledger checkout verify` look for
// them, on every ledger process (one started with another's --signing-key
// included). Public keys are not secret: mode 0644.
func writePublicKeys(dataDir string, signing, checkout ed25519.PrivateKey) error {
	for name, key := range map[string]ed25519.PrivateKey{"events.ed25519.pub": signing, "checkout.ed25519.pub": checkout} {
		der, err := x509.MarshalPKIXPublicKey(key.Public())
		if err != nil {
			return err
		}
		body := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		path := filepath.Join(dataDir, "keys", name)
		if old, err := os.ReadFile(path); err == nil && string(old) == string(body) {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(path, body, 0o644); err != nil {
			return fmt.Errorf("server: write %s: %w", path, err)
		}
	}
	return nil
}
