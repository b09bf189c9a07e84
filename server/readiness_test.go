package server

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/entledger/ledger/projections"
)

// rule H5: the projections follow the stream within the bounds while they
// are at most readyMaxLagEvents behind and the oldest event they have not
// applied is younger than readyMaxLag; a store that does not apply (here:
// one that is not following at all) is not ready once its oldest pending
// event is older than the bound, and at once when too many are pending.
func TestReadinessBoundsTheLag(t *testing.T) {
	ns, err := StartEmbedded(EmbeddedOptions{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	nc, err := nats.Connect("", nats.InProcessServer(ns))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	stream, err := EnsureStream(ctx, js, 1)
	if err != nil {
		t.Fatal(err)
	}
	store, err := projections.Open(t.TempDir(), projections.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	s := &Server{conn: &Conn{NC: nc, Stream: stream}, store: store, readyMaxLag: time.Hour, readyMaxLagEvents: 10}

	if err := s.followsWithin(ctx, 0); err != nil {
		t.Errorf("an empty stream: %v", err)
	}
	s.caughtUp.Store(false) // a start with a backlog, below
	for i := range 5 {
		if _, err := js.Publish(ctx, fmt.Sprintf("ledger.events.acme.user.u%d", i), []byte("{}")); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.followsWithin(ctx, 5); err == nil || !strings.Contains(err.Error(), "catching up") {
		t.Errorf("5 events behind before the projections ever caught up: %v; want not ready, catching up", err)
	}
	s.caughtUp.Store(true) // as if they had, and fell behind since
	if err := s.followsWithin(ctx, 5); err != nil {
		t.Errorf("5 events behind, a moment old, bounds 10 events and an hour: %v", err)
	}
	s.readyMaxLagEvents = 4
	if err := s.followsWithin(ctx, 5); err == nil || !strings.Contains(err.Error(), "5 events behind") {
		t.Errorf("5 events behind with a bound of 4: %v", err)
	}
	s.readyMaxLagEvents, s.readyMaxLag = 10, 50*time.Millisecond
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := s.followsWithin(ctx, 5)
		if err != nil {
			if !strings.Contains(err.Error(), "the oldest event not applied was stored") {
				t.Errorf("stuck past the time bound: %v", err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the oldest pending event never grew older than 50ms")
		}
	}
}

// rule H5: a ledger that keeps up under load stays ready: /readyz, probed
// while clients write at full speed, answers 200 every time.
func TestReadyUnderLoad(t *testing.T) {
	s, base, token := startReadyLedger(t)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest("POST", base+"/v1/accounts/acme/users",
					strings.NewReader(fmt.Sprintf(`{"email":"w%d-%d@x.example","entitlement_country":"DE"}`, w, i)))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/json")
				if resp, err := http.DefaultClient.Do(req); err == nil {
					resp.Body.Close()
				}
			}
		}()
	}
	var notReady []string
	for range 100 {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 {
			notReady = append(notReady, resp.Status)
		}
		resp.Body.Close()
	}
	close(stop)
	wg.Wait()
	if len(notReady) > 0 {
		t.Errorf("/readyz under load: %d of 100 probes not ready, the first: %v", len(notReady), notReady[:min(3, len(notReady))])
	}
	t.Logf("projections at %d when the load ended", s.store.Checkpoint())
}

// startReadyLedger starts a ledger whose embedded NATS listens (so it is
// not the stream's only writer, and its reads wait for its projections),
// without rate limits, with account acme; it returns the server, its base
// URL and its admin token.
func startReadyLedger(t *testing.T) (*Server, string, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := Start(context.Background(), Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", NATSListen: "127.0.0.1:0", NoReminders: true,
		RateLimit: -1, MaxInFlight: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeServer(t, s) })
	base := "http://" + s.Addr()
	waitFor(t, 10*time.Second, "/readyz 200", func() bool { code, _ := get(t, base+"/readyz"); return code == 200 })
	raw, err := os.ReadFile(AdminTokenFile(dir))
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(raw))
	req, _ := http.NewRequest("POST", base+"/v1/accounts", strings.NewReader(`{"id":"acme","name":"A","fulfillment_contact":"ops@acme.example"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("create account: %v %v", resp, err)
	}
	resp.Body.Close()
	return s, base, token
}
