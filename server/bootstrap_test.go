package server_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/server"
)

// rule S3: two ledgers starting at the same moment on one empty stream
// create one admin token between them, written by one of them; a restart
// creates none.
func TestBootstrapTwoLedgersAtOnceMintOneToken(t *testing.T) {
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, JetStream: true,
		StoreDir: t.TempDir(), NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	key := filepath.Join(t.TempDir(), "events.ed25519")
	if _, err := events.LoadOrCreateKey(key); err != nil {
		t.Fatal(err)
	}
	cfg := func() server.Config {
		return server.Config{DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", NATSURLs: []string{ns.ClientURL()},
			SigningKey: key, NoReminders: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	}
	cfgs := []server.Config{cfg(), cfg()}
	srvs := make([]*server.Server, 2)
	var wg sync.WaitGroup
	for i := range cfgs {
		wg.Go(func() {
			s, err := server.Start(context.Background(), cfgs[i])
			if err != nil {
				t.Errorf("ledger %d: %v", i, err)
				return
			}
			srvs[i] = s
		})
	}
	wg.Wait()
	for _, s := range srvs {
		if s != nil {
			t.Cleanup(func() { s.Close(context.Background()) })
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	written := 0
	for _, c := range cfgs {
		switch _, err := os.Stat(server.AdminTokenFile(c.DataDir)); {
		case err == nil:
			written++
		case !errors.Is(err, os.ErrNotExist):
			t.Fatal(err)
		}
	}
	if written != 1 {
		t.Errorf("%d admin.token files written, want 1", written)
	}
	info, err := srvs[0].Conn().Stream.Info(context.Background(),
		jetstream.WithSubjectFilter(events.SubjectPrefix+events.GlobalAccount+"."+events.AggregateToken+".>"))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(info.State.Subjects); n != 1 {
		t.Errorf("the stream holds %d token subjects %v, want 1: one token", n, info.State.Subjects)
	}
}
