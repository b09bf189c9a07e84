package api

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// ndjsonAPI serves /lines: n lines, then fail (nil: none) through the API's
// own ServeHTTP, with its recover.
func ndjsonAPI(t *testing.T, n int, fail error) *httptest.Server {
	t.Helper()
	a := &API{logger: slog.New(slog.NewTextHandler(io.Discard, nil)), mux: http.NewServeMux(),
		responses: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "r"}, []string{"code"}), durations: newDurations()}
	a.mux.HandleFunc("GET /lines", func(w http.ResponseWriter, r *http.Request) {
		out := newNDJSON(w, DefaultStreamStall)
		var err error
		for i := range n {
			if err = out.line(map[string]int{"line": i}); err != nil {
				break
			}
		}
		if err == nil {
			err = fail
		}
		if err := out.end(err, a.logger, "test"); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	return srv
}

// rule G2: a billing run can tell a whole NDJSON answer from one cut short.
// A whole one ends with the trailer Ledger-Lines; one that fails after its
// first line is not ended cleanly, and reading it fails.
func TestNDJSONCompleteOrVisiblyCut(t *testing.T) {
	resp, err := http.Get(ndjsonAPI(t, 3, nil).URL + "/lines")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || strings.Count(string(body), "\n") != 3 || resp.Trailer.Get(HeaderLines) != "3" {
		t.Fatalf("whole answer: %q, err %v, trailer %q; want 3 lines and %s: 3", body, err, resp.Trailer.Get(HeaderLines), HeaderLines)
	}

	// Cut after 2 lines (still buffered: the client sees the connection
	// end before the headers) and after 2,000 (sent: the body ends early).
	for _, n := range []int{2, 2000} {
		resp, err = http.Get(ndjsonAPI(t, n, errors.New("the store closed")).URL + "/lines")
		if err != nil && n == 2 {
			continue // cut before the headers: the client has an error, not a report
		}
		if err != nil {
			t.Fatalf("cut after %d lines: %v; want the headers and part of the body first", n, err)
		}
		body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || err == nil || resp.Trailer.Get(HeaderLines) != "" {
			t.Fatalf("cut after %d lines: status %d, %d bytes, read error %v, trailer %q; want the read to fail and no trailer",
				n, resp.StatusCode, len(body), err, resp.Trailer.Get(HeaderLines))
		}
	}

	// An answer that fails before its first line is an error answer.
	resp, err = http.Get(ndjsonAPI(t, 0, errors.New("no stream")).URL + "/lines")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("failed before any line: status %d, want the error", resp.StatusCode)
	}
}
