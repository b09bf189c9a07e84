package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/entledger/ledger/ledger"
	"github.com/entledger/ledger/server"
)

// benchCluster is three JetStream nodes routed to each other on loopback,
// in this process, for the phases that run on an R3 stream (--replicas 3).
type benchCluster struct {
	nodes []*natsserver.Server
	urls  []string // client URLs with the ledger's user and password
}

// startBenchCluster starts the three nodes in dir, fsyncing as sync says
// (0: every write), and waits until the meta leader sees all three.
func startBenchCluster(dir string, sync time.Duration) (*benchCluster, error) {
	ports, err := freeLoopbackPorts(6)
	if err != nil {
		return nil, err
	}
	secret := make([]byte, 16)
	rand.Read(secret)
	password := hex.EncodeToString(secret)
	var routes []string
	for i := range 3 {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", ports[3+i]))
	}
	c := &benchCluster{}
	for i := range 3 {
		o := &natsserver.Options{
			ServerName: fmt.Sprintf("bench-n%d", i+1), Host: "127.0.0.1", Port: ports[i], JetStream: true,
			StoreDir: filepath.Join(dir, fmt.Sprintf("n%d", i+1)),
			Cluster:  natsserver.ClusterOpts{Name: "ledger-bench", Host: "127.0.0.1", Port: ports[3+i]},
			Routes:   natsserver.RoutesFromStr(strings.Join(routes, ",")),
			Users:    []*natsserver.User{{Username: "ledger", Password: password}},
			NoSigs:   true, NoLog: true,
		}
		if sync == 0 {
			o.SyncAlways = true
		} else {
			o.SyncInterval = sync
		}
		s, err := natsserver.NewServer(o)
		if err != nil {
			c.stop()
			return nil, fmt.Errorf("bench: nats-server %s: %w", o.ServerName, err)
		}
		go s.Start()
		c.nodes = append(c.nodes, s)
		c.urls = append(c.urls, fmt.Sprintf("nats://ledger:%s@127.0.0.1:%d", password, ports[i]))
	}
	for _, s := range c.nodes {
		if !s.ReadyForConnections(30 * time.Second) {
			c.stop()
			return nil, errors.New("bench: a cluster node is not ready after 30 s")
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for !c.ready() {
		if time.Now().After(deadline) {
			c.stop()
			return nil, errors.New("bench: no JetStream meta leader seeing three peers after 30 s")
		}
		time.Sleep(20 * time.Millisecond) // polling a cluster's election; not a test
	}
	return c, nil
}

// ready reports whether every node is current and the meta leader sees
// all three, so that an R3 stream can be placed.
func (c *benchCluster) ready() bool {
	peers := 0
	for _, s := range c.nodes {
		if !s.JetStreamIsCurrent() {
			return false
		}
		if s.JetStreamIsLeader() {
			peers = len(s.JetStreamClusterPeers())
		}
	}
	return peers == len(c.nodes)
}

func (c *benchCluster) stop() {
	for _, s := range c.nodes {
		s.Shutdown()
		s.WaitForShutdown()
	}
}

// freeLoopbackPorts returns n ports free on 127.0.0.1 a moment ago.
func freeLoopbackPorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// onStream points cfg at the bench's stream: the embedded server (R1), or
// the cluster with three replicas.
func (bc benchConfig) onStream(cfg server.Config) server.Config {
	cfg.GroupsInFlight = bc.groupsInFlight
	cfg = unlimited(cfg)
	if bc.cluster != nil {
		cfg.NATSURLs, cfg.Replicas, cfg.NATSListen = bc.cluster.urls, 3, ""
	}
	return cfg
}

// replicas is the stream's replica count in this run.
func (bc benchConfig) replicas() int {
	if bc.cluster != nil {
		return 3
	}
	return 1
}

// freshStream deletes, on the cluster, the streams an earlier phase left
// (the ledger's, its answers' bucket, the raw ones), so that every phase
// starts on an empty stream as it does on its own embedded server.
func (bc benchConfig) freshStream(ctx context.Context) error {
	if bc.cluster == nil {
		return nil
	}
	nc, err := nats.Connect(strings.Join(bc.cluster.urls, ","))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	for _, name := range []string{server.StreamName, "KV_" + ledger.ReplayAnswersBucket, "RAW", "RAWUSAGE"} {
		if err := js.DeleteStream(ctx, name); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("bench: delete stream %s: %w", name, err)
		}
	}
	return nil
}

// unlimited is cfg with the limits of S9 off: a benchmark measures the
// ledger's capacity (see unlimitedFlags).
func unlimited(cfg server.Config) server.Config {
	cfg.RateLimit, cfg.UsageRate, cfg.ReportRate, cfg.BodyRate, cfg.MaxInFlight = -1, -1, -1, -1, -1
	return cfg
}
