package api

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"time"
)

// HeaderLines is the trailer that ends a complete NDJSON answer: how many
// lines it holds. An answer without it was cut short.
const HeaderLines = "Ledger-Lines"

// ndjson writes an answer of one JSON document per line. The status and the
// headers go out with the first line (or at the end, for an answer of
// none), so an error before any line is still answered as an error. A
// complete answer ends with the trailer HeaderLines. An answer that fails
// after its first line can no longer change its status: the connection is
// cut instead of the answer being ended cleanly, so that a billing run sees
// an error (an unexpected end of the body), never a short report that looks
// whole.
//
// The server's write timeout covers a whole answer, and an answer of many
// lines outlasts it (a usage export of 195 MB at 2 MB/s was cut after 60 s
// on every try). So each line moves the connection's write deadline stall
// ahead (at most every stall/4, on the wall clock): an answer runs as long
// as its reader keeps reading, and a reader that stops for stall is cut.
type ndjson struct {
	w        http.ResponseWriter
	enc      *json.Encoder
	rc       *http.ResponseController
	stall    time.Duration
	extended time.Time // when the deadline was last moved
	lines    int
	started  bool
}

// DefaultStreamStall is how long an NDJSON answer may make no progress
// before its connection is cut: the server's default write timeout.
const DefaultStreamStall = 60 * time.Second

// newNDJSON starts an NDJSON answer on w that a stalled reader holds up
// for at most stall.
func newNDJSON(w http.ResponseWriter, stall time.Duration) *ndjson {
	return &ndjson{w: w, enc: json.NewEncoder(w), rc: http.NewResponseController(w), stall: stall}
}

// progress moves the write deadline stall ahead of now, unless it moved
// less than stall/4 ago.
func (n *ndjson) progress() {
	now := time.Now()
	if n.stall <= 0 || now.Sub(n.extended) < n.stall/4 {
		return
	}
	if n.rc.SetWriteDeadline(now.Add(n.stall)) == nil {
		n.extended = now
	}
}

func (n *ndjson) begin() {
	if n.started {
		return
	}
	n.w.Header().Set("Content-Type", "application/x-ndjson")
	n.w.Header().Set("Trailer", HeaderLines)
	n.w.WriteHeader(http.StatusOK)
	n.started = true
}

// line writes one document.
func (n *ndjson) line(v any) error {
	n.begin()
	n.progress()
	n.lines++
	return n.enc.Encode(v)
}

// end finishes the answer after producing its lines returned err: an error
// before the first line is returned for the caller to answer; after it, the
// connection is cut (http.ErrAbortHandler), and the failure logged as what.
func (n *ndjson) end(err error, logger *slog.Logger, what string, attrs ...any) error {
	if err == nil {
		n.begin()
		n.progress()
		n.w.Header().Set(HeaderLines, strconv.Itoa(n.lines))
		return nil
	}
	if !n.started {
		return err
	}
	logger.Error(what+" cut short: the connection is closed so that the client sees it",
		append(attrs, "lines", n.lines, "err", err)...)
	panic(http.ErrAbortHandler)
}
