package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptrace"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/ledger"
	"github.com/entledger/ledger/server"
)

// benchConsole times the console's pages on an account of
// bc.consoleLicences unassigned practitioner licences: the licences' first
// page and the account's first page, whose reminders list every one of
// them (C7). Each is asked bc.consoleRequests times by one signed-in
// browser; the medians of the time to the first byte and to the whole
// answer are printed, beside the API's reminders answer that the first
// page is built on.
func benchConsole(ctx context.Context, bc benchConfig, out io.Writer) error {
	dir := filepath.Join(bc.dir, "console")
	srv, err := server.Start(ctx, unlimited(server.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", SyncInterval: bc.syncInterval,
		NoReminders: true, Logger: quietLogger()}))
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Close(cctx)
	}()
	raw, err := os.ReadFile(server.AdminTokenFile(dir))
	if err != nil {
		return fmt.Errorf("bench: console: %w", err)
	}
	token := strings.TrimSpace(string(raw))
	l := srv.Ledger()
	if _, err := l.CreateAccount(ctx, ledger.Meta{Actor: "bench"}, commands.CreateAccount{ID: "console", Name: "Console",
		FulfillmentContact: "it@console.example"}); err != nil {
		return fmt.Errorf("bench: console: %w", err)
	}
	now := l.Now()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(bc.clients)
	start := time.Now()
	for i := range bc.consoleLicences {
		g.Go(func() error {
			_, err := l.CreateLicense(gctx, ledger.Meta{Actor: "bench"}, commands.CreateLicense{Account: "console",
				ID: fmt.Sprintf("L-%06d", i), Kind: "practitioner", Products: []string{"microstation"},
				ValidFrom: now.Add(-time.Hour), ValidUntil: now.AddDate(1, 0, 0)})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("bench: console: creating licences: %w", err)
	}
	printMeasurement(out, measurement{name: "create licence, Go API (console phase)", ops: bc.consoleLicences,
		took: time.Since(start), unit: "commands"})

	base := "http://" + srv.Addr()
	browser, err := consoleSignIn(ctx, base, token)
	if err != nil {
		return err
	}
	for _, p := range []struct{ name, path string }{
		{"console: licences, first page (100 a page)", "/accounts/console/licenses"},
		{"console: the account's first page (reminders)", "/accounts/console"},
	} {
		first, full, err := timePage(ctx, browser, base+p.path, nil, bc.consoleRequests)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%-52s median first byte %7s  whole answer %7s  (%d requests, %d licences)\n", p.name,
			first.Round(10*time.Microsecond), full.Round(10*time.Microsecond), bc.consoleRequests, bc.consoleLicences)
	}
	apiClient := &http.Client{}
	_, full, err := timePage(ctx, apiClient, base+"/v1/accounts/console/reminders", http.Header{"Authorization": {"Bearer " + token}},
		bc.consoleRequests)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%-52s median whole answer %7s  (what the first page waits for)\n", "API: GET …/reminders", full.Round(10*time.Microsecond))
	return nil
}

var benchCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// consoleSignIn signs a cookie-keeping client in to the console.
func consoleSignIn(ctx context.Context, base, token string) (*http.Client, error) {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(base + "/sign-in")
	if err != nil {
		return nil, fmt.Errorf("bench: console: %w", err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := benchCSRF.FindSubmatch(page)
	if m == nil {
		return nil, fmt.Errorf("bench: console: the sign-in page has no CSRF field")
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/sign-in",
		strings.NewReader(url.Values{"csrf": {string(m[1])}, "token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("bench: console: signing in: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		return nil, fmt.Errorf("bench: console: signing in answered %d", resp.StatusCode)
	}
	return c, nil
}

// timePage asks for url n times, one after the other, and returns the
// medians of the time to the answer's first byte and to its last.
func timePage(ctx context.Context, c *http.Client, url string, h http.Header, n int) (first, full time.Duration, err error) {
	firsts, fulls := make([]time.Duration, 0, n), make([]time.Duration, 0, n)
	for range n {
		var gotFirst time.Time
		trace := &httptrace.ClientTrace{GotFirstResponseByte: func() { gotFirst = time.Now() }}
		req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodGet, url, nil)
		if err != nil {
			return 0, 0, err
		}
		for k, v := range h {
			req.Header[k] = v
		}
		began := time.Now()
		resp, err := c.Do(req)
		if err != nil {
			return 0, 0, fmt.Errorf("bench: console: GET %s: %w", url, err)
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			return 0, 0, fmt.Errorf("bench: console: GET %s: %d %v", url, resp.StatusCode, err)
		}
		fulls = append(fulls, time.Since(began))
		firsts = append(firsts, gotFirst.Sub(began))
	}
	return median(firsts), median(fulls), nil
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}
