package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/internal/natsproc"
	"github.com/entledger/ledger/internal/poll"
	"github.com/entledger/ledger/ledger"
	"github.com/entledger/ledger/server"
)

// clusterPassword is the password of the one user of testdata/cluster.conf.
const clusterPassword = "shared-settings-test"

// sharedCluster is three nats-server processes in one cluster, started from
// testdata/cluster.conf, and a client of the ledger's user on them.
type sharedCluster struct {
	urls []string // with the user and password
	js   jetstream.JetStream
}

func startSharedCluster(t *testing.T) *sharedCluster {
	t.Helper()
	if testing.Short() {
		t.Skip("starts three nats-server processes")
	}
	conf, err := filepath.Abs(filepath.Join("testdata", "cluster.conf"))
	if err != nil {
		t.Fatal(err)
	}
	ports := natsproc.FreePorts(t, 6)
	var routes []string
	for i := range 3 {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", ports[3+i]))
	}
	c := &sharedCluster{}
	for i := range 3 {
		p := natsproc.Start(t, natsproc.Options{Config: conf, Port: ports[i],
			Env: []string{"LEDGER_NATS_PASSWORD=" + clusterPassword},
			Args: []string{"-n", fmt.Sprintf("s%d", i+1), "-sd", t.TempDir(),
				"--cluster", routes[i], "--routes", strings.Join(routes, ",")}})
		c.urls = append(c.urls, fmt.Sprintf("nats://ledger:%s@%s", clusterPassword, p.Addr()))
	}
	nc, err := nats.Connect(strings.Join(c.urls, ","), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if c.js, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}
	// As nats-server's own tests wait for the peer count: a stream of three
	// replicas can be placed once the meta leader knows every server.
	ctx := context.Background()
	poll.Until(t, 30*time.Second, "a cluster that places three replicas", func() bool {
		_, err := c.js.CreateStream(ctx, jetstream.StreamConfig{Name: "PROBE", Replicas: 3, Storage: jetstream.MemoryStorage})
		return err == nil
	})
	if err := c.js.DeleteStream(ctx, "PROBE"); err != nil {
		t.Fatal(err)
	}
	return c
}

// settings are the replicas, duplicate window and max age of a stream.
func (c *sharedCluster) settings(t *testing.T, name string) (int, time.Duration, time.Duration) {
	t.Helper()
	s, err := c.js.Stream(context.Background(), name)
	if err != nil {
		t.Fatalf("stream %s: %v", name, err)
	}
	cfg := s.CachedInfo().Config
	return cfg.Replicas, cfg.Duplicates, cfg.MaxAge
}

// update changes a stream's configuration from outside the ledger.
func (c *sharedCluster) update(t *testing.T, name string, change func(*jetstream.StreamConfig)) {
	t.Helper()
	ctx := context.Background()
	s, err := c.js.Stream(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	change(&cfg)
	if _, err := c.js.UpdateStream(ctx, cfg); err != nil {
		t.Fatalf("update %s: %v", name, err)
	}
}

// reset deletes the ledger's stream and bucket, for the next ledgers.
func (c *sharedCluster) reset(t *testing.T) {
	t.Helper()
	for _, name := range []string{server.StreamName, "KV_" + ledger.ReplayAnswersBucket} {
		if err := c.js.DeleteStream(context.Background(), name); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			t.Fatal(err)
		}
	}
}

// want fails unless the stream and the bucket have replicas, the duplicate
// window of two minutes and the bucket its TTL.
func (c *sharedCluster) want(t *testing.T, replicas int) {
	t.Helper()
	for _, name := range []string{server.StreamName, "KV_" + ledger.ReplayAnswersBucket} {
		r, dup, age := c.settings(t, name)
		wantAge := time.Duration(0)
		if name != server.StreamName {
			wantAge = ledger.ReplayAnswersTTL
		}
		if r != replicas || dup != server.DefaultDuplicateWindow || age != wantAge {
			t.Errorf("%s: replicas %d, duplicate window %s, max age %s; want %d, %s, %s", name, r, dup, age,
				replicas, server.DefaultDuplicateWindow, wantAge)
		}
	}
}

// clusterLedgers starts ledgers on the cluster, each with a data directory
// of its own and the one signing key.
type clusterLedgers struct {
	c        *sharedCluster
	key      string
	interval time.Duration
}

