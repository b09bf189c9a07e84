package console

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/entledger/ledger/commands"
)

// DefaultIdleTimeout is how long a sign-in session lasts without a request.
const DefaultIdleTimeout = 12 * time.Hour

// Log keys.
const (
	logKeyMethod = "method"
	logKeyPath   = "path"
	logKeyErr    = "err"
)

// Options configure New. Every field is optional.
type Options struct {
	// Now is the ledger's clock: countdowns and "assignable now" are shown
	// against it. It defaults to time.Now.
	Now func() time.Time
	// Clock times the sign-in sessions' idle time and lifetime; it
	// defaults to time.Now. It is not Now: a ledger's clock may be moved
	// (a test moves it by days), and a session must not end because
	// business time did.
	Clock       func() time.Time
	IdleTimeout time.Duration // 0 means DefaultIdleTimeout
	// SessionLifetime is how long a session lasts from its sign-in however
	// busy it is; 0 means DefaultSessionLifetime.
	SessionLifetime time.Duration
	// MaxSessions bounds the sessions held at once (0 means
	// DefaultMaxSessions); MaxSessionsPerToken bounds one token's (0 means
	// DefaultMaxSessionsPerToken).
	MaxSessions, MaxSessionsPerToken int
	// TokenFile is where the sign-in page tells a person to find a token,
	// e.g. DATA/admin.token.
	TokenFile string
	Logger    *slog.Logger // defaults to slog.Default()
}

// Console serves the console's pages (see the package documentation).
type Console struct {
	api       http.Handler
	now       func() time.Time
	logger    *slog.Logger
	tokenFile string
	sessions  *sessions
	mux       *http.ServeMux
}

// New returns the console of the HTTP API served by api.
func New(api http.Handler, o Options) *Console {
	c := &Console{api: api, now: o.Now, logger: o.Logger, tokenFile: o.TokenFile}
	if c.now == nil {
		c.now = time.Now
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	clock := o.Clock
	if clock == nil {
		clock = time.Now
	}
	limits := sessionLimits{idle: o.IdleTimeout, lifetime: o.SessionLifetime, max: o.MaxSessions, perToken: o.MaxSessionsPerToken}
	if limits.idle <= 0 {
		limits.idle = DefaultIdleTimeout
	}
	if limits.lifetime <= 0 {
		limits.lifetime = DefaultSessionLifetime
	}
	if limits.max <= 0 {
		limits.max = DefaultMaxSessions
	}
	if limits.perToken <= 0 {
		limits.perToken = DefaultMaxSessionsPerToken
	}
	c.sessions = newSessions(clock, limits)
	c.routes()
	return c
}

// Owns reports whether a request path is the console's: / and the paths
// below /accounts/, /assets/, /sign-in and /sign-out. Every other path
// (/v1/…, /healthz, /readyz, /metrics, and whatever no one serves) is the
// API's, answered as the API answers it.
func Owns(path string) bool {
	switch path {
	case "/", "/sign-in", "/sign-out", "/accounts":
		return true
	}
	return strings.HasPrefix(path, "/accounts/") || strings.HasPrefix(path, "/assets/")
}

func (c *Console) routes() {
	c.mux = http.NewServeMux()
	c.mux.HandleFunc("GET /assets/{name}", serveAsset)
	c.mux.HandleFunc("GET /sign-in", c.signInPage)
	c.mux.HandleFunc("POST /sign-in", c.signIn)
	c.mux.HandleFunc("POST /sign-out", c.form(c.signOut))
	c.mux.HandleFunc("GET /{$}", c.page(c.accountsPage))
	c.mux.HandleFunc("GET /accounts", c.page(c.accountsPage))
	c.mux.HandleFunc("GET /accounts/{account}", c.page(c.accountPage))
	c.mux.HandleFunc("GET /accounts/{account}/licenses", c.page(c.licencesPage))
	c.mux.HandleFunc("GET /accounts/{account}/licenses/{id}", c.page(c.licencePage))
	c.mux.HandleFunc("POST /accounts/{account}/licenses/{id}/{action}", c.form(c.licenceAction))
	c.mux.HandleFunc("GET /accounts/{account}/users", c.page(c.usersPage))
	c.mux.HandleFunc("POST /accounts/{account}/users", c.form(c.addUser))
	c.mux.HandleFunc("GET /accounts/{account}/users/{email}", c.page(c.userPage))
	c.mux.HandleFunc("POST /accounts/{account}/users/{email}/{action}", c.form(c.userAction))
	c.mux.HandleFunc("GET /accounts/{account}/billing", c.page(c.billingPage))
	c.mux.HandleFunc("POST /accounts/{account}/thresholds", c.form(c.setThreshold))
	c.mux.HandleFunc("POST /accounts/{account}/thresholds/{product}/clear", c.form(c.clearThreshold))
	c.mux.HandleFunc("GET /accounts/{account}/audit", c.page(c.auditPage))
	c.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		c.renderProblem(w, r, http.StatusNotFound, "There is no such page.", "")
	})
}

