package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

// run runs the command line as main does: it returns the exit code and what
// went to stdout and stderr.
func run(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	err := Run(context.Background(), args, &out, &errOut)
	code = exitCode(err, &errOut)
	return code, out.String(), errOut.String()
}

// Help that was asked for exits 0; a command line the ledger cannot run
// exits 2 with the usage on stderr.
func TestExitCodes(t *testing.T) {
	for _, tc := range []struct {
		args           []string
		code           int
		stdout, stderr string // each must contain this; "" for empty
	}{
		{nil, 2, "", "Usage:\n  ledger <command>"},
		{[]string{"serev"}, 2, "", `ledger: unknown command "serev"`},
		{[]string{"-h"}, 0, "Usage:\n  ledger <command>", ""},
		{[]string{"--help"}, 0, "Usage:\n  ledger <command>", ""},
		{[]string{"help"}, 0, "Usage:\n  ledger <command>", ""},
		{[]string{"help", "check"}, 0, "Usage: ledger check [flags]", ""},
		{[]string{"help", "usage", "import"}, 0, "Usage: ledger usage import [flags]", ""},
		{[]string{"help", "serve"}, 0, "Usage: ledger serve [flags]", ""},
		{[]string{"help", "serev"}, 2, "", `ledger: help: unknown command "serev"`},
		{[]string{"check", "-h"}, 0, "", "Usage: ledger check [flags]"},
		{[]string{"check", "--help"}, 0, "", "Usage: ledger check [flags]"},
		{[]string{"serve", "-h"}, 0, "", "Usage: ledger serve [flags]"},
		{[]string{"usage", "-h"}, 0, "", "Usage: ledger usage import FILE"},
		{[]string{"usage", "--help"}, 0, "", "Usage: ledger usage import FILE"},
		{[]string{"usage", "import", "-h"}, 0, "", "Usage: ledger usage import [flags]"},
		{[]string{"usage", "summary", "-h"}, 0, "", "Usage: ledger usage summary [flags]"},
		{[]string{"checkout", "-h"}, 0, "", "Usage: ledger checkout verify"},
		{[]string{"checkout", "verify", "-h"}, 0, "", "Usage: ledger checkout verify [flags]"},
		{[]string{"version", "-h"}, 0, "", "Usage: ledger version [flags]"},
		{[]string{"usage"}, 2, "", "ledger: usage: want import, summary or export"},
		{[]string{"usage", "exports"}, 2, "", `ledger: usage: unknown subcommand "exports"`},
		{[]string{"checkout"}, 2, "", "ledger: checkout: want the subcommand verify"},
		{[]string{"check", "--no-such-flag"}, 2, "", "ledger: flag provided but not defined: -no-such-flag"},
		{[]string{"serve", "--replicas", "two"}, 2, "", "ledger: invalid value \"two\" for flag -replicas: want a whole number\n"},
		{[]string{"version", "extra"}, 2, "", `ledger: version: unexpected argument "extra"`},
		{[]string{"version"}, 0, "ledger ", ""},
		{[]string{"check", "--account", ""}, 2, "", "ledger: --account: an account id is required\n"},
		{[]string{"usage", "import", "--account", "acme"}, 2, "", "ledger: usage import: a FILE is required\n"},
		{[]string{"qtl", "--account", "acme"}, 2, "", "ledger: qtl: give --quarter (e.g. 2026-Q4) or --month"},
		{[]string{"checkout", "verify"}, 2, "", "ledger: checkout verify: a TOKEN is required\n"},
		{[]string{"serve", "--replicas", "2"}, 2, "", "ledger: --replicas: 2; want 1, 3 or 5\n"},
		{[]string{"serve", "--usage-shards", "0"}, 2, "", "ledger: --usage-shards: 0; want 1 to"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, stdout, stderr := run(tc.args...)
			if code != tc.code {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tc.code, stderr)
			}
			for _, c := range []struct{ name, got, want string }{{"stdout", stdout, tc.stdout}, {"stderr", stderr, tc.stderr}} {
				if c.want == "" && c.got != "" {
					t.Errorf("%s %q, want nothing", c.name, c.got)
				}
				if !strings.Contains(c.got, c.want) {
					t.Errorf("%s %q, want it to contain %q", c.name, c.got, c.want)
				}
			}
		})
	}
}

