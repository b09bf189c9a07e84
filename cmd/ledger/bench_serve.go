package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/projections"
	"github.com/entledger/ledger/server"
)

// benchServe runs `ledger serve` as a child process, fills it with
// bc.licences licences through HTTP, reports its peak memory, then compares
// a projection rebuild of that stream with a raw ordered-consumer replay and
// raw Pebble writes of the same messages.
func benchServe(ctx context.Context, bc benchConfig, out io.Writer) error {
	dir := filepath.Join(bc.dir, "serve")
	child, err := startServe(ctx, dir, bc.syncInterval)
	if err != nil {
		return err
	}
	defer child.kill()

	client := benchClient(bc.clients)
	if err := postJSON(ctx, client, child.base+"/v1/accounts", map[string]string{
		"id": "mem", "name": "Memory", "fulfillment_contact": "ops@mem.example"}); err != nil {
		return err
	}
	now := time.Now().UTC()
	from, until := now.Add(-time.Hour).Format(time.RFC3339), now.Add(365*24*time.Hour).Format(time.RFC3339)
	g, gctx := errgroup.WithContext(ctx)
	start := time.Now()
	for w := range bc.clients {
		g.Go(func() error {
			for i := w; i < bc.licences; i += bc.clients {
				if err := postJSON(gctx, client, child.base+"/v1/accounts/mem/licenses", map[string]any{
					"id": "M-" + strconv.Itoa(i), "kind": "practitioner", "products": []string{"microstation"},
					"valid_from": from, "valid_until": until}); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	printMeasurement(out, measurement{name: "create licence, HTTP, `ledger serve` process", ops: bc.licences,
		took: time.Since(start), unit: "commands"})
	fmt.Fprintf(out, "peak memory of `ledger serve` while creating %d licences: %s\n", bc.licences, child.peak())
	if err := child.stop(); err != nil {
		return err
	}

	child, err = startServe(ctx, dir, bc.syncInterval)
	if err != nil {
		return err
	}
	defer child.kill()
	for i := 0; i < 1000; i++ {
		resp, err := client.Get(child.base + "/v1/accounts/mem/licenses/M-" + strconv.Itoa(i*bc.licences/1000))
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	fmt.Fprintf(out, "peak memory of `ledger serve` restarted holding %d licences (1000 reads): %s\n", bc.licences, child.peak())
	if err := child.stop(); err != nil {
		return err
	}
	fmt.Fprintln(out)
	return benchReplay(ctx, bc, dir, out)
}

// benchReplay compares, on the stream the serve phase wrote, a raw ordered
// consumer replay, raw Pebble batch writes of the same messages, and a full
// projection rebuild.
func benchReplay(ctx context.Context, bc benchConfig, dir string, out io.Writer) error {
	conn, err := server.Dial(ctx, server.Config{DataDir: dir, SyncInterval: bc.syncInterval})
	if err != nil {
		return err
	}
	defer conn.Close()
	info, err := conn.Stream.Info(ctx)
	if err != nil {
		return err
	}
	last := info.State.LastSeq

	// Raw: one ordered consumer, every message, nothing done with it.
	type kv struct{ k, v []byte }
	msgs := make([]kv, 0, last)
	start := time.Now()
	cons, err := conn.Stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return err
	}
	it, err := cons.Messages()
	if err != nil {
		return err
	}
	for uint64(len(msgs)) < last {
		m, err := it.Next()
		if err != nil {
			it.Stop()
			return err
		}
		msgs = append(msgs, kv{[]byte(m.Subject()), m.Data()})
	}
	it.Stop()
	raw := measurement{name: "raw ordered-consumer replay", ops: len(msgs), took: time.Since(start), unit: "events"}
	printMeasurement(out, raw)

	// Raw Pebble: the same messages as key/value pairs, 1024 per batch.
	pdir := filepath.Join(bc.dir, "raw-pebble")
	db, err := pebble.Open(pdir, &pebble.Options{Logger: quietPebble{}})
	if err != nil {
		return err
	}
	start = time.Now()
	for i := 0; i < len(msgs); i += 1024 {
		b := db.NewBatch()
		for _, m := range msgs[i:min(i+1024, len(msgs))] {
			b.Set(m.k, m.v, nil)
		}
		if err := b.Commit(pebble.NoSync); err != nil {
			return err
		}
	}
	rawPebble := measurement{name: "raw Pebble batch writes of those events", ops: len(msgs), took: time.Since(start), unit: "events"}
	db.Close()
	os.RemoveAll(pdir)
	printMeasurement(out, rawPebble)

	stopProfile, err := profileRebuild(bc.rebuildProfile)
	if err != nil {
		return err
	}
	start = time.Now()
	store, err := projections.Build(ctx, conn.Stream, server.StreamIdentity(info), filepath.Join(bc.dir, "rebuild"),
		projections.Options{Logger: quietLogger(), Authenticator: benchMAC(dir)})
	if err != nil {
		stopProfile()
		return err
	}
	rebuild := measurement{name: "projection rebuild (decode, fold, Pebble)", ops: int(store.Checkpoint()), took: time.Since(start), unit: "events"}
	stopProfile()
	store.Close()
	printMeasurement(out, rebuild)
	fmt.Fprintf(out, "\nratio  rebuild / raw ordered-consumer replay  %.2f  (goal >= 0.5)\n", rebuild.rate()/raw.rate())
	fmt.Fprintf(out, "ratio  rebuild / raw Pebble writes           %.2f\n", rebuild.rate()/rawPebble.rate())
	return nil
}

// benchMAC is the authenticator of the serve phase's events.
func benchMAC(dir string) *events.MAC {
	key, err := events.LoadKey(filepath.Join(dir, "keys", "events.ed25519"))
	if err != nil {
		panic(err)
	}
	return events.NewMAC(key)
}

type quietPebble struct{}

func (quietPebble) Infof(string, ...any)  {}
func (quietPebble) Errorf(string, ...any) {}
func (quietPebble) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}

// serveChild is a `ledger serve` child process.
type serveChild struct {
	cmd  *exec.Cmd
	base string
}

func startServe(ctx context.Context, dir string, sync time.Duration) (*serveChild, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return startServeBinary(ctx, exe, dir, sync, unlimitedFlags(exe)...)
}

// unlimitedFlags turn off the limits of S9 in a `ledger serve` child of
// binary exe: a benchmark measures the ledger's capacity, which its
// limits are there to keep one tenant from taking (the fairness phase
// measures them). A binary other than this one may predate the flags of
// S9, and is given the two it has always had.
func unlimitedFlags(exe string) []string {
	flags := []string{"--rate-limit", "0", "--max-inflight", "0"}
	if self, err := os.Executable(); err == nil && self == exe {
		flags = append(flags, "--usage-rate", "0", "--report-rate", "0", "--body-rate", "0")
	}
	return flags
}

// startServeBinary starts `exe serve` on dir with extra flags and waits
// until it is ready.
func startServeBinary(ctx context.Context, exe, dir string, sync time.Duration, extra ...string) (*serveChild, error) {
	args := append([]string{"serve", "--data", dir, "--http", "127.0.0.1:0", "--nats-listen", "",
		"--sync-interval", sync.String(), "--log-level", "warn"}, extra...)
	cmd := exec.CommandContext(ctx, exe, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &serveChild{cmd: cmd}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		c.kill()
		return nil, fmt.Errorf("bench: ledger serve did not start: %w", err)
	}
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if !ok {
		c.kill()
		return nil, fmt.Errorf("bench: unexpected first line from ledger serve: %q", line)
	}
	go io.Copy(io.Discard, stdout)
	c.base = addr
	noteToken(addr, dir)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := benchClient(2).Get(c.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return c, nil
			}
		}
		if time.Now().After(deadline) {
			c.kill()
			return nil, errors.New("bench: ledger serve not ready after 2 minutes")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// peak is the child's peak resident memory (VmHWM), read from /proc.
func (c *serveChild) peak() string {
	mib, err := c.peakMiB()
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	return fmt.Sprintf("%.0f MiB", mib)
}

// peakMiB is the child's peak resident memory in MiB.
func (c *serveChild) peakMiB() (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				return 0, err
			}
			return float64(kb) / 1024, nil
		}
	}
	return 0, errors.New("no VmHWM in /proc status")
}

func (c *serveChild) stop() error {
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	return c.cmd.Wait()
}

func (c *serveChild) kill() {
	if c.cmd.ProcessState == nil {
		c.cmd.Process.Kill()
		c.cmd.Wait()
	}
}

func postJSON(ctx context.Context, client *http.Client, url string, body any) error {
	raw, err := json.Marshal(body)
	if err != nil {
		return err
	}
	_, err = postRaw(ctx, client, url, raw)
	return err
}

// postRaw posts an encoded JSON body and returns the answer of a 2xx.
func postRaw(ctx context.Context, client *http.Client, url string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("bench: POST %s: %d %s", url, resp.StatusCode, rb)
	}
	return rb, nil
}
