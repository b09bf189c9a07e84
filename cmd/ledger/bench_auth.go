package main

import (
	"net/http"
	"os"
	"strings"
	"sync"

	"github.com/entledger/ledger/server"
)

// The bench talks to the ledgers it starts as their administrator: each
// wrote its admin token into its data directory on its first start.

// benchTokens holds the admin token of every ledger the bench started, by
// its HTTP host:port.
var benchTokens sync.Map

// noteToken remembers the admin token in dataDir for the ledger at addr
// (host:port, or a URL). Another process on the same stream uses the token
// of the first: note it with the first one's data directory.
func noteToken(addr, dataDir string) {
	raw, err := os.ReadFile(server.AdminTokenFile(dataDir))
	if err != nil {
		return // a binary built before tokens: it needs none
	}
	benchTokens.Store(strings.TrimPrefix(addr, "http://"), strings.TrimSpace(string(raw)))
}

// benchTransport sends the noted token to its ledger, and marks bodies as
// JSON.
type benchTransport struct{ next http.RoundTripper }

func (t benchTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	tok, ok := benchTokens.Load(r.URL.Host)
	if (ok && r.Header.Get("Authorization") == "") || (r.Body != nil && r.Header.Get("Content-Type") == "") {
		r = r.Clone(r.Context())
		if ok && r.Header.Get("Authorization") == "" {
			r.Header.Set("Authorization", "Bearer "+tok.(string))
		}
		if r.Body != nil && r.Header.Get("Content-Type") == "" {
			r.Header.Set("Content-Type", "application/json")
		}
	}
	return t.next.RoundTrip(r)
}

// benchClient is an HTTP client for the bench's ledgers, keeping up to
// conns connections to each.
func benchClient(conns int) *http.Client {
	return &http.Client{Transport: benchTransport{next: &http.Transport{MaxIdleConnsPerHost: max(conns, 2)}}}
}
