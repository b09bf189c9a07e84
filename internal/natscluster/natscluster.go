// Package natscluster runs the NATS deployments the project ships for tests:
// a deployment's secrets as `ledger nats secrets` makes them, and three
// nats-server processes (internal/natsproc) started from
// deploy/nats/cluster.conf with those secrets in their environment, as an
// operator starts them. Command-line flags choose only what a test must:
// ports, store directories, names. It is for tests only.
//
// A Cluster is safe to use from one goroutine at a time.
package natscluster

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/entledger/ledger/internal/natsproc"
	"github.com/entledger/ledger/internal/poll"
	"github.com/entledger/ledger/server"
)

// Conf is the path of a shipped configuration file of deploy/nats.
func Conf(name string) string { return filepath.Join(natsproc.Root(), "deploy", "nats", name) }

// Secrets makes a deployment's secrets and the environment the servers read
// them from, as `ledger nats secrets` writes them.
func Secrets(tb testing.TB) (server.NATSSecrets, []string) {
	tb.Helper()
	s, err := server.NewNATSSecrets()
	if err != nil {
		tb.Fatal(err)
	}
	env, err := s.Env()
	if err != nil {
		tb.Fatal(err)
	}
	return s, env
}

// Cluster is three servers of deploy/nats/cluster.conf on loopback.
type Cluster struct {
	Procs      []*natsproc.Proc
	Names      []string // each server's name (NATS_SERVER_NAME), nats-1 to nats-3
	Monitoring []int    // each server's monitoring port
	Routes     []string // each server's route address, host:port
}

// Start starts the three servers with env (Secrets' environment) and waits
// until every one of them sees a JetStream meta leader of three peers. The
// test's cleanup kills them.
func Start(tb testing.TB, s server.NATSSecrets, env []string) *Cluster {
	tb.Helper()
	ports := natsproc.FreePorts(tb, 9)
	c := &Cluster{}
	for i := range 3 {
		c.Routes = append(c.Routes, fmt.Sprintf("127.0.0.1:%d", ports[3+i]))
	}
	env = append(env, server.RoutesEnv(s.RoutePassword, c.Routes))
	for i := range 3 {
		name := fmt.Sprintf("nats-%d", i+1)
		c.Names = append(c.Names, name)
		c.Monitoring = append(c.Monitoring, ports[6+i])
		c.Procs = append(c.Procs, natsproc.Start(tb, natsproc.Options{Config: Conf("cluster.conf"), Port: ports[i],
			Env: append([]string{"NATS_SERVER_NAME=" + name, "NATS_STORE_DIR=" + tb.TempDir(),
				"NATS_CLUSTER_LISTEN=" + c.Routes[i]}, env...),
			Args: []string{"-m", fmt.Sprint(ports[6+i])}}))
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("the first server's log:\n%s", c.Procs[0].Log())
		}
	})
	poll.Until(tb, 30*time.Second, "a JetStream meta leader with three peers", func() bool {
		for _, m := range c.Monitoring {
			var jsz struct {
				Meta *struct {
					Leader string `json:"leader"`
					Size   int    `json:"cluster_size"`
				} `json:"meta_cluster"`
			}
			if GetJSON(fmt.Sprintf("http://127.0.0.1:%d/jsz", m), &jsz) != nil || jsz.Meta == nil || jsz.Meta.Leader == "" || jsz.Meta.Size != 3 {
				return false
			}
		}
		return true
	})
	return c
}

// URLs are the servers' client URLs, without credentials.
func (c *Cluster) URLs() []string {
	var urls []string
	for _, p := range c.Procs {
		urls = append(urls, p.URL())
	}
	return urls
}

// Named is the server called name (nil: none).
func (c *Cluster) Named(name string) *natsproc.Proc {
	for i, n := range c.Names {
		if n == name {
			return c.Procs[i]
		}
	}
	return nil
}

// GetJSON decodes the JSON answer of a GET.
func GetJSON(url string, v any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
