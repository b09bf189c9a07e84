package ledger

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/entledger/ledger/commands"
)

// MaxBodyBytes is the largest request body accepted (API.md).
const MaxBodyBytes = 1 << 20

// Request headers the API reads.
const (
	HeaderIdempotencyKey = "Idempotency-Key"
	HeaderActor          = "Ledger-Actor"
	HeaderCorrelationID  = "Ledger-Correlation-Id"
	HeaderCausationID    = "Ledger-Causation-Id"
)

// API serves the HTTP API of API.md.
type API struct {
	l       *Ledger
	logger  *slog.Logger
	mux     *http.ServeMux
	paths   *http.ServeMux // every route's path without its method, to tell 405 from 404
	pathSet map[string]struct{}
	gatherr prometheus.Gatherer
	ready   func(context.Context) error
}

// NewAPI returns the HTTP handler of l. ready answers /readyz; gatherer
// serves /metrics (either may be nil).
func NewAPI(l *Ledger, gatherer prometheus.Gatherer, ready func(context.Context) error) *API {
	a := &API{l: l, logger: l.logger, mux: http.NewServeMux(), paths: http.NewServeMux(), pathSet: map[string]struct{}{}, gatherr: gatherer, ready: ready}
	a.routes()
	return a
}

func (a *API) routes() {
	a.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	a.mux.HandleFunc("GET /readyz", a.readyz)
	if a.gatherr != nil {
		a.mux.Handle("GET /metrics", promhttp.HandlerFor(a.gatherr, promhttp.HandlerOpts{}))
	}
	a.handle("GET /v1/keys/events", a.eventKey)
	a.handle("GET /v1/keys/checkout", a.checkoutKey)
	a.handle("POST /v1/accounts", a.createAccount)
	a.handle("GET /v1/accounts/{account}", a.getAccount)
	a.handle("GET /v1/accounts/{account}/history", a.accountHistory)
	a.handle("POST /v1/accounts/{account}/users", a.registerUser)
	a.handle("GET /v1/accounts/{account}/users/{email}", a.getUser)
	a.handle("PATCH /v1/accounts/{account}/users/{email}", a.patchUser)
	a.handle("DELETE /v1/accounts/{account}/users/{email}", a.removeUser)
	a.handle("GET /v1/accounts/{account}/users/{email}/history", a.userHistory)
	a.handle("POST /v1/accounts/{account}/licenses", a.createLicense)
	a.handle("GET /v1/accounts/{account}/licenses/{id}", a.getLicense)
	a.handle("GET /v1/accounts/{account}/licenses/{id}/history", a.licenseHistory)
	a.handle("POST /v1/accounts/{account}/licenses/{id}/renew", a.renewLicense)
	a.handle("POST /v1/accounts/{account}/licenses/{id}/assign", a.assign)
	a.handle("POST /v1/accounts/{account}/licenses/{id}/reassign", a.reassign)
	a.handle("POST /v1/accounts/{account}/licenses/{id}/unassign", a.unassign)
	a.handle("POST /v1/accounts/{account}/licenses/{id}/checkout", a.checkout)
	a.handle("POST /v1/accounts/{account}/licenses/{id}/checkin", a.checkin)
	a.handle("GET /v1/accounts/{account}/reminders", a.reminders)
	a.handle("POST /v1/accounts/{account}/usage", a.recordUsage)
	a.handle("GET /v1/accounts/{account}/usage/summary", a.usageSummary)
	a.handle("PUT /v1/accounts/{account}/access/{product}", a.setAccess)
	a.handle("GET /v1/accounts/{account}/access/{product}", a.getAccess)
	a.handle("POST /v1/accounts/{account}/checks", a.check)
	a.handle("POST /v1/accounts/{account}/sessions", a.signIn)
	a.handle("POST /v1/accounts/{account}/sessions/{email}/heartbeat", a.heartbeat)
	a.handle("DELETE /v1/accounts/{account}/sessions/{email}", a.signOut)
	a.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := a.paths.Handler(r); pattern != "" {
			writeError(w, r, a.logger, commands.Reject(codeMethodNotAllowed, "%s is not allowed on %s", r.Method, r.URL.Path))
			return
		}
		writeError(w, r, a.logger, commands.Reject(commands.CodeNotFound, "no endpoint %s %s", r.Method, r.URL.Path))
	})
}

// ServeHTTP serves a request, counting responses and turning a panic into a
// logged 500 instead of a dropped connection.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		if p := recover(); p != nil {
			a.logger.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", p)
			if sw.status == 0 {
				writeError(sw, r, a.logger, fmt.Errorf("panic: %v", p))
			}
		}
		a.l.metrics.http.WithLabelValues(strconv.Itoa(sw.status)).Inc()
	}()
	a.mux.ServeHTTP(sw, r)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (a *API) handle(pattern string, h func(http.ResponseWriter, *http.Request) error) {
	if _, path, ok := strings.Cut(pattern, " "); ok {
		if _, known := a.pathSet[path]; !known {
			a.pathSet[path] = struct{}{}
			a.paths.HandleFunc(path, http.NotFound)
		}
	}
	a.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			writeError(w, r, a.logger, err)
		}
	})
}