// ServeHTTP serves a console request with the headers every answer
// carries. A path with a dot or empty segment is refused, not cleaned and
// redirected, as the API refuses it.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	if r.TLS != nil {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	if uncleanPath(r.URL.Path) {
		c.renderProblem(w, r, http.StatusBadRequest, "This address has a dot or an empty segment in its path; "+
			"follow a link of the console instead.", "")
		return
	}
	c.mux.ServeHTTP(w, r)
}

// uncleanPath reports a decoded path with a "." or ".." segment or an
// empty one ("//").
func uncleanPath(decoded string) bool {
	segments := strings.Split(strings.TrimPrefix(decoded, "/"), "/")
	for i, seg := range segments {
		if seg == "." || seg == ".." || (seg == "" && i < len(segments)-1) {
			return true
		}
	}
	return false
}

// handler is a page or form handler of a signed-in session.
type handler func(w http.ResponseWriter, r *http.Request, s session) error

// page serves GET requests of a signed-in session; without one, it sends
// the browser to sign in and back.
func (c *Console) page(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, ok := c.sessionOf(r)
		if !ok {
			target := "/sign-in"
			if r.URL.Path != "/" {
				target += "?next=" + url.QueryEscape(r.URL.RequestURI())
			}
			http.Redirect(w, r, target, http.StatusSeeOther)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		if err := h(w, r, s); err != nil {
			c.fail(w, r, s, err)
		}
	}
}

// form serves POST requests of a signed-in session that carry its CSRF
// token; anything else is refused 403 before the API is called.
func (c *Console) form(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		s, ok := c.sessionOf(r)
		if !ok {
			c.renderProblem(w, r, http.StatusForbidden, "You are not signed in (or your session ended): nothing was changed. "+
				"Sign in and try again.", "")
			return
		}
		if !sameOrigin(r) || !s.csrfMatches(r.PostFormValue(csrfField)) {
			c.renderProblem(w, r, http.StatusForbidden, "This form was refused: it did not carry this session's "+
				"security token (a form from another site, or from an earlier session). Nothing was changed; "+
				"reload the page and send it again.", "")
			return
		}
		if err := h(w, r, s); err != nil {
			c.fail(w, r, s, err)
		}
	}
}

// maxFormBytes bounds a form's body.
const maxFormBytes = 64 << 10

// sameOrigin refuses what a browser says came from elsewhere:
// Sec-Fetch-Site cross-site or same-site, or an Origin naming another
// host. (With Referrer-Policy no-referrer a browser sends "Origin: null"
// on its own forms, which says nothing.) The CSRF token is the defence;
// this is a second one that costs nothing.
func sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "cross-site", "same-site":
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" || origin == "null" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}

// fail answers a handler's error: a token the API no longer accepts ends
// the session and sends the browser to sign in; any other answer of the
// API is shown in words with its status; anything else is a bug, logged
// and shown as such.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, s session, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		c.logger.Error("console request failed", logKeyMethod, r.Method, logKeyPath, r.URL.Path, logKeyErr, err)
		c.renderProblem(w, r, http.StatusInternalServerError, "Something went wrong in the console; it has been logged.", "")
		return
	}
	if ae.Status == http.StatusUnauthorized {
		c.endSession(w, r, s)
		http.Redirect(w, r, "/sign-in?ended=1", http.StatusSeeOther)
		return
	}
	c.renderProblemIn(w, r, s, ae.Status, explain(ae), accountOf(r, ae))
}

// accountOf is the account a failed request's page belongs to, for its
// navigation: none when the account itself was not found, so that the
// answer for another account's page is the same as for an account that
// does not exist (S2).
func accountOf(r *http.Request, ae *apiError) string {
	if ae.Code == commands.CodeAccountNotFound {
		return ""
	}
	return r.PathValue("account")
}
