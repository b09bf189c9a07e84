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
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
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
	a.handle("GET /v1/accounts/{account}/reminders", a.reminders)
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

// request is a decoded mutating request: its body and its command metadata.
type request struct {
	body []byte
	meta Meta
}

// readCommand reads the body (at most MaxBodyBytes) into v strictly and
// derives the command's metadata. An empty body is allowed when v's fields
// are all optional (emptyOK).
func readCommand(w http.ResponseWriter, r *http.Request, v any, emptyOK bool) (request, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return request{}, commands.Reject(commands.CodeBodyTooLarge, "the request body is larger than %d bytes", MaxBodyBytes).
				With("limit", MaxBodyBytes)
		}
		return request{}, commands.Reject(commands.CodeMalformedJSON, "reading the request body: %v", err)
	}
	if len(bytes.TrimSpace(body)) == 0 && emptyOK {
		body = []byte("{}")
	}
	if err := decodeStrict(body, v); err != nil {
		return request{}, err
	}
	meta, err := commandMeta(r, body)
	return request{body: body, meta: meta}, err
}

// decodeStrict decodes one JSON object into v, rejecting unknown fields and
// trailing data with errors that name the field.
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		var syntaxErr *json.SyntaxError
		switch {
		case errors.As(err, &typeErr):
			field := typeErr.Field
			if field == "" {
				return commands.Reject(commands.CodeMalformedJSON, "the body must be a JSON object")
			}
			return commands.Invalid(field, "want a JSON %s", jsonKind(typeErr.Type.Kind().String()))
		case errors.As(err, &syntaxErr):
			return commands.Reject(commands.CodeMalformedJSON, "invalid JSON at byte %d: %v", syntaxErr.Offset, syntaxErr)
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			return commands.Reject(commands.CodeMalformedJSON, "the body is empty or truncated; want a JSON object")
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return commands.Invalid(field, "unknown field")
		}
		return commands.Reject(commands.CodeMalformedJSON, "invalid JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return commands.Reject(commands.CodeMalformedJSON, "trailing data after the JSON object")
	}
	return nil
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

// eventKey answers the public key that verifies every event's
// Ledger-Signature header, for auditors and subscribers.
func (a *API) eventKey(w http.ResponseWriter, r *http.Request) error {
	if a.l.signer == nil {
		return commands.Reject(commands.CodeNotFound, "this ledger does not sign its events")
	}
	pub := a.l.signer.Public()
	writeJSON(w, http.StatusOK, map[string]string{
		"algorithm": "Ed25519", "key_id": events.KeyID(pub), "header": events.SignatureHeader,
		"signed": "subject + \"\\n\" + event bytes", "public_key_pem": string(events.PublicKeyPEM(pub)),
	})
	return nil
}

func (a *API) createAccount(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		ID                 string `json:"id"`
		Name               string `json:"name"`
		FulfillmentContact string `json:"fulfillment_contact"`
		At                 string `json:"at"`
	}
	req, err := readCommand(w, r, &body, false)
	if err != nil {
		return err
	}
	at, err := parseTime("at", body.At)
	if err != nil {
		return err
	}
	res, err := a.l.CreateAccount(r.Context(), req.meta, commands.CreateAccount{
		ID: body.ID, Name: body.Name, FulfillmentContact: body.FulfillmentContact, At: at})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, accountView(res.State))
	return nil
}

func (a *API) getAccount(w http.ResponseWriter, r *http.Request) error {
	acct, err := a.l.Account(r.PathValue("account"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, accountView(acct))
	return nil
}

func (a *API) registerUser(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Email              string `json:"email"`
		EntitlementCountry string `json:"entitlement_country"`
		At                 string `json:"at"`
	}
	req, err := readCommand(w, r, &body, false)
	if err != nil {
		return err
	}
	at, err := parseTime("at", body.At)
	if err != nil {
		return err
	}
	res, err := a.l.RegisterUser(r.Context(), req.meta, commands.RegisterUser{
		Account: r.PathValue("account"), Email: body.Email, EntitlementCountry: body.EntitlementCountry, At: at})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, userView(res.State))
	return nil
}

func (a *API) getUser(w http.ResponseWriter, r *http.Request) error {
	u, err := a.l.User(r.PathValue("account"), r.PathValue("email"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, userView(u))
	return nil
}

func (a *API) patchUser(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		EntitlementCountry *string `json:"entitlement_country"`
		At                 string  `json:"at"`
	}
	req, err := readCommand(w, r, &body, false)
	if err != nil {
		return err
	}
	if body.EntitlementCountry == nil {
		return commands.Invalid("entitlement_country", "required")
	}
	at, err := parseTime("at", body.At)
	if err != nil {
		return err
	}
	account := r.PathValue("account")
	if _, err := a.l.Account(account); err != nil {
		return err
	}
	res, err := a.l.ChangeUserCountry(r.Context(), req.meta, commands.ChangeUserCountry{
		Account: account, Email: r.PathValue("email"), EntitlementCountry: *body.EntitlementCountry, At: at})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, userView(res.State))
	return nil
}

