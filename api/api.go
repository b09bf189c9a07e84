package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/ledger"
)

// MaxBodyBytes is the largest request body accepted.
const MaxBodyBytes = 1 << 20

// Request headers the API reads.
const (
	HeaderIdempotencyKey = "Idempotency-Key"
	HeaderActor          = "Ledger-Actor"
	HeaderCorrelationID  = "Ledger-Correlation-Id"
	HeaderCausationID    = "Ledger-Causation-Id"
)

// API serves the ledger's HTTP API (docs/api.md). It is an http.Handler,
// safe for concurrent use.
type API struct {
	l         *ledger.Ledger
	logger    *slog.Logger
	mux       *http.ServeMux
	paths     *http.ServeMux // every route's path without its method, to tell 405 from 404
	pathSet   map[string]struct{}
	gatherer  prometheus.Gatherer
	ready     func(context.Context) error
	responses *prometheus.CounterVec
}

// Options configure New. Every field is optional.
type Options struct {
	Logger     *slog.Logger                // defaults to slog.Default()
	Registerer prometheus.Registerer       // gets the API's metrics
	Gatherer   prometheus.Gatherer         // served at /metrics
	Ready      func(context.Context) error // answers /readyz
}

// New returns the HTTP API of l.
func New(l *ledger.Ledger, o Options) *API {
	a := &API{l: l, logger: o.Logger, mux: http.NewServeMux(), paths: http.NewServeMux(), pathSet: map[string]struct{}{},
		gatherer: o.Gatherer, ready: o.Ready,
		responses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ledger_http_responses_total",
			Help: "HTTP responses by status code.",
		}, []string{"code"}),
	}
	if a.logger == nil {
		a.logger = slog.Default()
	}
	if o.Registerer != nil {
		o.Registerer.MustRegister(a.responses)
	}
	a.routes()
	return a
}

func (a *API) routes() {
	a.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	a.mux.HandleFunc("GET /readyz", a.readyz)
	if a.gatherer != nil {
		a.mux.Handle("GET /metrics", promhttp.HandlerFor(a.gatherer, promhttp.HandlerOpts{}))
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
	a.handle("POST /v1/accounts/{account}/licenses/{id}/cancel", a.cancelLicense)
	a.handle("POST /v1/accounts/{account}/licenses/{id}/assign", a.assign)
	a.handle("POST /v1/accounts/{account}/licenses/{id}/reassign", a.reassign)
	a.handle("POST /v1/accounts/{account}/licenses/{id}/unassign", a.unassign)
	a.handle("POST /v1/accounts/{account}/licenses/{id}/checkout", a.checkout)
	a.handle("POST /v1/accounts/{account}/licenses/{id}/checkin", a.checkin)
	a.handle("GET /v1/accounts/{account}/reminders", a.reminders)
	a.handle("POST /v1/accounts/{account}/usage", a.recordUsage)
	a.handle("GET /v1/accounts/{account}/usage/summary", a.usageSummary)
	a.handle("POST /v1/accounts/{account}/usage/void", a.voidUsage)
	a.handle("PUT /v1/accounts/{account}/access/{product}", a.setAccess)
	a.handle("GET /v1/accounts/{account}/access/{product}", a.getAccess)
	a.handle("POST /v1/accounts/{account}/checks", a.check)
	a.handle("GET /v1/accounts/{account}/qtl", a.qtl)
	a.handle("GET /v1/qtl", a.qtlAll)
	a.handle("GET /v1/accounts/{account}/peaks", a.peaks)
	a.handle("GET /v1/accounts/{account}/usage/export", a.usageExport)
	a.handle("GET /v1/accounts/{account}/thresholds", a.thresholds)
	a.handle("GET /v1/accounts/{account}/alerts", a.alerts)
	a.handle("PUT /v1/accounts/{account}/thresholds/{product}", a.setThreshold)
	a.handle("DELETE /v1/accounts/{account}/thresholds/{product}", a.clearThreshold)
	a.handle("GET /v1/accounts/{account}/peaks/{product}/{interval_start}", a.peakEvidence)
	a.handle("POST /v1/accounts/{account}/sessions", a.signIn)
	a.handle("POST /v1/accounts/{account}/sessions/{email}/heartbeat", a.heartbeat)
	a.handle("DELETE /v1/accounts/{account}/sessions/{email}", a.signOut)
	a.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := a.paths.Handler(r); pattern != "" {
			writeError(w, r, a.logger, commands.Reject(commands.CodeMethodNotAllowed, "%s is not allowed on %s", r.Method, r.URL.Path))
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
		a.responses.WithLabelValues(strconv.Itoa(sw.status)).Inc()
	}()
	if rejectUncleanPath(sw, r) {
		return
	}
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
