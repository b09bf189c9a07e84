package events

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// SignatureHeader is the NATS header that carries an event's signature:
// "<key id>:<base64 Ed25519 signature>". The signature covers the subject
// and the exact bytes of the event, so an event cannot be forged, altered or
// moved to another subject without the ledger's private key (H3). The key id
// is the first 8 bytes of the SHA-256 of the public key, in hex.
const SignatureHeader = "Ledger-Signature"

// MACHeader is the NATS header that carries an event's message
// authentication code: "<key id>:<base64 HMAC-SHA256>" over the same bytes
// as the signature, keyed by a secret derived from the ledger's private key.
// The ledger's own projections check it instead of the signature: it is
// about fifty times cheaper, and only the holder of the private key can
// make it. Third parties verify the signature.
const MACHeader = "Ledger-Mac"

// ErrSignature is returned by Verifier.Verify and MAC.Check for a missing,
// malformed or wrong signature or code.
var ErrSignature = errors.New("events: bad signature")

// KeyID names a public key: hex of the first 8 bytes of its SHA-256.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

func signedBytes(subject string, data []byte) []byte {
	msg := make([]byte, 0, len(subject)+1+len(data))
	msg = append(append(append(msg, subject...), '\n'), data...)
	return msg
}

// Signer signs events with the ledger's private key.
type Signer struct {
	key ed25519.PrivateKey
	id  string
}

// NewSigner returns a Signer for key.
func NewSigner(key ed25519.PrivateKey) *Signer {
	return &Signer{key: key, id: KeyID(key.Public().(ed25519.PublicKey))}
}

// Sign returns the SignatureHeader value for an event stored on subject.
func (s *Signer) Sign(subject string, data []byte) string {
	sig := ed25519.Sign(s.key, signedBytes(subject, data))
	return s.id + ":" + base64.RawStdEncoding.EncodeToString(sig)
}

// Public is the key that verifies this signer's signatures.
func (s *Signer) Public() ed25519.PublicKey { return s.key.Public().(ed25519.PublicKey) }

// Verifier checks signatures against a set of trusted public keys.
type Verifier struct {
	keys map[string]ed25519.PublicKey
}

// NewVerifier trusts keys.
func NewVerifier(keys ...ed25519.PublicKey) *Verifier {
	v := &Verifier{keys: map[string]ed25519.PublicKey{}}
	for _, k := range keys {
		v.keys[KeyID(k)] = k
	}
	return v
}

// Verify checks header, the SignatureHeader value of the event data stored
// on subject.
func (v *Verifier) Verify(subject string, data []byte, header string) error {
	if header == "" {
		return fmt.Errorf("%w: the event is not signed", ErrSignature)
	}
	id, sig64, ok := strings.Cut(header, ":")
	if !ok {
		return fmt.Errorf("%w: malformed header", ErrSignature)
	}
	key, ok := v.keys[id]
	if !ok {
		return fmt.Errorf("%w: unknown key %q", ErrSignature, id)
	}
	sig, err := base64.RawStdEncoding.DecodeString(sig64)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return fmt.Errorf("%w: malformed signature", ErrSignature)
	}
	if !ed25519.Verify(key, signedBytes(subject, data), sig) {
		return fmt.Errorf("%w: does not verify with key %s", ErrSignature, id)
	}
	return nil
}

// MAC makes and checks message authentication codes, and derives the ids
// of messages that only the holders of the ledger's key can tell in
// advance. It is safe for concurrent use.
type MAC struct {
	key []byte
	id  string
	// pool holds keyed HMAC states: Reset returns one to its keyed start,
	// sparing the key schedule and the allocations of a new one per event.
	pool sync.Pool
	// idPool is pool for the key of derived ids, a secret of its own: an
	// id says nothing about a MAC, nor a MAC about an id.
	idPool sync.Pool
}

// NewMAC derives the MAC key, and the key of derived ids, from the ledger's
// private key.
func NewMAC(key ed25519.PrivateKey) *MAC {
	m := &MAC{key: subkey(key, "ledger event mac v1"), id: KeyID(key.Public().(ed25519.PublicKey))}
	m.pool.New = func() any { return hmac.New(sha256.New, m.key) }
	idKey := subkey(key, "ledger event id v1")
	m.idPool.New = func() any { return hmac.New(sha256.New, idKey) }
	return m
}

