package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/ledger"
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
	keyPath := fs.String("key", "", "the checkout public key (PEM, from GET /v1/keys/checkout or DATA/keys/checkout.ed25519.pub)")
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
		return fmt.Errorf("checkout verify: a TOKEN is required")
	}
	if *keyPath == "" {
		return fmt.Errorf("--key: the checkout public key is required")
	}
	pub, err := events.LoadPublicKey(*keyPath)
	if err != nil {
		return fmt.Errorf("--key: %w", err)
	}
	now := time.Now().UTC()
	if *atFlag != "" {
		if now, err = time.Parse(time.RFC3339Nano, *atFlag); err != nil {
			return fmt.Errorf("--at: %q is not an RFC 3339 time", *atFlag)
		}
	}
	t, err := ledger.VerifyToken(pub, token, now)
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