func (cl clusterLedgers) config(dir string, replicas int) server.Config {
	return server.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", NATSURLs: cl.c.urls, Replicas: replicas, SigningKey: cl.key,
		NoReminders: true, StreamCheckInterval: cl.interval, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

func (cl clusterLedgers) start(t *testing.T, dir string, replicas int) *server.Server {
	t.Helper()
	s, err := server.Start(context.Background(), cl.config(dir, replicas))
	if err != nil {
		t.Fatalf("ledger --replicas %d on %s: %v", replicas, dir, err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

func stop(t *testing.T, s *server.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// hasProblem reports whether s's latest stream check found a problem
// containing each of parts.
func hasProblem(s *server.Server, parts ...string) bool {
	return slices.ContainsFunc(s.Ledger().StreamProblems(), func(p string) bool {
		for _, part := range parts {
			if !strings.Contains(p, part) {
				return false
			}
		}
		return true
	})
}

// rules H1, F2, H5, S7 (issue 22): ledgers on a three-server cluster of
// nats-server processes, started with different --replicas in every order
// (and two at once), leave the stream and the bucket with the strongest
// settings asked for: --replicas raises, never lowers. An outside change
// lowering the replicas of either, or the stream's duplicate window, is
// reported by every running ledger within one check interval, naming the
// setting (the cluster's user may not subscribe to the advisories that
// would tell at once); a restart then refuses, naming it, until the
// setting is back (--replicas raises the replicas back; the duplicate
// window is set back from outside).
func TestSharedSettingsOnlyGoUp(t *testing.T) {
	c := startSharedCluster(t)
	key := filepath.Join(t.TempDir(), "events.ed25519")
	if _, err := events.LoadOrCreateKey(key); err != nil {
		t.Fatal(err)
	}
	cl := clusterLedgers{c: c, key: key, interval: 2 * time.Second}

	for _, order := range [][]int{{1, 3, 1}, {3, 1}, {1, 1, 3}} {
		t.Run(fmt.Sprint("replicas ", order), func(t *testing.T) {
			c.reset(t)
			for _, r := range order {
				stop(t, cl.start(t, t.TempDir(), r))
			}
			c.want(t, slices.Max(order))
		})
	}
	t.Run("replicas 1 and 3 at once", func(t *testing.T) {
		c.reset(t)
		var wg sync.WaitGroup
		for _, r := range []int{1, 3} {
			cfg := cl.config(t.TempDir(), r)
			wg.Go(func() {
				s, err := server.Start(context.Background(), cfg)
				if err != nil {
					t.Errorf("ledger --replicas %d: %v", r, err)
					return
				}
				stop(t, s)
			})
		}
		wg.Wait()
		c.want(t, 3)
	})

	// Two running ledgers; someone lowers what they share.
	c.reset(t)
	dirA, dirB := t.TempDir(), t.TempDir()
	a := cl.start(t, dirA, 3)
	b := cl.start(t, dirB, 1)
	c.want(t, 3)
	lowered := []struct {
		name, stream string
		change       func(*jetstream.StreamConfig)
		problem      []string
	}{
		{"stream replicas", server.StreamName, func(cfg *jetstream.StreamConfig) { cfg.Replicas = 1 },
			[]string{"replicas 1 (want at least 3"}},
		{"bucket replicas", "KV_" + ledger.ReplayAnswersBucket, func(cfg *jetstream.StreamConfig) { cfg.Replicas = 1 },
			[]string{"bucket " + ledger.ReplayAnswersBucket, "replicas 1 (want at least 3"}},
		{"duplicate window", server.StreamName, func(cfg *jetstream.StreamConfig) { cfg.Duplicates = 30 * time.Second },
			[]string{"duplicate_window 30s (want at least 2m0s"}},
	}
	for _, l := range lowered {
		c.update(t, l.stream, l.change)
		start := time.Now()
		for _, s := range []*server.Server{a, b} {
			poll.Until(t, cl.interval+time.Second, "report of the lowered "+l.name, func() bool { return hasProblem(s, l.problem...) })
		}
		t.Logf("lowered %s: reported by both ledgers after %s", l.name, time.Since(start).Round(time.Millisecond))
	}
	stop(t, a)
	stop(t, b)

	// A restart refuses what is weaker than the projections recorded.
	_, err := server.Start(context.Background(), cl.config(dirB, 1))
	if !errors.Is(err, server.ErrWeakerSettings) || !strings.Contains(err.Error(), "replicas 1") ||
		!strings.Contains(err.Error(), "--replicas 3") {
		t.Fatalf("restart with the stream's replicas lowered: %v; want ErrWeakerSettings naming replicas and --replicas 3", err)
	}
	t.Logf("refused: %v", err)
	// --replicas 3 raises the replicas back, but the window is still short.
	_, err = server.Start(context.Background(), cl.config(dirB, 3))
	if !errors.Is(err, server.ErrWeakerSettings) || !strings.Contains(err.Error(), "duplicate_window 30s") {
		t.Fatalf("restart with the duplicate window lowered: %v; want ErrWeakerSettings naming duplicate_window", err)
	}
	c.update(t, server.StreamName, func(cfg *jetstream.StreamConfig) { cfg.Duplicates = server.DefaultDuplicateWindow })
	stop(t, cl.start(t, dirB, 1))
	stop(t, cl.start(t, dirA, 1))
	c.want(t, 3)
}