// subkey is the secret for one purpose derived from the ledger's key.
func subkey(key ed25519.PrivateKey, purpose string) []byte {
	h := hmac.New(sha256.New, key.Seed())
	h.Write([]byte(purpose))
	return h.Sum(nil)
}

// DerivedID is DerivedID keyed with the ledger's secret: a ULID that is a
// function of parts, the same in every process holding the key (so the ids
// of usage records, alerts, reminders and keyed commands still collide in
// JetStream's duplicate window), and that no one without the key can
// compute, so no one can send a message under the id of one the ledger has
// not stored yet and make JetStream refuse it. A nil MAC (a ledger without
// a key) returns DerivedID(parts...).
func (m *MAC) DerivedID(parts ...string) string {
	if m == nil {
		return DerivedID(parts...)
	}
	h := m.idPool.Get().(hash.Hash)
	defer m.idPool.Put(h)
	h.Reset()
	return idOf(h, parts)
}

func (m *MAC) sum(subject string, data []byte) []byte {
	h := m.pool.Get().(hash.Hash)
	defer m.pool.Put(h)
	h.Reset()
	h.Write([]byte(subject))
	h.Write([]byte{'\n'})
	h.Write(data)
	return h.Sum(make([]byte, 0, sha256.Size))
}

// Tag returns the MACHeader value for an event stored on subject.
func (m *MAC) Tag(subject string, data []byte) string {
	return m.id + ":" + base64.RawStdEncoding.EncodeToString(m.sum(subject, data))
}

// Check checks header, the MACHeader value of the event data stored on
// subject.
func (m *MAC) Check(subject string, data []byte, header string) error {
	if header == "" {
		return fmt.Errorf("%w: the event carries no %s", ErrSignature, MACHeader)
	}
	id, tag64, ok := strings.Cut(header, ":")
	if !ok || id != m.id {
		return fmt.Errorf("%w: %s not made with key %s", ErrSignature, MACHeader, m.id)
	}
	tag, err := base64.RawStdEncoding.DecodeString(tag64)
	if err != nil || !hmac.Equal(tag, m.sum(subject, data)) {
		return fmt.Errorf("%w: %s does not match", ErrSignature, MACHeader)
	}
	return nil
}

// LoadOrCreateKey reads an Ed25519 private key (PKCS #8, PEM) from path, or
// creates one there (mode 0600) if the file does not exist, with its public
// key beside it in path + ".pub".
func LoadOrCreateKey(path string) (ed25519.PrivateKey, error) {
	key, err := LoadKey(path)
	if !errors.Is(err, os.ErrNotExist) {
		return key, err
	}
	_, key, err = ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("events: generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("events: key directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("events: create key: %w", err)
	}
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	pub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	if err := os.WriteFile(path+".pub", pub, 0o644); err != nil {
		return nil, fmt.Errorf("events: write public key: %w", err)
	}
	return key, nil
}

// LoadKey reads an Ed25519 private key in PKCS #8 PEM form.
func LoadKey(path string) (ed25519.PrivateKey, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("events: read key: %w", err)
	}
	block, _ := pem.Decode(raw)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("events: %s: not a PEM \"PRIVATE KEY\"", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("events: %s: %w", path, err)
	}
	key, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("events: %s: not an Ed25519 key", path)
	}
	return key, nil
}

// PublicKeyPEM encodes a public key as PEM (PKIX).
func PublicKeyPEM(pub ed25519.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		panic(err) // an ed25519.PublicKey always marshals
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// LoadPublicKey reads an Ed25519 public key in PKIX PEM form, as written
// beside the private key (.pub) and served at GET /v1/keys/events.
func LoadPublicKey(path string) (ed25519.PublicKey, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("events: read public key: %w", err)
	}
	pub, err := parsePublicKeyPEM(raw)
	if err != nil {
		return nil, fmt.Errorf("events: %s: %w", path, err)
	}
	return pub, nil
}

// ParsePublicKeyPEM decodes an Ed25519 public key in PKIX PEM form, as
// PublicKeyPEM encodes it.
func ParsePublicKeyPEM(raw []byte) (ed25519.PublicKey, error) {
	pub, err := parsePublicKeyPEM(raw)
	if err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	return pub, nil
}

func parsePublicKeyPEM(raw []byte) (ed25519.PublicKey, error) {
	block, _ := pem.Decode(raw)
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, errors.New("not a PEM \"PUBLIC KEY\"")
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, errors.New("not an Ed25519 key")
	}
	return pub, nil
}