func (a *API) removeUser(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		At string `json:"at"`
	}
	req, err := readCommand(w, r, &body, true)
	if err != nil {
		return err
	}
	at, err := parseTime("at", body.At)
	if err != nil {
		return err
	}
	account := r.PathValue("account")
	if _, err := a.l.Account(account); err != nil {
		return err
	}
	if _, err := a.l.RemoveUser(r.Context(), req.meta, commands.RemoveUser{
		Account: account, Email: r.PathValue("email"), At: at}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) createLicense(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		ID         string   `json:"id"`
		Kind       string   `json:"kind"`
		Products   []string `json:"products"`
		Seats      int      `json:"seats"`
		ValidFrom  string   `json:"valid_from"`
		ValidUntil string   `json:"valid_until"`
		At         string   `json:"at"`
	}
	req, err := readCommand(w, r, &body, false)
	if err != nil {
		return err
	}
	c := commands.CreateLicense{Account: r.PathValue("account"), ID: body.ID, Kind: body.Kind,
		Products: body.Products, Seats: body.Seats}
	if c.ValidFrom, err = requiredTime("valid_from", body.ValidFrom); err != nil {
		return err
	}
	if c.ValidUntil, err = requiredTime("valid_until", body.ValidUntil); err != nil {
		return err
	}
	if c.At, err = parseTime("at", body.At); err != nil {
		return err
	}
	res, err := a.l.CreateLicense(r.Context(), req.meta, c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, licenseView(res.State, res.DecidedAt))
	return nil
}

func (a *API) getLicense(w http.ResponseWriter, r *http.Request) error {
	if r.URL.Query().Has("as_of") {
		return commands.Invalid("as_of", "as_of is not supported yet; read the licence's history instead")
	}
	lic, err := a.l.License(r.PathValue("account"), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, licenseView(lic, a.l.Now()))
	return nil
}

func (a *API) renewLicense(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		ValidUntil string `json:"valid_until"`
		At         string `json:"at"`
	}
	req, err := readCommand(w, r, &body, false)
	if err != nil {
		return err
	}
	c := commands.RenewLicense{Account: r.PathValue("account"), ID: r.PathValue("id")}
	if c.ValidUntil, err = requiredTime("valid_until", body.ValidUntil); err != nil {
		return err
	}
	if c.At, err = parseTime("at", body.At); err != nil {
		return err
	}
	return a.licenseCommand(w, r, func() (Result[commands.License], error) { return a.l.RenewLicense(r.Context(), req.meta, c) })
}

// emailAt is the body of assign and reassign.
type emailAt struct {
	Email string `json:"email"`
	At    string `json:"at"`
}

func (a *API) assign(w http.ResponseWriter, r *http.Request) error {
	var body emailAt
	req, err := readCommand(w, r, &body, false)
	if err != nil {
		return err
	}
	at, err := parseTime("at", body.At)
	if err != nil {
		return err
	}
	c := commands.Assign{Account: r.PathValue("account"), LicenseID: r.PathValue("id"), Email: body.Email, At: at}
	return a.licenseCommand(w, r, func() (Result[commands.License], error) { return a.l.Assign(r.Context(), req.meta, c) })
}

func (a *API) reassign(w http.ResponseWriter, r *http.Request) error {
	var body emailAt
	req, err := readCommand(w, r, &body, false)
	if err != nil {
		return err
	}
	at, err := parseTime("at", body.At)
	if err != nil {
		return err
	}
	c := commands.Reassign{Account: r.PathValue("account"), LicenseID: r.PathValue("id"), Email: body.Email, At: at}
	return a.licenseCommand(w, r, func() (Result[commands.License], error) { return a.l.Reassign(r.Context(), req.meta, c) })
}

func (a *API) unassign(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		At string `json:"at"`
	}
	req, err := readCommand(w, r, &body, true)
	if err != nil {
		return err
	}
	at, err := parseTime("at", body.At)
	if err != nil {
		return err
	}
	c := commands.Unassign{Account: r.PathValue("account"), LicenseID: r.PathValue("id"), At: at}
	return a.licenseCommand(w, r, func() (Result[commands.License], error) { return a.l.Unassign(r.Context(), req.meta, c) })
}

// licenseCommand checks the account exists (so an unknown account is a 404,
// not a rule rejection), runs the command and answers with the licence.
// Time-dependent fields are as of when the command was decided, so a replay
// answers exactly as the first time.
func (a *API) licenseCommand(w http.ResponseWriter, r *http.Request, run func() (Result[commands.License], error)) error {
	if _, err := a.l.Account(r.PathValue("account")); err != nil {
		return err
	}
	res, err := run()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, licenseView(res.State, res.DecidedAt))
	return nil
}

func (a *API) reminders(w http.ResponseWriter, r *http.Request) error {
	rs, err := a.l.Reminders(r.PathValue("account"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"unassigned": rs})
	return nil
}

func (a *API) accountHistory(w http.ResponseWriter, r *http.Request) error {
	account := r.PathValue("account")
	if _, err := a.l.Account(account); err != nil {
		return err
	}
	return a.writeHistory(w, account, events.AggregateAccount, account)
}

// userHistory answers a user's events, including those of a removed user:
// auditors need the history of people who left.
func (a *API) userHistory(w http.ResponseWriter, r *http.Request) error {
	account := r.PathValue("account")
	if _, err := a.l.Account(account); err != nil {
		return err
	}
	email, err := commands.NormalizeEmail("email", r.PathValue("email"))
	if err != nil {
		return err
	}
	return a.writeHistory(w, account, events.AggregateUser, email)
}

func (a *API) licenseHistory(w http.ResponseWriter, r *http.Request) error {
	lic, err := a.l.License(r.PathValue("account"), r.PathValue("id"))
	if err != nil {
		return err
	}
	return a.writeHistory(w, lic.Account, events.AggregateLicense, lic.ID)
}

// writeHistory answers {events: [...]} with the aggregate's events exactly
// as stored, in order (H4); an aggregate without events is not found.
func (a *API) writeHistory(w http.ResponseWriter, account, aggregate, id string) error {
	hist, err := a.l.History(account, aggregate, id)
	if err != nil {
		return err
	}
	if len(hist) == 0 {
		return commands.Reject(commands.CodeUserNotFound, "%s was never a user of account %q", id, account).
			With("email", id)
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": hist})
	return nil
}
