package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/server"
)

// usageBatch is the batch size of the usage phases.
const usageBatch = 500

// usageUsers is how many users the usage phases' records belong to.
const usageUsers = 50

// benchUsage measures usage the way the field sends it: many clients at
// once, all on one product. For each client count of bc.usageClients it puts
// raw JetStream atomic batches of usageBatch messages (from as many
// publishers) beside the ledger recording bc.usageBatches batches of
// usageBatch records through HTTP, split among the clients, and counts the
// batches answered 409 conflict. benchUsageTwoProcesses, run after it, is
// the phase's second part.
func benchUsage(ctx context.Context, bc benchConfig, out io.Writer) error {
	if err := bc.freshStream(ctx); err != nil {
		return err
	}
	srv, err := server.Start(ctx, bc.onStream(server.Config{
		DataDir: filepath.Join(bc.dir, "usage"), HTTPAddr: "127.0.0.1:0", SyncInterval: bc.syncInterval,
		Logger: quietLogger(),
	}))
	if err != nil {
		return err
	}
	defer closeServer(srv)
	noteToken(srv.Addr(), srv.DataDir())
	conn := srv.Conn()
	cfg := server.StreamConfig(bc.replicas())
	cfg.Name, cfg.Subjects = "RAWUSAGE", []string{"rawusage.>"}
	if _, err := conn.JS.CreateStream(ctx, cfg); err != nil {
		return fmt.Errorf("bench: raw usage stream: %w", err)
	}
	base := "http://" + srv.Addr()
	if err := usageAccount(ctx, base); err != nil {
		return err
	}
	where := "all on one product"
	if bc.usageSpread {
		where = "each client on its own product"
	}
	fmt.Fprintf(out, "usage: %d batches of %d records per row, %s, split among the clients\n",
		bc.usageBatches, usageBatch, where)
	alone, err := checkLatency(ctx, base, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "checks alone (4 clients, commercial licence):              %s\n\n", alone)
	for _, n := range bc.usageClients {
		raw, err := rawUsage(ctx, conn, n, bc.usageBatches, fmt.Sprintf("rawusage.a%d", n), 300, false)
		if err != nil {
			return err
		}
		printMeasurement(out, raw)
		// Messages shaped like the ledger's (a usage event is about 650
		// bytes, plus its MAC header), read back by an ordered consumer as
		// the projections read the ledger's: JetStream's share of the work.
		shaped, err := rawUsage(ctx, conn, n, bc.usageBatches, fmt.Sprintf("rawusage.b%d", n), 700, true)
		if err != nil {
			return err
		}
		printMeasurement(out, shaped)
		var rec usageRun
		beside, err := checkLatency(ctx, base, func() error {
			var err error
			rec, err = ledgerUsage(ctx, []string{base}, n, bc.usageBatches, fmt.Sprintf("l%d", n), bc.usageSpread)
			return err
		})
		if err != nil {
			return err
		}
		printMeasurement(out, rec.measurement)
		fmt.Fprintf(out, "checks beside it (4 clients):                              %s\n", beside)
		fmt.Fprintf(out, "ratio  %s, %s: ledger / raw %.2f, / raw ledger-shaped %.2f; %d of %d batches answered 409 conflict\n\n",
			plural(n, "client"), where, rec.rate()/raw.rate(), rec.rate()/shaped.rate(), rec.conflicts, rec.batches)
	}
	info, err := conn.Stream.Info(ctx)
	if err != nil {
		return err
	}
	lag := info.State.LastSeq - srv.Store().Checkpoint()
	drained := time.Now()
	if err := srv.Store().WaitFor(ctx, info.State.LastSeq); err != nil {
		return err
	}
	fmt.Fprintf(out, "projection lag after the last answer: %s, applied %s later\n\n",
		plural(int(lag), "event"), time.Since(drained).Round(time.Millisecond))
	return nil
}

