package main

import (
	"bytes"
	"context"
	"flag"
	"strings"
	"testing"
	"time"
)

// Durations take whole days (7d, 35d, 1d12h) besides Go durations.
func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"7d":      7 * day,
		"35d":     35 * day,
		"1d12h":   36 * time.Hour,
		"2d30m":   2*day + 30*time.Minute,
		"0d":      0,
		"-7d":     -7 * day,
		"+1d":     day,
		"24h":     24 * time.Hour,
		"90m":     90 * time.Minute,
		"1h30m":   90 * time.Minute,
		"500ms":   500 * time.Millisecond,
		"0":       0,
		"-1s":     -time.Second,
		"1d500ms": day + 500*time.Millisecond,
	} {
		got, err := parseDuration(in)
		if err != nil || got != want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"7x", "", "d", "7", "1.5d", "1d-2h", "1d+2h", "-+1d", "7 d", "7D", "1dd", "d12h", "7days",
		"999999999999d", "106751d24h"} {
		if got, err := parseDuration(in); err != errDuration {
			t.Errorf("parseDuration(%q) = %v, %v; want the error %q", in, got, err, errDuration)
		}
	}
}

// A duration prints whole days as days, and parses back to itself.
func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		7 * day:                    "7d",
		35 * day:                   "35d",
		36 * time.Hour:             "1d12h",
		day + 90*time.Minute:       "1d1h30m",
		24 * time.Hour:             "1d",
		90 * time.Minute:           "1h30m",
		2 * time.Hour:              "2h",
		30 * time.Second:           "30s",
		500 * time.Millisecond:     "500ms",
		0:                          "0s",
		-7 * day:                   "-7d",
		day + 500*time.Millisecond: "1d500ms",
	} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
		if back, err := parseDuration(formatDuration(d)); err != nil || back != d {
			t.Errorf("parseDuration(formatDuration(%v)) = %v, %v", d, back, err)
		}
	}
}

// A bad duration or number names the setting, the value and what is
// wanted, on the command line and in the environment, in one line that
// reads well.
func TestFlagErrorsSayWhatIsWanted(t *testing.T) {
	newFS := func() *flag.FlagSet {
		fs := newFlagSet("x", "", &bytes.Buffer{})
		durationFlag(fs, "session-ttl", 7*day, "a `duration`")
		intFlag(fs, "replicas", 1, "`n` replicas")
		return fs
	}
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--session-ttl", "7x"}, nil,
			`invalid value "7x" for flag -session-ttl: want a duration, e.g. 7d, 1d12h, 24h or 90m`},
		{[]string{"--replicas", "two"}, nil, `invalid value "two" for flag -replicas: want a whole number`},
		{[]string{"--replicas", "1.5"}, nil, `invalid value "1.5" for flag -replicas: want a whole number`},
		{nil, map[string]string{"LEDGER_SESSION_TTL": "7x"},
			`setting LEDGER_SESSION_TTL="7x": want a duration, e.g. 7d, 1d12h, 24h or 90m`},
		{nil, map[string]string{"LEDGER_REPLICAS": "three"}, `setting LEDGER_REPLICAS="three": want a whole number`},
	} {
		t.Run(tc.want, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			err := parse(newFS(), tc.args)
			if err == nil || err.Error() != tc.want {
				t.Errorf("parse(%q, env %v) = %v, want %q", tc.args, tc.env, err, tc.want)
			}
		})
	}
}

// Days work on the command line and in the environment; the help shows the
// type and prints a default of whole days in days.
func TestDurationFlag(t *testing.T) {
	var help bytes.Buffer
	fs := newFlagSet("x", "", &help)
	ttl := durationFlag(fs, "session-ttl", 7*day, "a session ends after this `duration`")
	horizon := durationFlag(fs, "usage-horizon", 35*day, "a `duration`")
	n := intFlag(fs, "replicas", 1, "`n` replicas")
	t.Setenv("LEDGER_USAGE_HORIZON", "1d12h")
	if err := parse(fs, []string{"--session-ttl", "2d", "--replicas", "3"}); err != nil {
		t.Fatal(err)
	}
	if *ttl != 2*day || *horizon != 36*time.Hour || *n != 3 {
		t.Errorf("got --session-ttl %v, --usage-horizon %v, --replicas %d; want 48h, 36h, 3", *ttl, *horizon, *n)
	}
	fs.Usage()
	for _, want := range []string{"-session-ttl duration", "(default 7d)", "(default 35d)", "-replicas n", "(default 1)"} {
		if !strings.Contains(help.String(), want) {
			t.Errorf("help %q does not contain %q", help.String(), want)
		}
	}
}

// The store's flags use these types: --sync-interval takes days, a bad one
// or a bad --replicas says what is wanted.
func TestStoreFlagsTypes(t *testing.T) {
	fs := newFlagSet("serve", "", &bytes.Buffer{})
	var sf storeFlags
	sf.register(fs, true)
	if err := parse(fs, []string{"--sync-interval", "1d12h"}); err != nil {
		t.Fatal(err)
	}
	if cfg, err := sf.config(); err != nil || cfg.SyncInterval != 36*time.Hour {
		t.Errorf("--sync-interval 1d12h: got %v, %v; want 36h", cfg.SyncInterval, err)
	}
	dir := t.TempDir()
	for args, want := range map[string]string{
		"--sync-interval 7x":  `invalid value "7x" for flag -sync-interval: want a duration, e.g. 7d, 1d12h, 24h or 90m`,
		"--replicas two":      `invalid value "two" for flag -replicas: want a whole number`,
		"--sync-interval -1s": "--sync-interval: -1s is negative; want 0 (sync every write) or a positive duration",
	} {
		var stderr bytes.Buffer
		err := Run(context.Background(), append([]string{"serve", "--data", dir}, strings.Fields(args)...), &bytes.Buffer{}, &stderr)
		if err == nil || err.Error() != want {
			t.Errorf("serve %s: got %v, want %q", args, err, want)
		}
	}
}

// Sizes read as operators write them; anything else names the value.
func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"400MiB": 400 << 20, "2GiB": 2 << 30, "512": 512, "1KB": 1000, " 64 MiB ": 64 << 20, "0B": 0} {
		if got, err := parseBytes(in); err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "-1MiB", "1.5GiB", "1TiB", "ten"} {
		if _, err := parseBytes(in); err == nil {
			t.Errorf("parseBytes(%q) accepted it", in)
		}
	}
}

// The rebuild's progress line: done of total, rate and time left.
func TestProgressLine(t *testing.T) {
	if got := progressLine(250, 1000, 5*time.Second); got != "rebuilding: 250 of 1000 events (25%), 50 events/s, 15s left" {
		t.Errorf("progressLine = %q", got)
	}
	if got := progressLine(0, 0, time.Second); got != "rebuilding: reading the stream" {
		t.Errorf("before the target is known: %q", got)
	}
}
