package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/ledger"
	"github.com/entledger/ledger/server"
)

// The fairness phase (S9): one ledger with its default limits, two
// accounts. Account beta sends a steady trickle of commands, an admin's
// PATCH of a user and an entitlement check, first alone (idle), then while
// account alpha floods usage with one ingest token from many clients; the
// phase prints beta's latencies in both, side by side, and what alpha got
// through and how often it was told 429. The goal: beta's median at most
// twice its idle median, with alpha held to its limit.

// fairnessConfig sizes the phase.
type fairnessConfig struct {
	floodClients int           // alpha's clients, each sending batches of floodBatch records
	floodBatch   int           // records per batch
	flood        time.Duration // how long alpha floods
	betaOps      int           // beta's PATCH+check pairs measured idle
	betaEvery    time.Duration // beta's pace: one pair per interval
}

// fairnessResult is what the phase measured.
type fairnessResult struct {
	idlePatch, idleCheck, floodPatch, floodCheck []time.Duration
	floodAccepted, floodBatches, flood429        int64
	betaLimited                                  int64 // beta's own 429s (should be none)
	took                                         time.Duration
}

func benchFairness(ctx context.Context, bc benchConfig, out io.Writer) error {
	fc := bc.fairness
	srv, err := server.Start(ctx, server.Config{DataDir: filepath.Join(bc.dir, "fairness"), HTTPAddr: "127.0.0.1:0",
		SyncInterval: bc.syncInterval, Logger: quietLogger(), NoReminders: true})
	if err != nil {
		return err
	}
	defer closeServer(srv)
	res, err := runFairness(ctx, srv, fc)
	if err != nil {
		return err
	}
	p := func(ds []time.Duration, q float64) time.Duration { return percentile(ds, q) }
	fmt.Fprintf(out, "fairness: account alpha floods usage (1 ingest token, %d clients, batches of %d records, %s); "+
		"account beta sends a PATCH and a check every %s; default limits\n", fc.floodClients, fc.floodBatch, res.took.Round(time.Millisecond), fc.betaEvery)
	fmt.Fprintf(out, "  %-28s %10s %10s %10s %10s %8s\n", "beta", "idle p50", "idle p99", "flood p50", "flood p99", "p50 ×")
	for _, row := range []struct {
		name        string
		idle, flood []time.Duration
	}{{"PATCH user (account_admin)", res.idlePatch, res.floodPatch}, {"check (ingest)", res.idleCheck, res.floodCheck}} {
		fmt.Fprintf(out, "  %-28s %10s %10s %10s %10s %8.2f\n", row.name, p(row.idle, 0.5), p(row.idle, 0.99),
			p(row.flood, 0.5), p(row.flood, 0.99), float64(p(row.flood, 0.5))/float64(max(1, p(row.idle, 0.5))))
	}
	fmt.Fprintf(out, "  alpha: %d batches sent, %d accepted (%.0f records/s), %d answered 429 rate_limited; beta answered 429: %d\n",
		res.floodBatches, res.floodAccepted, float64(res.floodAccepted*int64(fc.floodBatch))/res.took.Seconds(), res.flood429, res.betaLimited)
	return nil
}

// runFairness sets up both accounts through the Go API (unmetered), then
// measures beta idle and beside alpha's flood.
func runFairness(ctx context.Context, srv *server.Server, fc fairnessConfig) (fairnessResult, error) {
	var res fairnessResult
	l := srv.Ledger()
	meta := ledger.Meta{Actor: "bench"}
	now := time.Now().UTC()
	for _, id := range []string{"alpha", "beta"} {
		if _, err := l.CreateAccount(ctx, meta, commands.CreateAccount{ID: id, Name: id, FulfillmentContact: "it@" + id + ".example"}); err != nil {
			return res, err
		}
		if _, err := l.RegisterUser(ctx, meta, commands.RegisterUser{Account: id, Email: "u@" + id + ".example", EntitlementCountry: "DE"}); err != nil {
			return res, err
		}
		if _, err := l.CreateLicense(ctx, meta, commands.CreateLicense{Account: id, ID: "C-1", Kind: events.KindCommercial,
			Products: []string{"flood"}, Seats: 10, ValidFrom: now.Add(-24 * time.Hour), ValidUntil: now.Add(365 * 24 * time.Hour)}); err != nil {
			return res, err
		}
	}
	token := func(role, account string) (string, error) {
		t, err := l.CreateToken(ctx, meta, role+" "+account, role, account)
		return t.Token, err
	}
	alphaIngest, err := token(events.RoleIngest, "alpha")
	if err != nil {
		return res, err
	}
	betaAdmin, err := token(events.RoleAccountAdmin, "beta")
	if err != nil {
		return res, err
	}
	betaIngest, err := token(events.RoleIngest, "beta")
	if err != nil {
		return res, err
	}
	base := "http://" + srv.Addr()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: fc.floodClients + 4}}
	beta := betaClient{client: client, base: base, admin: betaAdmin, ingest: betaIngest, limited: &res.betaLimited}

	if res.idlePatch, res.idleCheck, err = beta.run(ctx, fc, fc.betaOps, nil); err != nil {
		return res, err
	}

	fctx, stop := context.WithTimeout(ctx, fc.flood)
	defer stop()
	g, gctx := errgroup.WithContext(fctx)
	start := time.Now()
	var n atomic.Int64
	for c := range fc.floodClients {
		g.Go(func() error { return alphaFlood(gctx, client, base, alphaIngest, c, fc, now, &n, &res) })
	}
	done := make(chan struct{})
	var betaErr error
	go func() {
		defer close(done)
		res.floodPatch, res.floodCheck, betaErr = beta.run(fctx, fc, 0, fctx.Done())
	}()
	floodErr := g.Wait()
	<-done
	res.took = time.Since(start)
	if betaErr != nil {
		return res, betaErr
	}
	if floodErr != nil && ctx.Err() == nil && fctx.Err() == nil {
		return res, floodErr
	}
	return res, nil
}

