package api

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/entledger/ledger/auth"
	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/ledger"
)

// MaxBodyBytes is the largest request body accepted.
const MaxBodyBytes = 1 << 20

// Request headers the API reads.
const (
	HeaderIdempotencyKey = "Idempotency-Key"
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
	table     []Route
	limits    *limits
	gatherer  prometheus.Gatherer
	ready     func(context.Context) error
	responses *prometheus.CounterVec
	durations *prometheus.HistogramVec // ledger_http_request_duration_seconds{route}

	streamStall       time.Duration        // Options.StreamStall
	natsURLs          []string             // Options.NATSURLs
	subscriberRevoked func(tokenID string) // Options.SubscriberRevoked
	commandTimeout    time.Duration        // Options.CommandTimeout
}

// DefaultCommandTimeout is how long a command waits at most, from the
// moment it arrives, before it is answered (rule H5, docs/operations.md:
// Losing a server): the time to find a lost request to the stream's
// leader out (5 s) and to commit the command's batch (10 s). A command
// whose waits for the stream or the projections take longer is answered
// 503 unavailable, and its retry with the same Idempotency-Key answers
// what became of it.
const DefaultCommandTimeout = 15 * time.Second

// Options configure New. Every field is optional.
type Options struct {
	Logger     *slog.Logger                // defaults to slog.Default()
	Registerer prometheus.Registerer       // gets the API's metrics
	Gatherer   prometheus.Gatherer         // served at /metrics
	Ready      func(context.Context) error // answers /readyz
	// The limits of S9 (limits.go); for each, 0 means its default and < 0
	// no limit. RateLimit is how many commands (mutating requests but
	// usage batches) a second each token may send, twice that per
	// account; UsageRate, ReportRate and BodyRate are the usage records,
	// report computations and request body bytes a second per account,
	// half of each per token.
	RateLimit, UsageRate, ReportRate, BodyRate float64
	// MaxInFlight caps the requests running at once in the process (0:
	// DefaultMaxInFlight, < 0 no cap); an account may hold a quarter of
	// them and a token an eighth.
	MaxInFlight int
	// Now is the wall clock the limits' buckets run on (default time.Now):
	// never the ledger's business clock, which a test or an import may set
	// anywhere.
	Now func() time.Time
	// StreamStall is how long an NDJSON answer may go without writing
	// before its connection is cut (0: DefaultStreamStall): each write
	// moves the write deadline this far ahead, so an answer of any length
	// ends on purpose, and only a reader that stops reading is cut.
	StreamStall time.Duration
	// NATSURLs are where subscribers connect (the answer of POST
	// .../subscribers names them); empty when no NATS listener is
	// reachable from outside the ledger.
	NATSURLs []string
	// SubscriberRevoked, if set, is told of every subscriber revoked, to
	// close its live connections.
	SubscriberRevoked func(tokenID string)
	// CommandTimeout bounds each command, a request other than GET or
	// HEAD, from its arrival to its answer; 0 means DefaultCommandTimeout.
	// Reads are not bounded: an export streams for as long as it takes.
	CommandTimeout time.Duration
}

// perAccountRates are the rates of S9 per account the options ask for.
func (o Options) perAccountRates() rates {
	var r rates
	r[costCommands] = orDefault(o.RateLimit, DefaultRateLimit) / tokenShare
	r[costUsageRecords] = orDefault(o.UsageRate, DefaultUsageRate)
	r[costReports] = orDefault(o.ReportRate, DefaultReportRate)
	r[costBodyBytes] = orDefault(o.BodyRate, DefaultBodyRate)
	return r
}

