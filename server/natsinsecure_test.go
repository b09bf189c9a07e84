package server

import (
	"context"
	"strings"
	"testing"

	natsserver "github.com/nats-io/nats-server/v2/server"
)

// startOpen starts a NATS server with JetStream on loopback that admits
// clients without credentials, unless user is set.
func startOpen(t *testing.T, user, password string) *natsserver.Server {
	t.Helper()
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(),
		NoLog: true, NoSigs: true, Username: user, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10e9) {
		t.Fatal("not ready")
	}
	t.Cleanup(ns.Shutdown)
	return ns
}

// rule S7: the ledger refuses a NATS server on a non-loopback address that
// admits clients without credentials, naming the risk and the flag that
// accepts it; with credentials required, or --nats-insecure, it connects.
// This machine has only loopback addresses: the test counts them as
// remote.
func TestRuleS7RefusesAnOpenNATS(t *testing.T) {
	isLoopback = func(string) bool { return false }
	t.Cleanup(func() { isLoopback = loopbackURL })
	open := startOpen(t, "", "")
	remote := "nats://" + open.Addr().String()
	cfg := Config{DataDir: t.TempDir(), NATSURLs: []string{remote}}
	if _, err := Dial(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "--nats-insecure") ||
		!strings.Contains(err.Error(), "without credentials") {
		t.Errorf("an open NATS at %s: %v; want a refusal naming the risk and --nats-insecure", remote, err)
	}
	cfg.NATSInsecure = true
	c, err := Dial(context.Background(), cfg)
	if err != nil {
		t.Fatalf("with --nats-insecure: %v", err)
	}
	c.Close()

	closed := startOpen(t, "ledger", "secret-password")
	cfg = Config{DataDir: t.TempDir(), NATSURLs: []string{"nats://" + closed.Addr().String()}, NATSPassword: "secret-password"}
	c, err = Dial(context.Background(), cfg)
	if err != nil {
		t.Fatalf("a NATS that asks for credentials: %v", err)
	}
	c.Close()

	for url, want := range map[string]bool{"nats://127.0.0.1:4222": true, "nats://127.9.0.1:4222": true, "nats://localhost:4222": true,
		"nats://[::1]:4222": true, "nats://10.0.0.1:4222": false, "nats://nats:4222": false} {
		if got := loopbackURL(url); got != want {
			t.Errorf("loopbackURL(%s) = %v, want %v", url, got, want)
		}
	}
}
