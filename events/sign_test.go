package events_test

import (
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/entledger/ledger/events"
)

// rule H3: only the ledger's key makes a signature that verifies, for the
// exact bytes on the exact subject.
func TestSignVerify(t *testing.T) {
	key, err := events.LoadOrCreateKey(filepath.Join(t.TempDir(), "k"))
	if err != nil {
		t.Fatal(err)
	}
	s := events.NewSigner(key)
	v := events.NewVerifier(s.Public())
	subj, data := "ledger.events.acme.license.P1", []byte(`{"x":1}`)
	sig := s.Sign(subj, data)
	if err := v.Verify(subj, data, sig); err != nil {
		t.Fatalf("Verify(own signature): %v", err)
	}
	_, other, _ := ed25519.GenerateKey(nil)
	for name, tc := range map[string]struct {
		subject string
		data    []byte
		sig     string
	}{
		"other subject":  {"ledger.events.acme.license.P2", data, sig},
		"other bytes":    {subj, []byte(`{"x":2}`), sig},
		"no signature":   {subj, data, ""},
		"malformed":      {subj, data, "nocolon"},
		"bad base64":     {subj, data, events.KeyID(s.Public()) + ":!!!"},
		"other key":      {subj, data, events.NewSigner(other).Sign(subj, data)},
		"truncated":      {subj, data, sig[:len(sig)-4]},
		"other key's id": {subj, data, events.KeyID(other.Public().(ed25519.PublicKey)) + sig[16:]},
	} {
		if err := v.Verify(tc.subject, tc.data, tc.sig); !errors.Is(err, events.ErrSignature) {
			t.Errorf("%s: Verify = %v, want ErrSignature", name, err)
		}
	}
}

func TestLoadOrCreateKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "events.ed25519")
	k1, err := events.LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("private key mode %v, want 0600", fi.Mode().Perm())
	}
	if _, err := os.Stat(path + ".pub"); err != nil {
		t.Errorf("public key: %v", err)
	}
	k2, err := events.LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if !k1.Equal(k2) {
		t.Error("a second LoadOrCreateKey made a new key instead of loading the first")
	}
	os.WriteFile(path, []byte("not a key"), 0o600)
	if _, err := events.LoadKey(path); err == nil {
		t.Error("LoadKey of garbage succeeded")
	}
}

// rule H3: the MAC the projections check is made only with the ledger's key,
// for the exact bytes on the exact subject.
func TestMAC(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(nil)
	_, other, _ := ed25519.GenerateKey(nil)
	m := events.NewMAC(key)
	subj, data := "ledger.events.acme.user.a@x", []byte(`{"y":1}`)
	tag := m.Tag(subj, data)
	if err := m.Check(subj, data, tag); err != nil {
		t.Fatalf("Check(own tag): %v", err)
	}
	if events.NewMAC(key).Tag(subj, data) != tag {
		t.Error("the MAC key is not derived deterministically from the private key")
	}
	for name, tc := range map[string]struct {
		subject string
		data    []byte
		tag     string
	}{
		"other subject": {"ledger.events.acme.user.b@x", data, tag},
		"other bytes":   {subj, []byte(`{"y":2}`), tag},
		"none":          {subj, data, ""},
		"other key":     {subj, data, events.NewMAC(other).Tag(subj, data)},
		"malformed":     {subj, data, "x"},
	} {
		if err := m.Check(tc.subject, tc.data, tc.tag); !errors.Is(err, events.ErrSignature) {
			t.Errorf("%s: Check = %v, want ErrSignature", name, err)
		}
	}
}

// A keyed derived id is the same in every process holding the key, and
// neither the unkeyed derivation nor another key gives it: no one without
// the key can send a message under the id the ledger will use.
func TestMACDerivedID(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(nil)
	_, other, _ := ed25519.GenerateKey(nil)
	parts := []string{"usage", "acme", "u-1"}
	id := events.NewMAC(key).DerivedID(parts...)
	if again := events.NewMAC(key).DerivedID(parts...); again != id {
		t.Errorf("two MACs of one key derive %s and %s", id, again)
	}
	for name, got := range map[string]string{
		"unkeyed":     events.DerivedID(parts...),
		"other key":   events.NewMAC(other).DerivedID(parts...),
		"other parts": events.NewMAC(key).DerivedID("usage", "acme", "u-2"),
		"parts moved": events.NewMAC(key).DerivedID("usage", "acmeu-1"),
	} {
		if got == id {
			t.Errorf("%s: derived the keyed id %s", name, id)
		}
	}
	var unkeyed *events.MAC
	if got, want := unkeyed.DerivedID(parts...), events.DerivedID(parts...); got != want {
		t.Errorf("nil MAC: %s, want the unkeyed id %s", got, want)
	}
	at, contacts := time.Unix(0, 0).UTC(), []string{"o@acme.example"}
	e := events.Event{ID: id, Account: "acme", AggregateID: "acme", OccurredAt: at, RecordedAt: at, Actor: "t",
		CommandID: id, CorrelationID: id, Data: events.AccountCreated{ID: "acme", Name: "Acme", FulfillmentContacts: contacts, Admins: contacts}}
	raw, err := events.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := events.Unmarshal(raw); err != nil {
		t.Errorf("an event with the derived id %s does not decode: %v", id, err)
	}
}