// benchUsageTwoProcesses runs two ledger processes on one stream (the second
// connects to the first one's embedded server) with 16 clients each sending
// usage for the same product, and reports how often a batch was decided
// again after losing to the other process, and how often it ran out of
// attempts (409 conflict).
func benchUsageTwoProcesses(ctx context.Context, bc benchConfig, out io.Writer) error {
	if err := bc.freshStream(ctx); err != nil {
		return err
	}
	a, err := server.Start(ctx, bc.onStream(server.Config{
		DataDir: filepath.Join(bc.dir, "usage-a"), HTTPAddr: "127.0.0.1:0", SyncInterval: bc.syncInterval,
		NATSListen: "127.0.0.1:0", Logger: quietLogger(),
	}))
	if err != nil {
		return err
	}
	defer closeServer(a)
	urls, pw := []string{}, ""
	if bc.cluster != nil {
		urls = bc.cluster.urls
	} else {
		if pw, err = server.LedgerNATSPassword(a.DataDir()); err != nil {
			return err
		}
		urls = append(urls, a.NATSURL())
	}
	b, err := server.Start(ctx, unlimited(server.Config{
		DataDir: filepath.Join(bc.dir, "usage-b"), HTTPAddr: "127.0.0.1:0", NATSURLs: urls, NATSPassword: pw, Replicas: bc.replicas(), GroupsInFlight: bc.groupsInFlight,
		SigningKey: filepath.Join(bc.dir, "usage-a", "keys", "events.ed25519"), Logger: quietLogger(),
	}))
	if err != nil {
		return err
	}
	defer closeServer(b)
	noteToken(a.Addr(), a.DataDir())
	noteToken(b.Addr(), a.DataDir())
	bases := []string{"http://" + a.Addr(), "http://" + b.Addr()}
	if err := usageAccount(ctx, bases[0]); err != nil {
		return err
	}
	// The second process must see the account and users before its first
	// batch; they were answered by the first.
	if err := b.Store().WaitFor(ctx, a.Store().Checkpoint()); err != nil {
		return err
	}
	rec, err := ledgerUsage(ctx, bases, 32, bc.usageBatches, "two", false)
	if err != nil {
		return err
	}
	printMeasurement(out, rec.measurement)
	retries := appendConflicts(ctx, bases[0]) + appendConflicts(ctx, bases[1])
	fmt.Fprintf(out, "two processes, 16 clients each on one product: %d of %d batches decided again after losing a race, %d answered 409 conflict\n",
		retries, rec.batches, rec.conflicts)
	return nil
}

func closeServer(s *server.Server) {
	cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s.Close(cctx)
}

// usageAccount creates the account "use" with usageUsers users and a
// commercial licence for the product the checks ask for.
func usageAccount(ctx context.Context, base string) error {
	client := benchClient(2)
	if err := postJSON(ctx, client, base+"/v1/accounts", map[string]string{
		"id": "use", "name": "Usage", "fulfillment_contact": "ops@use.example"}); err != nil {
		return err
	}
	if err := postJSON(ctx, client, base+"/v1/accounts/use/licenses", map[string]any{
		"id": "C-1", "kind": "commercial", "products": []string{"openroads"}, "seats": 10,
		"valid_from": "2020-01-01T00:00:00Z", "valid_until": "2099-01-01T00:00:00Z"}); err != nil {
		return err
	}
	for u := range usageUsers {
		if err := postJSON(ctx, client, base+"/v1/accounts/use/users", map[string]string{
			"email": "u" + strconv.Itoa(u) + "@use.example", "entitlement_country": "DE"}); err != nil {
			return err
		}
	}
	return nil
}

// usageRun is a timed run of usage batches and how many were refused.
type usageRun struct {
	measurement
	batches, conflicts int
}

// ledgerUsage sends batches batches of usageBatch records for one product
// (with spread, batch b for product b mod clients) through HTTP from clients
// clients, spread round-robin over bases. The
// request bodies are encoded before the clock starts: the load generator
// shares the machine, and its JSON encoding is not the ledger's work. Every
// answer is checked: all records accepted, none a duplicate; a 409 conflict
// is counted, anything else fails the run.
func ledgerUsage(ctx context.Context, bases []string, clients, batches int, tag string, spread bool) (usageRun, error) {
	now := time.Now().UTC()
	bodies := make([][]byte, batches)
	for b := range bodies {
		product := "microstation"
		if spread {
			product = "product-" + strconv.Itoa(b%clients)
		}
		var buf bytes.Buffer
		buf.WriteString(`{"records":[`)
		for i := range usageBatch {
			n := b*usageBatch + i
			began := now.Add(-time.Duration(n%(24*60)) * time.Minute).Add(-2 * time.Hour)
			if i > 0 {
				buf.WriteByte(',')
			}
			fmt.Fprintf(&buf, `{"usage_id":"%s-%d","email":"u%d@use.example","product":%q,"machine_id":"m%d",`+
				`"client_version":"10.00.18.25","started_at":%q,"ended_at":%q,"offline":false}`,
				tag, n, n%usageUsers, product, n%200, began.Format(time.RFC3339), began.Add(45*time.Minute).Format(time.RFC3339))
		}
		buf.WriteString(`]}`)
		bodies[b] = buf.Bytes()
	}
	want := []byte(fmt.Sprintf(`{"accepted":%d,"duplicates":0,`, usageBatch))
	client := benchClient(clients)
	var next, conflicts atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	start := time.Now()
	for c := range clients {
		base := bases[c%len(bases)]
		g.Go(func() error {
			for {
				b := int(next.Add(1)) - 1
				if b >= batches {
					return nil
				}
				status, answer, err := post(gctx, client, base+"/v1/accounts/use/usage", bodies[b])
				switch {
				case err != nil:
					return err
				case status == http.StatusConflict && bytes.Contains(answer, []byte(`"code":"conflict"`)):
					conflicts.Add(1)
				case status != http.StatusOK || !bytes.HasPrefix(answer, want):
					return fmt.Errorf("bench: usage answer %d %.200s, want %s...", status, answer, want)
				}
			}
		})
	}
	if err := g.Wait(); err != nil {
		return usageRun{}, err
	}
	name := fmt.Sprintf("ledger usage, %s, HTTP batches of %d", plural(clients, "client"), usageBatch)
	return usageRun{
		measurement: measurement{name: name, ops: batches * usageBatch, took: time.Since(start), unit: "records"},
		batches:     batches, conflicts: int(conflicts.Load()),
	}, nil
}

