package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Bad configuration fails at start with a message naming the setting
// (docs/api.md), before anything is started or created.
func TestBadConfigurationNamesTheSetting(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"replicas", []string{"serve", "--data", dir, "--replicas", "2"}, nil, "--replicas"},
		{"replicas without cluster", []string{"serve", "--data", dir, "--replicas", "3"}, nil, "--replicas"},
		{"sync interval", []string{"serve", "--data", dir, "--sync-interval", "-1s"}, nil, "--sync-interval"},
		{"empty data", []string{"serve", "--data", ""}, nil, "--data"},
		{"empty nats url", []string{"serve", "--data", dir, "--nats-url", "nats://a:4222,,"}, nil, "--nats-url"},
		{"log level", []string{"serve", "--data", dir, "--log-level", "loud"}, nil, "--log-level"},
		{"session ttl", []string{"serve", "--data", dir, "--session-ttl", "0s"}, nil, "--session-ttl"},
		{"env duration", []string{"serve", "--data", dir}, map[string]string{"LEDGER_SYNC_INTERVAL": "soon"}, "LEDGER_SYNC_INTERVAL"},
		{"env replicas", []string{"serve", "--data", dir}, map[string]string{"LEDGER_REPLICAS": "x"}, "LEDGER_REPLICAS"},
		{"public name with a scheme", []string{"serve", "--data", dir, "--public-name", "https://ledger.example.com"}, nil, "--public-name"},
		{"public name with a port", []string{"serve", "--data", dir, "--public-name", "ledger.example.com:8080"}, nil, "--public-name"},
		{"empty public name", []string{"serve", "--data", dir, "--public-name", "a.example,,b.example"}, nil, "public-name"},
		{"env public name", []string{"serve", "--data", dir}, map[string]string{"LEDGER_PUBLIC_NAME": "ledger_1.example"}, "--public-name"},
		{"memory limit too small", []string{"serve", "--data", dir, "--memory-limit", "1MiB"}, nil, "--memory-limit"},
		{"memory limit not a size", []string{"serve", "--data", dir, "--memory-limit", "lots"}, nil, "memory-limit"},
		{"stray argument", []string{"serve", "--data", dir, "extra"}, nil, "extra"},
		{"unknown command", []string{"serev"}, nil, "serev"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var out, errOut bytes.Buffer
			err := Run(context.Background(), tc.args, &out, &errOut)
			if err == nil {
				t.Fatalf("Run(%q) succeeded, want an error naming %s", tc.args, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Run(%q) = %q, want it to name %s", tc.args, err, tc.want)
			}
		})
	}
}

// A flag on the command line wins over the environment.
func TestFlagWinsOverEnvironment(t *testing.T) {
	t.Setenv("LEDGER_LOG_LEVEL", "loud")
	fs := newFlagSet("x", "", &bytes.Buffer{})
	var lf logFlags
	lf.register(fs)
	if err := parse(fs, []string{"--log-level", "debug"}); err != nil {
		t.Fatal(err)
	}
	if lf.level != "debug" {
		t.Errorf("log level %q, want the flag's debug", lf.level)
	}
}

// A command's one argument (a usage file, a checkout token) may come before
// or after its flags; the flags still fall back to LEDGER_*.
func TestParseWithArg(t *testing.T) {
	t.Setenv("LEDGER_URL", "http://env.example")
	for _, tc := range []struct {
		args          []string
		arg, url, err string
	}{
		{[]string{"f.ndjson", "--url", "http://a"}, "f.ndjson", "http://a", ""},
		{[]string{"--url", "http://a", "f.ndjson"}, "f.ndjson", "http://a", ""},
		{[]string{"f.ndjson"}, "f.ndjson", "http://env.example", ""},
		{[]string{"--url", "http://a"}, "", "http://a", ""},
		{[]string{"f.ndjson", "--url", "http://a", "g.ndjson"}, "", "", "g.ndjson"},
		{[]string{"--url", "http://a", "f", "g"}, "", "", `"g"`},
	} {
		fs := newFlagSet("test", "", &bytes.Buffer{})
		url := fs.String("url", "http://default", "")
		arg, err := parseWithArg(fs, tc.args)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want one naming %s", tc.args, err, tc.err)
			}
			continue
		}
		if err != nil || arg != tc.arg || *url != tc.url {
			t.Errorf("%q: %q, url %q, %v; want %q, url %q", tc.args, arg, *url, err, tc.arg, tc.url)
		}
	}
}

// rule S4: the profiler, which has no authentication, refuses to listen
// anywhere but loopback, naming the setting, before anything starts.
func TestRuleS4DebugAddrLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":6060", "[::]:0", "192.0.2.1:6060", "example.com:6060"} {
		dir := t.TempDir()
		var stderr bytes.Buffer
		err := Run(context.Background(), []string{"serve", "--data", dir, "--http", "127.0.0.1:0", "--debug-addr", addr}, &bytes.Buffer{}, &stderr)
		if err == nil || !strings.Contains(err.Error(), "--debug-addr") || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("--debug-addr %s: %v, want a refusal naming --debug-addr", addr, err)
		}
		if _, err := os.Stat(filepath.Join(dir, "nats")); err == nil {
			t.Errorf("--debug-addr %s: the ledger started before refusing", addr)
		}
	}
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0", "localhost:0"} {
		if err := loopbackOnly(addr); err != nil {
			t.Errorf("%s: %v, want accepted", addr, err)
		}
	}
}

// Item 8 (DNS rebinding): --public-name is repeatable and takes lists; each
// is a host name or an IP address, without a scheme or a port.
func TestPublicNames(t *testing.T) {
	t.Setenv("LEDGER_PUBLIC_NAME", "env.example")
	fs := newFlagSet("x", "", &bytes.Buffer{})
	names := listFlag(fs, "public-name", "")
	if err := parse(fs, []string{"--public-name", "a.example", "--public-name", "b.example, 10.0.0.5,[fd00::1]"}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(*names, " "); got != "a.example b.example 10.0.0.5 [fd00::1]" {
		t.Errorf("--public-name twice: %q", got)
	}
	fs = newFlagSet("x", "", &bytes.Buffer{})
	names = listFlag(fs, "public-name", "")
	if err := parse(fs, nil); err != nil || strings.Join(*names, " ") != "env.example" {
		t.Errorf("LEDGER_PUBLIC_NAME: %q, %v", *names, err)
	}
	for _, name := range []string{"ledger.example.com", "Ledger.Example.COM.", "localhost", "ledger", "10.0.0.5", "::1", "[fd00::1]", "xn--bcher-kva.example"} {
		if err := checkPublicName(name); err != nil {
			t.Errorf("checkPublicName(%q): %v", name, err)
		}
	}
	for _, name := range []string{"", ".", "https://ledger.example.com", "ledger.example.com:8080", "ledger..example", "-ledger.example",
		"ledger-.example", "ledger_1.example", "*.example.com", "bücher.example", "ledger.example.com/v1", strings.Repeat("a", 64) + ".example"} {
		if err := checkPublicName(name); err == nil {
			t.Errorf("checkPublicName(%q) accepted it", name)
		}
	}
}
