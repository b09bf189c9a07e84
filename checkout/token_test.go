package checkout

import (
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"
)

// rule F6: a checkout token verifies offline with the checkout public key,
// only inside [issued_at, expires_at), and any change to it is refused.
func TestCheckoutToken(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(nil)
	issued := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	tok := Token{TokenID: "t1", Account: "acme", LicenseID: "P1", Email: "a@x.example", MachineID: "m1",
		Products: []string{"microstation"}, IssuedAt: issued, ExpiresAt: issued.Add(48 * time.Hour)}
	s, err := Sign(key, tok)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := Sign(key, tok)
	if again != s {
		t.Error("the same checkout gave two tokens; a replay must get the first one again")
	}
	got, err := Verify(pub, s, issued)
	if err != nil || got.Email != "a@x.example" || got.MachineID != "m1" {
		t.Fatalf("Verify at issued_at: %+v, %v", got, err)
	}
	for name, at := range map[string]time.Time{
		"before issued_at": issued.Add(-time.Nanosecond),
		"at expires_at":    issued.Add(48 * time.Hour),
	} {
		if _, err := Verify(pub, s, at); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if _, err := Verify(pub, s, issued.Add(48*time.Hour-time.Nanosecond)); err != nil {
		t.Errorf("just before expires_at: %v", err)
	}
	otherPub, _, _ := ed25519.GenerateKey(nil)
	payload, sig, _ := strings.Cut(strings.TrimPrefix(s, "LCK1."), ".")
	flip := func(x string, i int) string {
		b := []byte(x)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	for name, bad := range map[string]string{
		"payload changed":    "LCK1." + flip(payload, 10) + "." + sig,
		"signature changed":  "LCK1." + payload + "." + flip(sig, 5),
		"stray padding bits": "LCK1." + payload + "." + flip(sig, len(sig)-1),
		"no prefix":          strings.TrimPrefix(s, "LCK1."),
		"two parts":          "LCK1." + payload,
		"garbage":            "LCK1.!!.!!",
	} {
		if _, err := Verify(pub, bad, issued); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if _, err := Verify(otherPub, s, issued); !errors.Is(err, ErrInvalid) {
		t.Errorf("other key: %v, want ErrInvalid", err)
	}
}

// FuzzVerifyToken: the token parser never panics, and accepts only what the
// key signed.
func FuzzVerifyToken(f *testing.F) {
	pub, key, _ := ed25519.GenerateKey(nil)
	issued := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	good, _ := Sign(key, Token{TokenID: "t", Account: "acme", LicenseID: "P1", Email: "a@x.example",
		MachineID: "m1", Products: []string{"ms"}, IssuedAt: issued, ExpiresAt: issued.Add(time.Hour)})
	for _, seed := range []string{good, "LCK1.", "LCK1..", "LCK1.e30.AAAA", good[:len(good)-2], "x"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		got, err := Verify(pub, token, issued)
		if err == nil && token != good {
			// Only the signed payload can verify; re-signing what was read
			// must give back the token (one encoding per token).
			again, _ := Sign(key, got)
			if again != strings.TrimSpace(token) {
				t.Fatalf("Verify accepted %q, which is not the signed token", token)
			}
		}
	})
}
