package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/entledger/ledger/checkout"
	"github.com/entledger/ledger/events"
)

// runCheckout handles `ledger checkout verify TOKEN --key FILE`: it verifies
// an offline checkout token the way a client does, with nothing but the
// ledger's checkout public key (F6); no server is involved.
func runCheckout(_ context.Context, args []string, stdout, stderr io.Writer) error {
	const help = "Usage: ledger checkout verify [flags] TOKEN\n\n" +
		"  verify   verify an offline checkout token with the checkout public key, offline (F6)\n\n" +
		"Run 'ledger checkout verify -h' for its flags.\n"
	if len(args) > 0 && isHelp(args[0]) {
		fmt.Fprint(stderr, help)
		return flag.ErrHelp
	}
	if len(args) == 0 || args[0] != "verify" {
		fmt.Fprint(stderr, help)
		return &usageError{fmt.Errorf("checkout: want the subcommand verify")}
	}
	fs := newFlagSet("checkout verify", "Verify an offline checkout token with the checkout public key, offline.", stderr)
	keyPath := fs.String("key", "", "the checkout public key `file`: the JSON of GET /v1/keys/checkout, or PEM (its public_key_pem, "+
		"or DATA/keys/checkout.ed25519.pub)")
	atFlag := fs.String("at", "", "check validity at this RFC 3339 time instead of now")
	asJSON := fs.Bool("json", false, "print the token's contents as JSON")
	machine := fs.String("machine", "", "also check that the token was issued for this machine id, as a client must")
	args = args[1:]
	// The token may come before or after the flags.
	token, err := parseWithArg(fs, args)
	if err != nil {
		return err
	}
	if token == "" {
		return badUsage("checkout verify: a TOKEN is required")
	}
	if *keyPath == "" {
		return badUsage("--key: the checkout public key is required")
	}
	pub, err := loadCheckoutKey(*keyPath)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	if *atFlag != "" {
		if now, err = time.Parse(time.RFC3339Nano, *atFlag); err != nil {
			return badUsage("--at: %q is not an RFC 3339 time", *atFlag)
		}
	}
	t, err := checkout.Verify(pub, token, now)
	if err != nil {
		return err
	}
	if *machine != "" {
		if err := t.Check(*machine); err != nil {
			return err
		}
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(t)
	}
	fmt.Fprintf(stdout, "valid checkout token %s\n  account  %s\n  licence  %s\n  email    %s\n  machine  %s\n  products %s\n  valid    %s until %s\n",
		t.TokenID, t.Account, t.LicenseID, t.Email, t.MachineID, strings.Join(t.Products, ", "),
		t.IssuedAt.Format(time.RFC3339), t.ExpiresAt.Format(time.RFC3339))
	return nil
}

// loadCheckoutKey reads the checkout public key from path, which holds
// either what GET /v1/keys/checkout answers (a JSON object with the key in
// public_key_pem) or a PEM public key; it tells them apart by content.
func loadCheckoutKey(path string) (ed25519.PublicKey, error) {
	const want = "want the checkout public key: the JSON of GET /v1/keys/checkout, or a PEM \"PUBLIC KEY\""
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--key: %w", err)
	}
	text := bytes.TrimSpace(raw)
	var fromJSON struct {
		Algorithm    string `json:"algorithm"`
		KeyID        string `json:"key_id"`
		PublicKeyPEM string `json:"public_key_pem"`
	}
	switch {
	case bytes.HasPrefix(text, []byte("{")):
		if err := json.Unmarshal(text, &fromJSON); err != nil {
			return nil, fmt.Errorf("--key: %s: not valid JSON (%v); %s", path, err, want)
		}
		if fromJSON.PublicKeyPEM == "" {
			return nil, fmt.Errorf("--key: %s: a JSON object without public_key_pem; %s", path, want)
		}
		if fromJSON.Algorithm != "" && fromJSON.Algorithm != "Ed25519" {
			return nil, fmt.Errorf("--key: %s: algorithm %q; want Ed25519", path, fromJSON.Algorithm)
		}
		text = []byte(fromJSON.PublicKeyPEM)
	case bytes.HasPrefix(text, []byte("-----BEGIN ")):
	default:
		return nil, fmt.Errorf("--key: %s is neither JSON nor PEM; %s", path, want)
	}
	pub, err := events.ParsePublicKeyPEM(text)
	if err != nil {
		return nil, fmt.Errorf("--key: %s: %s; %s", path, strings.TrimPrefix(err.Error(), "events: "), want)
	}
	if fromJSON.KeyID != "" && fromJSON.KeyID != events.KeyID(pub) {
		return nil, fmt.Errorf("--key: %s: key_id %s is not the id of its public_key_pem (%s)", path, fromJSON.KeyID, events.KeyID(pub))
	}
	return pub, nil
}
