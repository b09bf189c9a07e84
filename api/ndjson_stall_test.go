package api

import (
	"bufio"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// stallBound is the write timeout and the NDJSON stall bound of these tests.
const stallBound = 150 * time.Millisecond

// Issue 19: an NDJSON answer ends on purpose only. It outlasts the
// server's write timeout while its reader keeps reading (before, every
// answer was cut at the write timeout, 60 s, whatever its progress), and
// ends with its trailer.
func TestNDJSONOutlastsTheWriteTimeout(t *testing.T) {
	next := make(chan bool)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out := newNDJSON(w, stallBound)
		rc := http.NewResponseController(w)
		for <-next {
			err := out.line(map[string]string{"at": time.Now().String()})
			if err == nil {
				err = rc.Flush()
			}
			if err != nil {
				out.end(err, testLogger(), "test")
				return
			}
		}
		out.end(nil, testLogger(), "test")
	}))
	srv.Config.WriteTimeout = stallBound
	srv.Start()
	defer srv.Close()

	go func() { next <- true }()
	client := &http.Client{Timeout: 30 * time.Second} // a bound for a broken build, never reached when it works
	resp, err := client.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	start, lines := time.Now(), bufio.NewScanner(resp.Body)
	for lines.Scan() {
		more := time.Since(start) < 4*stallBound // poll the clock: the answer must outlive the timeout
		go func() {
			select {
			case next <- more:
			case <-time.After(30 * time.Second): // the handler gave up
			}
		}()
		if !more {
			break
		}
	}
	for lines.Scan() {
	}
	if err := lines.Err(); err != nil {
		t.Fatalf("reading an answer of %v: %v", time.Since(start), err)
	}
	if resp.Trailer.Get(HeaderLines) == "" {
		t.Fatalf("an answer of %v, read to its end, has no %s trailer: it was cut", time.Since(start), HeaderLines)
	}
}

// Issue 19: a reader that stops reading is still cut, after the stall
// bound without progress: the writer's next write fails.
func TestNDJSONCutsAStalledReader(t *testing.T) {
	failed := make(chan error, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out := newNDJSON(w, stallBound)
		line := map[string]string{"pad": strings.Repeat("x", 64<<10)}
		for i := 0; i < 100_000; i++ { // at most 6.4 GB: far more than any socket buffer holds
			if err := out.line(line); err != nil {
				failed <- err
				out.end(err, testLogger(), "test")
				return
			}
		}
		failed <- nil
	}))
	srv.Config.WriteTimeout = time.Hour // the stall bound alone must cut it
	srv.Start()
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close() // never read
	select {
	case err := <-failed:
		if err == nil {
			t.Fatal("a reader that read nothing was sent 6.4 GB")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a stalled reader held the answer for 30 s; the stall bound is 150 ms")
	}
}

func testLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
