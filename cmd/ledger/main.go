// Command ledger runs and operates the entitlement ledger.
//
//	ledger serve     run the ledger: embedded NATS JetStream, Pebble projections, HTTP API
//	ledger rebuild   rebuild the projections from the stream (ledger stopped)
//	ledger digest    print the digest of the projections (compare a rebuild with a live store)
//	ledger verify    check every event's decoding, hash chain and signature (H3)
//	ledger bench     measure the ledger beside raw JetStream and raw Pebble
//	ledger version   print the module version, VCS revision and Go version
//	ledger help CMD  print a command's help
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
	"runtime/debug"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// Exit codes.
const (
	exitOK     = 0
	exitError  = 1
	exitUsage  = 2 // no command, an unknown command or flag, a flag or argument missing or out of range
	exitDenied = 3 // ledger check: the check was denied
)

// errDenied is returned by `ledger check` for a denied check, after it
// printed the answer.
var errDenied = errors.New("check denied")

// usageError is a command line the ledger cannot run: an unknown command
// or flag (the usage has been printed), or a flag or argument that is
// missing or out of range. It exits 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// badUsage is a usage error with a message that names the flag or argument.
func badUsage(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// exitCode prints err, if it needs printing, to stderr and returns the
// process's exit code for it.
func exitCode(err error, stderr io.Writer) int {
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp): // help was asked for and printed
		return exitOK
	case errors.Is(err, errDenied): // the answer is printed
		return exitDenied
	case errors.As(err, &ue):
		if ue.err != errNoCommand {
			fmt.Fprintln(stderr, "ledger:", message(err))
		}
		return exitUsage
	}
	fmt.Fprintln(stderr, "ledger:", message(err))
	return exitError
}

// message is err's text without the "ledger: " the packages' errors start
// with, since main prints it before every error.
func message(err error) string {
	msg := err.Error()
	for strings.HasPrefix(msg, "ledger: ") {
		msg = strings.TrimPrefix(msg, "ledger: ")
	}
	return msg
}

// plural is a count with its noun: 1 record, 2 records.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
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
  version   print the ledger's version
  help      help CMD: print a command's help

Client commands (talk to a running ledger, --url, --token, --account, --json;
the token defaults to DATA/admin.token of a ledger running beside the CLI):
  signin    sign a user in on a machine
  signout   sign a user out
  check     check whether a user may use a product now (exit code 3 when denied)
  usage     usage import FILE (NDJSON or CSV, in batches) | usage summary
  qtl       an account's term licence report (--quarter or --month, --as-of-seq, --csv);
            qtl advice: how it could have paid less (G11)
  peaks     a product's 10-minute peaks of pooled use, or one interval's evidence
  alerts    an account's threshold alerts
  licenses  licenses list: an account's licences, every page (--kind, --assigned, --product)
  users     users list: an account's registered users, every page
  token     token create|list|revoke: API tokens (create --data DIR works while the ledger is stopped)
  tail      the events as a subscriber sees them, verified (--creds, --from-seq, --since, --follow)
  nats      nats secrets: a new set of NATS deployment secrets (deploy/nats) as an environment file
  bench     measure the ledger beside raw JetStream and raw Pebble

Run 'ledger <command> -h' or 'ledger help <command>' for its flags. Every flag
can also come from the environment as LEDGER_<FLAG> (upper case, '-' as '_'),
e.g. LEDGER_HTTP.

Exit codes: 0 success (and a granted check), 1 error, 2 bad command line,
3 denied check.
`

// errNoCommand is the usage error of a command line without a command.
var errNoCommand = errors.New("no command")

// Run runs one subcommand with its arguments.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return &usageError{errNoCommand}
	}
	cmd, rest := args[0], args[1:]
	if run := subcommand(cmd); run != nil {
		return run(ctx, rest, stdout, stderr)
	}
	switch cmd {
	case "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	case "help":
		if len(rest) == 0 || rest[0] == "help" {
			fmt.Fprint(stdout, usage)
			return nil
		}
		run := subcommand(rest[0])
		if run == nil {
			fmt.Fprint(stderr, usage)
			return &usageError{fmt.Errorf("help: unknown command %q", rest[0])}
		}
		// `ledger help CMD [SUB]` is `ledger CMD [SUB] -h`, on stdout.
		err := run(ctx, append(rest[1:len(rest):len(rest)], "-h"), stdout, stdout)
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	fmt.Fprint(stderr, usage)
	return &usageError{fmt.Errorf("unknown command %q", cmd)}
}

// subcommand returns the function that runs the command name, or nil.
func subcommand(name string) func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	switch name {
	case "serve":
		return runServe
	case "rebuild":
		return runRebuild
	case "digest":
		return runDigest
	case "bench":
		return runBench
	case "verify":
		return runVerify
	case "checkout":
		return runCheckout
	case "signin":
		return runSignIn
	case "signout":
		return runSignOut
	case "check":
		return runCheck
	case "usage":
		return runUsage
	case "qtl":
		return runQTL
	case "peaks":
		return runPeaks
	case "alerts":
		return runAlerts
	case "licenses":
		return runLicenses
	case "users":
		return runUsers
	case "token":
		return runToken
	case "nats":
		return runNATS
	case "tail":
		return runTail
	case "version", "--version":
		return runVersion
	}
	return nil
}

// isHelp reports whether arg asks for help, as the flag package takes it.
func isHelp(arg string) bool {
	switch arg {
	case "-h", "-help", "--h", "--help":
		return true
	}
	return false
}

// runVersion prints the module version, the VCS revision and time the
// binary was built from, if recorded, and the Go version.
func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", "Print the ledger's module version, the revision it was built from and the Go version.", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return errors.New("version: the binary carries no build information")
	}
	fmt.Fprint(stdout, versionText(info))
	return nil
}

// versionText is what `ledger version` prints for info.
func versionText(info *debug.BuildInfo) string {
	version := info.Main.Version
	if version == "" {
		version = "(devel)"
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	var b strings.Builder
	fmt.Fprintf(&b, "ledger %s\n", version)
	if rev := settings["vcs.revision"]; rev != "" {
		if settings["vcs.modified"] == "true" {
			rev += " (modified)"
		}
		fmt.Fprintf(&b, "  revision %s\n", rev)
	}
	if t := settings["vcs.time"]; t != "" {
		fmt.Fprintf(&b, "  time     %s\n", t)
	}
	fmt.Fprintf(&b, "  go       %s\n", info.GoVersion)
	return b.String()
}