// alphaFlood sends batches of usage as alpha's ingest token until ctx
// ends: a client at full rate, which waits the Retry-After it is told.
func alphaFlood(ctx context.Context, client *http.Client, base, token string, c int, fc fairnessConfig, now time.Time,
	n *atomic.Int64, res *fairnessResult) error {
	started, ended := now.Add(-2*time.Hour).Format(time.RFC3339), now.Add(-time.Hour).Format(time.RFC3339)
	var body []byte
	for ctx.Err() == nil {
		b := n.Add(1)
		body = append(body[:0], `{"records":[`...)
		for i := range fc.floodBatch {
			if i > 0 {
				body = append(body, ',')
			}
			body = append(body, `{"usage_id":"f-`...)
			body = strconv.AppendInt(body, b, 10)
			body = append(body, '-')
			body = strconv.AppendInt(body, int64(i), 10)
			body = append(body, `","email":"u@alpha.example","product":"flood","machine_id":"m-`...)
			body = strconv.AppendInt(body, int64(i%500), 10)
			body = append(body, `","client_version":"10.00.18","started_at":"`+started+`","ended_at":"`+ended+`","offline":false}`...)
		}
		body = append(body, "]}"...)
		status, retry, err := benchRequest(ctx, client, http.MethodPost, base+"/v1/accounts/alpha/usage", token, json.RawMessage(body))
		if err != nil || ctx.Err() != nil {
			return err
		}
		atomic.AddInt64(&res.floodBatches, 1)
		switch {
		case status == http.StatusOK:
			atomic.AddInt64(&res.floodAccepted, 1)
		case status == http.StatusTooManyRequests:
			atomic.AddInt64(&res.flood429, 1)
			select {
			case <-time.After(retry):
			case <-ctx.Done():
				return nil
			}
		default:
			return fmt.Errorf("bench: fairness: alpha's batch answered %d", status)
		}
	}
	return nil
}

// betaClient is account beta's trickle of commands.
type betaClient struct {
	client        *http.Client
	base          string
	admin, ingest string
	limited       *int64
}

// run sends a PATCH and a check every fc.betaEvery, ops pairs or until
// stop closes, and returns their latencies.
func (b betaClient) run(ctx context.Context, fc fairnessConfig, ops int, stop <-chan struct{}) (patch, check []time.Duration, err error) {
	tick := time.NewTicker(fc.betaEvery)
	defer tick.Stop()
	countries := []string{"FR", "DE"}
	var mu sync.Mutex
	for i := 0; ops == 0 || i < ops; i++ {
		select {
		case <-tick.C:
		case <-stop:
			return patch, check, nil
		}
		for _, step := range []struct {
			method, path, token string
			body                any
			into                *[]time.Duration
		}{
			{http.MethodPatch, "/v1/accounts/beta/users/u@beta.example", b.admin, map[string]string{"entitlement_country": countries[i%2]}, &patch},
			{http.MethodPost, "/v1/accounts/beta/checks", b.ingest, map[string]string{"email": "u@beta.example", "product": "flood",
				"machine_id": "b-1", "client_version": "10.00.18"}, &check},
		} {
			t0 := time.Now()
			status, _, err := benchRequest(context.WithoutCancel(ctx), b.client, step.method, b.base+step.path, step.token, step.body)
			if err != nil {
				return patch, check, err
			}
			if status == http.StatusTooManyRequests {
				atomic.AddInt64(b.limited, 1)
				continue
			}
			if status/100 != 2 {
				return patch, check, fmt.Errorf("bench: fairness: beta's %s %s answered %d", step.method, step.path, status)
			}
			mu.Lock()
			*step.into = append(*step.into, time.Since(t0))
			mu.Unlock()
		}
	}
	return patch, check, nil
}

// benchRequest sends body as JSON with token and reads the answer whole;
// retry is the Retry-After of a 429 (1 s without one).
func benchRequest(ctx context.Context, client *http.Client, method, url, token string, body any) (status int, retry time.Duration, err error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return 0, 0, err
	}
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(raw))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, 0, nil
		}
		return 0, 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	retry = time.Second
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		retry = time.Duration(s) * time.Second
	}
	return resp.StatusCode, retry, nil
}

// percentile is the q-quantile of ds (0 for none), nearest rank.
func percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s)) + 0.5)
	return s[min(max(i-1, 0), len(s)-1)]
}