func (a *API) readyz(w http.ResponseWriter, r *http.Request) {
	if a.ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := a.ready(ctx); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": err.Error()})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// request is a decoded mutating request: its command metadata and its
// business time.
type request struct {
	meta Meta
	at   time.Time // the body's optional "at"; zero when absent
}

// atField is the optional business time every admin command accepts
// (API.md); request bodies embed it.
type atField struct {
	At string `json:"at"`
}

func (f *atField) businessTime() (time.Time, error) { return parseTime("at", f.At) }

// readCommand reads the body (at most MaxBodyBytes) into v strictly and
// derives the command's metadata. An empty body is allowed when v's fields
// are all optional (emptyOK).
func readCommand(w http.ResponseWriter, r *http.Request, v any, emptyOK bool) (request, error) {
	body, err := readBody(w, r)
	if err != nil {
		return request{}, err
	}
	if len(bytes.TrimSpace(body)) == 0 && emptyOK {
		body = []byte("{}")
	}
	if err := decodeStrict(body, v); err != nil {
		return request{}, err
	}
	var req request
	if f, ok := v.(interface{ businessTime() (time.Time, error) }); ok {
		if req.at, err = f.businessTime(); err != nil {
			return request{}, err
		}
	}
	req.meta, err = commandMeta(r, body)
	return req, err
}

// readBody reads a request body of at most MaxBodyBytes.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, commands.Reject(commands.CodeBodyTooLarge, "the request body is larger than %d bytes", MaxBodyBytes).
				With("limit", MaxBodyBytes)
		}
		return nil, commands.Reject(commands.CodeMalformedJSON, "reading the request body: %v", err)
	}
	return body, nil
}

// decodeStrict decodes one JSON object into v (a pointer to a struct),
// rejecting unknown or differently-cased fields and trailing data with
// errors that name the field.
func decodeStrict(body []byte, v any) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return commands.Reject(commands.CodeMalformedJSON, "the body is empty; want a JSON object")
	}
	if trimmed[0] != '{' {
		return commands.Reject(commands.CodeMalformedJSON, "the body must be a JSON object")
	}
	// First the keys: encoding/json matches field names without regard to
	// case; the API does not. Every key must be a field name exactly.
	var keys map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if err := dec.Decode(&keys); err != nil {
		var syntaxErr *json.SyntaxError
		if errors.As(err, &syntaxErr) {
			return commands.Reject(commands.CodeMalformedJSON, "invalid JSON at byte %d: %v", syntaxErr.Offset, syntaxErr)
		}
		return commands.Reject(commands.CodeMalformedJSON, "the body is not a complete JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return commands.Reject(commands.CodeMalformedJSON, "trailing data after the JSON object")
	}
	known := fieldNames(reflect.TypeOf(v).Elem())
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if !known[k] {
			return commands.Invalid(k, "unknown field")
		}
	}
	// Then the values.
	if err := json.Unmarshal(trimmed, v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			field := typeErr.Field
			if i := strings.LastIndex(field, "."); i >= 0 {
				field = field[i+1:] // a path through an embedded struct names the field alone
			}
			return commands.Invalid(field, "want a JSON %s", jsonKind(typeErr.Type.Kind().String()))
		}
		return commands.Reject(commands.CodeMalformedJSON, "invalid JSON: %v", err)
	}
	return nil
}

// fieldNames lists the JSON names of a struct's fields, embedded ones
// included.
func fieldNames(t reflect.Type) map[string]bool {
	out := map[string]bool{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			for k := range fieldNames(f.Type) {
				out[k] = true
			}
			continue
		}
		if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != "" && name != "-" {
			out[name] = true
		}
	}
	return out
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "slice", "array":
		return "array"
	case "struct", "map":
		return "object"
	case "bool":
		return "boolean"
	}
	return "number"
}

// commandMeta derives a command's metadata from the request. With an
// Idempotency-Key the command id is a digest of the method, path and key,
// so the same key on the same endpoint is the same command.
func commandMeta(r *http.Request, body []byte) (Meta, error) {
	route := r.Method + " " + r.URL.Path
	sum := sha256.Sum256([]byte(route + "\n" + string(body)))
	meta := Meta{
		CommandHash:   hex.EncodeToString(sum[:]),
		Actor:         r.Header.Get(HeaderActor),
		CorrelationID: r.Header.Get(HeaderCorrelationID),
		CausationID:   r.Header.Get(HeaderCausationID),
	}
	for name, v := range map[string]string{HeaderActor: meta.Actor, HeaderCorrelationID: meta.CorrelationID, HeaderCausationID: meta.CausationID} {
		if !printableASCII(v, 200) {
			return meta, commands.Invalid(name, "at most 200 printable ASCII characters")
		}
	}
	if key := r.Header.Get(HeaderIdempotencyKey); key != "" {
		if !printableASCII(key, 255) {
			return meta, commands.Invalid(HeaderIdempotencyKey, "at most 255 printable ASCII characters")
		}
		k := sha256.Sum256([]byte(route + "\n" + key))
		meta.CommandID = "idem-" + hex.EncodeToString(k[:16])
		meta.Keyed = true
	}
	return meta, nil
}

func printableASCII(s string, max int) bool {
	if len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// parseTime parses an optional RFC 3339 field; "" is the zero time.
func parseTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, commands.Invalid(field, "%q is not an RFC 3339 time (e.g. 2026-01-05T00:00:00Z)", s)
	}
	return commands.Instant(field, t)
}

func requiredTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, commands.Invalid(field, "a time is required (RFC 3339, e.g. 2026-01-05T00:00:00Z)")
	}
	return parseTime(field, s)
}