// post posts an encoded JSON body and returns the status and answer.
func post(ctx context.Context, client *http.Client, url string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(resp.Body)
	return resp.StatusCode, rb, err
}

// appendConflicts reads ledger_append_conflicts_total from a ledger's
// /metrics (0 if it cannot).
func appendConflicts(ctx context.Context, base string) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return 0
	}
	resp, err := benchClient(2).Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, "ledger_append_conflicts_total "); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return int(f)
		}
	}
	return 0
}

// maxRawPublishers caps the raw publishers: JetStream refuses more than 50
// atomic batches in flight on a stream (by default), so raw JetStream cannot
// take more clients at once than that.
const maxRawPublishers = 32

// rawUsage publishes batches atomic batches of usageBatch messages of size
// bytes on subjects under prefix, from clients concurrent publishers (at
// most maxRawPublishers) each on its own subject, and times it. With consume, an ordered consumer reads the
// messages back as they land, and the phase ends when it has read them all.
func rawUsage(ctx context.Context, conn *server.Conn, clients, batches int, prefix string, size int, consume bool) (measurement, error) {
	clients = min(clients, maxRawPublishers)
	payload := bytes.Repeat([]byte{'x'}, size)
	total := batches * usageBatch
	var read chan struct{}
	if consume {
		cons, err := conn.JS.OrderedConsumer(ctx, "RAWUSAGE", jetstream.OrderedConsumerConfig{
			FilterSubjects: []string{prefix + ".>"}, DeliverPolicy: jetstream.DeliverNewPolicy})
		if err != nil {
			return measurement{}, err
		}
		read = make(chan struct{})
		n := 0
		cc, err := cons.Consume(func(m jetstream.Msg) {
			if n++; n == total {
				close(read)
			}
		})
		if err != nil {
			return measurement{}, err
		}
		defer cc.Stop()
	}
	mac := "0123456789abcdef:" + strings.Repeat("m", 43) // the size of a Ledger-Mac value
	var next atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	start := time.Now()
	for w := range clients {
		g.Go(func() error {
			subject := prefix + ".w" + strconv.Itoa(w)
			for int(next.Add(1)) <= batches {
				msgs := make([]*nats.Msg, usageBatch)
				for i := range msgs {
					msgs[i] = &nats.Msg{Subject: subject, Data: payload, Header: nats.Header{}}
					if consume {
						msgs[i].Header.Set(events.MACHeader, mac)
					}
				}
				if _, err := rawBatch(gctx, conn.NC, msgs); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return measurement{}, err
	}
	if consume {
		select {
		case <-read:
		case <-ctx.Done():
			return measurement{}, ctx.Err()
		}
	}
	name := fmt.Sprintf("raw JetStream, %s, batches of %d x %d B", plural(clients, "publisher"), usageBatch, size)
	if consume {
		name += ", read back"
	}
	return measurement{name: name, ops: total, took: time.Since(start), unit: "msgs"}, nil
}

// checkLatency runs 4 clients checking entitlements (on a product the usage
// does not touch) while during runs, or for 2 seconds when during is nil,
// and describes their rate and latency.
func checkLatency(ctx context.Context, base string, during func() error) (string, error) {
	body := []byte(`{"email":"u1@use.example","product":"openroads","machine_id":"m1","client_version":"10.00.18.25"}`)
	client := benchClient(4)
	cctx, stop := context.WithCancel(ctx)
	defer stop()
	lat := make([][]time.Duration, 4)
	g, gctx := errgroup.WithContext(cctx)
	for c := range lat {
		g.Go(func() error {
			for gctx.Err() == nil {
				t := time.Now()
				status, answer, err := post(gctx, client, base+"/v1/accounts/use/checks", body)
				if gctx.Err() != nil {
					return nil
				}
				if err != nil || status != http.StatusOK {
					return fmt.Errorf("bench: check: %d %.200s %v", status, answer, err)
				}
				lat[c] = append(lat[c], time.Since(t))
			}
			return nil
		})
	}
	start := time.Now()
	var runErr error
	if during != nil {
		runErr = during()
	} else {
		select {
		case <-time.After(2 * time.Second):
		case <-ctx.Done():
		}
	}
	took := time.Since(start)
	stop()
	if err := g.Wait(); err != nil {
		return "", err
	}
	if runErr != nil {
		return "", runErr
	}
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	if len(all) == 0 {
		return "no check answered", nil
	}
	slices.Sort(all)
	q := func(p float64) time.Duration { return all[int(p*float64(len(all)-1))].Round(100 * time.Microsecond) }
	return fmt.Sprintf("%6.0f checks/s, p50 %s, p99 %s", float64(len(all))/took.Seconds(), q(0.5), q(0.99)), nil
}
