package server

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// A data directory of a version before the NATS accounts holds the stream
// in the server's default account ($G): the first start with the accounts
// moves it into account LEDGER, whole, where the ledger's user finds it.
func TestEmbeddedAdoptsTheStreamOfTheDefaultAccount(t *testing.T) {
	store := filepath.Join(t.TempDir(), "nats")
	ctx := context.Background()
	bare, err := StartEmbedded(EmbeddedOptions{StoreDir: store})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect("", nats.InProcessServer(bare))
	if err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	if _, err := EnsureStream(ctx, js, 1); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := js.Publish(ctx, "ledger.events.acme.user.u", []byte("{}")); err != nil {
			t.Fatal(err)
		}
	}
	nc.Close()
	bare.Shutdown()
	bare.WaitForShutdown()

	secrets, err := NewNATSSecrets()
	if err != nil {
		t.Fatal(err)
	}
	ns, err := StartEmbedded(EmbeddedOptions{StoreDir: store, Secrets: secrets})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	nc, err = nats.Connect("", nats.InProcessServer(ns), nats.UserInfo(LedgerNATSUser, secrets.LedgerPassword))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ = jetstream.New(nc)
	s, err := js.Stream(ctx, StreamName)
	if err != nil {
		t.Fatalf("the stream in account LEDGER after the move: %v", err)
	}
	if n := s.CachedInfo().State.Msgs; n != 3 {
		t.Errorf("the moved stream holds %d messages, want 3", n)
	}
}