// `ledger help CMD` prints, on stdout, what `ledger CMD -h` prints on stderr.
func TestHelpIsDashH(t *testing.T) {
	for _, cmd := range [][]string{{"serve"}, {"rebuild"}, {"digest"}, {"verify"}, {"bench"}, {"signin"}, {"signout"},
		{"check"}, {"usage"}, {"usage", "import"}, {"usage", "summary"}, {"checkout"}, {"checkout", "verify"}, {"version"},
		{"qtl"}, {"peaks"}, {"usage", "export"}, {"alerts"}} {
		_, help, _ := run(append([]string{"help"}, cmd...)...)
		_, _, dashH := run(append(cmd, "-h")...)
		if help == "" || help != dashH {
			t.Errorf("ledger help %s printed %q; ledger %s -h printed %q", strings.Join(cmd, " "), help, strings.Join(cmd, " "), dashH)
		}
	}
}

// The usage text documents the exit codes, and check's help its own.
func TestExitCodesDocumented(t *testing.T) {
	if !strings.Contains(usage, "3 denied check") {
		t.Errorf("usage does not document exit code 3:\n%s", usage)
	}
	_, help, _ := run("help", "check")
	if !strings.Contains(help, "3 when denied") || !strings.Contains(help, "0 when granted") {
		t.Errorf("check's help does not document its exit codes:\n%s", help)
	}
}

// main prints "ledger:" once before an error, however many of the packages'
// own "ledger: " prefixes it carries; help and a denied check print nothing
// more.
func TestExitCodeMessages(t *testing.T) {
	for _, tc := range []struct {
		err    error
		code   int
		stderr string
	}{
		{nil, 0, ""},
		{flag.ErrHelp, 0, ""},
		{fmt.Errorf("wrapped: %w", flag.ErrHelp), 0, ""},
		{errDenied, 3, ""},
		{errors.New("ledger: rebuild: the live store is in use"), 1, "ledger: rebuild: the live store is in use\n"},
		{errors.New("ledger: ledger: twice"), 1, "ledger: twice\n"},
		{errors.New("--key: no such file"), 1, "ledger: --key: no such file\n"},
		{errors.New("ledger at http://x: refused"), 1, "ledger: ledger at http://x: refused\n"},
		{&usageError{errors.New("ledger: unknown command \"x\"")}, 2, "ledger: unknown command \"x\"\n"},
		{&usageError{errNoCommand}, 2, ""},
	} {
		var stderr bytes.Buffer
		if code := exitCode(tc.err, &stderr); code != tc.code || stderr.String() != tc.stderr {
			t.Errorf("exitCode(%v) = %d, printed %q; want %d, %q", tc.err, code, stderr.String(), tc.code, tc.stderr)
		}
	}
}

// `ledger version` prints the module version, the VCS revision and time when
// the build recorded them, and the Go version.
func TestVersion(t *testing.T) {
	got := versionText(&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/entledger/ledger", Version: "v1.4.0"},
		Settings: []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "8dc4c8d0123"},
			{Key: "vcs.time", Value: "2026-01-05T01:00:00Z"}, {Key: "vcs.modified", Value: "true"}}})
	want := "ledger v1.4.0\n  revision 8dc4c8d0123 (modified)\n  time     2026-01-05T01:00:00Z\n  go       go1.26.8\n"
	if got != want {
		t.Errorf("versionText:\ngot  %q\nwant %q", got, want)
	}
	if got := versionText(&debug.BuildInfo{GoVersion: "go1.26.8"}); got != "ledger (devel)\n  go       go1.26.8\n" {
		t.Errorf("versionText without version or VCS: %q", got)
	}
	code, out, _ := run("version")
	if code != 0 || !strings.HasPrefix(out, "ledger ") || !strings.Contains(out, runtime.Version()) {
		t.Errorf("ledger version: exit %d, %q; want 0 and the Go version %s", code, out, runtime.Version())
	}
}

func TestPlural(t *testing.T) {
	for n, want := range map[int]string{0: "0 records", 1: "1 record", 2: "2 records", 1200: "1200 records"} {
		if got := plural(n, "record"); got != want {
			t.Errorf("plural(%d) = %q, want %q", n, got, want)
		}
	}
}