// orDefault is v, or def when v is 0.
func orDefault[T int | float64](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// New returns the HTTP API of l.
func New(l *ledger.Ledger, o Options) *API {
	a := &API{l: l, logger: o.Logger, mux: http.NewServeMux(), paths: http.NewServeMux(), pathSet: map[string]struct{}{},
		gatherer: o.Gatherer, ready: o.Ready, natsURLs: o.NATSURLs, streamStall: o.StreamStall, subscriberRevoked: o.SubscriberRevoked,
		commandTimeout: cmp.Or(o.CommandTimeout, DefaultCommandTimeout),
		responses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ledger_http_responses_total",
			Help: "HTTP responses by status code.",
		}, []string{"code"}),
		durations: newDurations(),
	}
	if a.logger == nil {
		a.logger = slog.Default()
	}
	if a.streamStall <= 0 {
		a.streamStall = DefaultStreamStall
	}
	a.limits = newLimits(o.perAccountRates(), orDefault(o.MaxInFlight, DefaultMaxInFlight), o.Now)
	if o.Registerer != nil {
		o.Registerer.MustRegister(a.responses, a.durations)
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
	a.handle("GET /v1/keys/events", auth.Public, a.eventKey)
	a.handle("GET /v1/keys/checkout", auth.Public, a.checkoutKey)
	a.handle("GET /v1/schemas", auth.Public, a.schemaList)
	a.handle("GET /v1/schemas/envelope", auth.Public, a.envelopeSchema)
	a.handle("GET /v1/schemas/{type}/{version}", auth.Public, a.typeSchema)
	a.handle("GET /v1/openapi.json", auth.Public, a.openAPIDocument())
	a.handle("POST /v1/accounts", auth.Vendor, a.createAccount)
	a.handle("GET /v1/accounts", auth.Read, a.listAccounts)
	a.handle("GET /v1/accounts/{account}", auth.Read, a.getAccount)
	a.handle("GET /v1/accounts/{account}/history", auth.Read, a.accountHistory)
	a.handle("POST /v1/accounts/{account}/users", auth.Manage, a.registerUser)
	a.handle("GET /v1/accounts/{account}/users", auth.Read, a.listUsers)
	a.handle("GET /v1/accounts/{account}/users/{email}", auth.Read, a.getUser)
	a.handle("PATCH /v1/accounts/{account}/users/{email}", auth.Manage, a.patchUser)
	a.handle("DELETE /v1/accounts/{account}/users/{email}", auth.Manage, a.removeUser)
	a.handle("GET /v1/accounts/{account}/users/{email}/history", auth.Read, a.userHistory)
	a.handle("POST /v1/accounts/{account}/licenses", auth.Vendor, a.createLicense)
	a.handle("GET /v1/accounts/{account}/licenses", auth.Read, a.listLicenses)
	a.handle("GET /v1/accounts/{account}/licenses/{id}", auth.Read, a.getLicense)
	a.handle("GET /v1/accounts/{account}/licenses/{id}/history", auth.Read, a.licenseHistory)
	a.handle("POST /v1/accounts/{account}/licenses/{id}/renew", auth.Vendor, a.renewLicense)
	a.handle("POST /v1/accounts/{account}/licenses/{id}/cancel", auth.Vendor, a.cancelLicense)
	a.handle("POST /v1/accounts/{account}/licenses/{id}/assign", auth.Manage, a.assign)
	a.handle("POST /v1/accounts/{account}/licenses/{id}/reassign", auth.Manage, a.reassign)
	a.handle("POST /v1/accounts/{account}/licenses/{id}/unassign", auth.Manage, a.unassign)
	a.handle("POST /v1/accounts/{account}/licenses/{id}/checkout", auth.Ingest, a.checkout)
	a.handle("POST /v1/accounts/{account}/licenses/{id}/checkin", auth.Ingest, a.checkin)
	a.handle("GET /v1/accounts/{account}/reminders", auth.Read, a.reminders)
	a.handle("POST /v1/accounts/{account}/usage", auth.Ingest, a.recordUsage)
	a.handle("GET /v1/accounts/{account}/usage/summary", auth.Read, a.usageSummary)
	a.handle("POST /v1/accounts/{account}/usage/void", auth.Vendor, a.voidUsage)
	a.handle("PUT /v1/accounts/{account}/access/{product}", auth.Manage, a.setAccess)
	a.handle("GET /v1/accounts/{account}/access/{product}", auth.Read, a.getAccess)
	a.handle("POST /v1/accounts/{account}/checks", auth.Ingest, a.check)
	a.handle("GET /v1/accounts/{account}/qtl", auth.Read, a.qtl)
	a.handle("GET /v1/accounts/{account}/qtl/advice", auth.Read, a.qtlAdvice)
	a.handle("GET /v1/qtl", auth.ReadAll, a.qtlAll)
	a.handle("GET /v1/integrity", auth.Read, a.integrity)
	a.handle("GET /v1/accounts/{account}/peaks", auth.Read, a.peaks)
	a.handle("GET /v1/accounts/{account}/usage/export", auth.Read, a.usageExport)
	a.handle("GET /v1/accounts/{account}/thresholds", auth.Read, a.thresholds)
	a.handle("GET /v1/accounts/{account}/alerts", auth.Read, a.alerts)
	a.handle("PUT /v1/accounts/{account}/thresholds/{product}", auth.Manage, a.setThreshold)
	a.handle("DELETE /v1/accounts/{account}/thresholds/{product}", auth.Manage, a.clearThreshold)
	a.handle("PUT /v1/accounts/{account}/domains/{domain}", auth.Vendor, a.claimDomain)
	a.handle("DELETE /v1/accounts/{account}/domains/{domain}", auth.Vendor, a.releaseDomain)
	a.handle("GET /v1/accounts/{account}/domains/{domain}", auth.Read, a.getDomain)
	a.handle("GET /v1/accounts/{account}/peaks/{product}/{interval_start}", auth.Read, a.peakEvidence)
	a.handle("POST /v1/tokens", auth.Vendor, a.createToken)
	a.handle("GET /v1/tokens", auth.ReadAll, a.listTokens)
	a.handle("DELETE /v1/tokens/{id}", auth.Vendor, a.revokeToken)
	a.handle("POST /v1/subscribers", auth.Vendor, a.createReadAllSubscriber)
	a.handle("POST /v1/accounts/{account}/subscribers", auth.Manage, a.createSubscriber)
	a.handle("GET /v1/accounts/{account}/subscribers", auth.Manage, a.listSubscribers)
	a.handle("DELETE /v1/accounts/{account}/subscribers/{name}", auth.Manage, a.revokeSubscriber)
	a.handle("POST /v1/accounts/{account}/sessions", auth.Ingest, a.signIn)
	a.handle("POST /v1/accounts/{account}/sessions/{email}/heartbeat", auth.Ingest, a.heartbeat)
	a.handle("DELETE /v1/accounts/{account}/sessions/{email}", auth.Ingest, a.signOut)
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
	start := time.Now()
	defer func() {
		p := recover()
		if p != nil && p != http.ErrAbortHandler {
			a.logger.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", p)
			if sw.status == 0 {
				writeError(sw, r, a.logger, fmt.Errorf("panic: %v", p))
			}
		}
		a.responses.WithLabelValues(strconv.Itoa(sw.status)).Inc()
		a.observeDuration(r, start)
		if p == http.ErrAbortHandler {
			panic(p) // an answer cut on purpose (ndjson): the server closes the connection
		}
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

// Route is one endpoint of the API and the access it asks of a token.
type Route struct {
	Method, Path string
	Access       auth.Access
}

// Routes lists every endpoint but the unauthenticated probes (/healthz,
// /readyz, /metrics), in the order they were registered: the role × route
// table of docs/api.md, and of the test that tries every cell of it.
func (a *API) Routes() []Route { return append([]Route(nil), a.table...) }

// handle registers h on pattern behind the checks every request passes, in
// one order (S2): the token (401), the account's scope (404), the role
// (403); the handler then checks the body.
func (a *API) handle(pattern string, access auth.Access, h func(http.ResponseWriter, *http.Request) error) {
	method, path, _ := strings.Cut(pattern, " ")
	if _, known := a.pathSet[path]; !known {
		a.pathSet[path] = struct{}{}
		a.paths.HandleFunc(path, http.NotFound)
	}
	a.table = append(a.table, Route{Method: method, Path: path, Access: access})
	a.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			ctx, cancel := context.WithTimeout(r.Context(), a.commandTimeout)
			defer cancel()
			r = r.WithContext(ctx)
		}
		r, err := a.admit(r, access)
		if err == nil && access != auth.Public {
			var leave func()
			if leave, err = a.limits.enter(principal(r).ID, r.PathValue("account")); err == nil {
				defer leave()
			}
		}
		if err == nil {
			err = h(w, r)
		}
		if err != nil {
			writeError(w, r, a.logger, err)
		}
	})
}

// readyz answers whether the ledger is ready, and notes the events' breaks
// (H3) without failing for them: the ledger serves what it applied and
// refused only what failed its checks. Anyone may read /readyz, so the note
// says how many and where the first is, never its subject.
func (a *API) readyz(w http.ResponseWriter, r *http.Request) {
	status, body := http.StatusOK, map[string]string{"status": "ready"}
	if a.ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := a.ready(ctx); err != nil {
			status, body = http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": err.Error()}
		}
	}
	if note := a.l.IntegrityNote(); note != "" {
		body["integrity"] = note
	}
	writeJSON(w, status, body)
}
