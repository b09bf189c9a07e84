// Command ledger runs and operates the entitlement ledger.
//
//	ledger serve     run the ledger: embedded NATS JetStream, Pebble projections, HTTP API
//	ledger rebuild   rebuild the projections from the stream (ledger stopped)
//	ledger digest    print the digest of the projections (compare a rebuild with a live store)
//	ledger verify    check every event's decoding, hash chain and signature (H3)
//	ledger bench     measure the ledger beside raw JetStream and raw Pebble
//
// Every flag can also be set with an environment variable LEDGER_<FLAG>,
// e.g. LEDGER_HTTP=127.0.0.1:9090; a flag on the command line wins.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "ledger:", err)
		os.Exit(1)
	}
}

const usage = `ledger: an event-sourced entitlement ledger

Usage:
  ledger <command> [flags]

Commands:
  serve     run the ledger (embedded NATS and Pebble by default)
  rebuild   rebuild the projections from the stream; run it while the ledger is stopped
  digest    print the digest of the projection store
  verify    check every event's decoding, hash chain and signature (H3)
  checkout  checkout verify TOKEN --key FILE: verify an offline checkout token, offline (F6)

Client commands (talk to a running ledger, --url, --account, --json):
  signin    sign a user in on a machine
  signout   sign a user out
  check     check whether a user may use a product now
  usage     usage import FILE (NDJSON or CSV, in batches) | usage summary
  bench     measure the ledger beside raw JetStream and raw Pebble

Run 'ledger <command> -h' for its flags. Every flag can also come from the
environment as LEDGER_<FLAG> (upper case, '-' as '_'), e.g. LEDGER_HTTP.
`

// Run runs one subcommand with its arguments.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		return runServe(ctx, rest, stdout, stderr)
	case "rebuild":
		return runRebuild(ctx, rest, stdout, stderr)
	case "digest":
		return runDigest(ctx, rest, stdout, stderr)
	case "bench":
		return runBench(ctx, rest, stdout, stderr)
	case "verify":
		return runVerify(ctx, rest, stdout, stderr)
	case "checkout":
		return runCheckout(ctx, rest, stdout, stderr)
	case "signin":
		return runSignIn(ctx, rest, stdout, stderr)
	case "signout":
		return runSignOut(ctx, rest, stdout, stderr)
	case "check":
		return runCheck(ctx, rest, stdout, stderr)
	case "usage":
		return runUsage(ctx, rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}
