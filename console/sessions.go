package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"sync"
	"time"
)

// Session limits, the defaults of Options.
const (
	// DefaultMaxSessions bounds the sessions held at once. When they are
	// all live a sign-in is refused: nobody is signed out to make room.
	DefaultMaxSessions = 10_000
	// DefaultMaxSessionsPerToken bounds one token's sessions; signing in
	// beyond it ends that token's oldest session, and no other token's.
	DefaultMaxSessionsPerToken = 20
	// DefaultSessionLifetime is how long a session lasts from its sign-in,
	// however busy it is.
	DefaultSessionLifetime = 24 * time.Hour
)

// errSessionsFull is create's answer when the store holds as many live
// sessions as it may.
var errSessionsFull = errors.New("console: the session store is full")

// csrfField is the name of every form's hidden CSRF field.
const csrfField = "csrf"

// session is a copy of one signed-in session, as a request sees it.
type session struct {
	id    string
	token string // the API token; never in a URL, a log line or a page
	csrf  string // the token every form of the session carries
	// everyAccount: the token reaches every account (an admin's, an
	// auditor's of every account), as the API told at sign-in.
	everyAccount bool
}

// csrfMatches reports, in constant time, whether got is the session's CSRF
// token.
func (s session) csrfMatches(got string) bool {
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.csrf)) == 1
}

// flash is a one-time note shown on the next page of a session: what a
// form did.
type flash struct {
	Text  string
	Error bool
}

// storedSession is a session in the store.
type storedSession struct {
	session
	created, lastSeen time.Time
	flash             flash
}

// sessionLimits are the store's bounds.
type sessionLimits struct {
	idle, lifetime time.Duration
	max, perToken  int
}

// sessions holds the signed-in sessions in memory.
type sessions struct {
	now    func() time.Time
	limits sessionLimits
	mu     struct {
		sync.Mutex
		// Guarded by mu; pruned of expired sessions as sessions are made.
		byID    map[string]*storedSession
		byToken map[string]map[string]*storedSession // token, then session id
	}
}

func newSessions(now func() time.Time, limits sessionLimits) *sessions {
	s := &sessions{now: now, limits: limits}
	s.mu.byID = map[string]*storedSession{}
	s.mu.byToken = map[string]map[string]*storedSession{}
	return s
}

// randomToken is 256 random bits, base64url.
func randomToken() string {
	var b [32]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// create makes a session holding an API token. The session replacing (""
// for none) ends: the browser signing in again had it. A token over its
// share loses its own oldest session; a full store refuses
// (errSessionsFull) rather than end anyone's.
func (s *sessions) create(token string, everyAccount bool, replacing string) (session, error) {
	now := s.now()
	ss := &storedSession{session: session{id: randomToken(), token: token, csrf: randomToken(), everyAccount: everyAccount},
		created: now, lastSeen: now}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pruneLocked(now)
	if replacing != "" {
		s.removeLocked(replacing)
	}
	if own := s.mu.byToken[token]; len(own) >= s.limits.perToken {
		var oldest *storedSession
		for _, o := range own {
			if oldest == nil || o.created.Before(oldest.created) {
				oldest = o
			}
		}
		s.removeLocked(oldest.id)
	}
	if len(s.mu.byID) >= s.limits.max {
		return session{}, errSessionsFull
	}
	s.mu.byID[ss.id] = ss
	own := s.mu.byToken[token]
	if own == nil {
		own = map[string]*storedSession{}
		s.mu.byToken[token] = own
	}
	own[ss.id] = ss
	return ss.session, nil
}

// expired reports whether ss has ended by time at now: idle too long, or
// older than the lifetime.
func (s *sessions) expired(ss *storedSession, now time.Time) bool {
	return now.Sub(ss.lastSeen) >= s.limits.idle || now.Sub(ss.created) >= s.limits.lifetime
}

// pruneLocked drops the expired sessions. s.mu must be held.
func (s *sessions) pruneLocked(now time.Time) {
	for id, ss := range s.mu.byID {
		if s.expired(ss, now) {
			s.removeLocked(id)
		}
	}
}

// removeLocked drops a session, if it is there. s.mu must be held.
func (s *sessions) removeLocked(id string) {
	ss, ok := s.mu.byID[id]
	if !ok {
		return
	}
	delete(s.mu.byID, id)
	if own := s.mu.byToken[ss.token]; own != nil {
		delete(own, id)
		if len(own) == 0 {
			delete(s.mu.byToken, ss.token)
		}
	}
}

// lookup finds a live session and marks it seen; an expired one is ended.
func (s *sessions) lookup(id string) (session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.mu.byID[id]
	if !ok {
		return session{}, false
	}
	now := s.now()
	if s.expired(ss, now) {
		s.removeLocked(id)
		return session{}, false
	}
	ss.lastSeen = now
	return ss.session, true
}

// end ends a session; ending one that is gone is fine.
func (s *sessions) end(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.removeLocked(id)
}

// setFlash keeps a note for the session's next page.
func (s *sessions) setFlash(id string, f flash) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ss, ok := s.mu.byID[id]; ok {
		ss.flash = f
	}
}

// takeFlash returns the session's note, once.
func (s *sessions) takeFlash(id string) flash {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.mu.byID[id]
	if !ok {
		return flash{}
	}
	f := ss.flash
	ss.flash = flash{}
	return f
}

// Cookies. Over TLS they take the __Host- prefix, which a browser accepts
// only with Secure, Path=/ and no Domain: no other host can set them.
const (
	sessionCookie = "ledger_session"
	signInCookie  = "ledger_signin" // the sign-in form's CSRF token, before there is a session
)

func cookieName(r *http.Request, name string) string {
	if r.TLS != nil {
		return "__Host-" + name
	}
	return name
}

// setCookie sets a cookie the page's script cannot read and another site
// cannot send; maxAge 0 makes it last the browser's session, < 0 deletes
// it.
func setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: cookieName(r, name), Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
}

// sessionOf is the live session whose id the request's cookie carries.
func (c *Console) sessionOf(r *http.Request) (session, bool) {
	ck, err := r.Cookie(cookieName(r, sessionCookie))
	if err != nil || ck.Value == "" {
		return session{}, false
	}
	return c.sessions.lookup(ck.Value)
}

// endSession ends s and deletes its cookie.
func (c *Console) endSession(w http.ResponseWriter, r *http.Request, s session) {
	c.sessions.end(s.id)
	setCookie(w, r, sessionCookie, "", -1)
}

// note keeps a flash for s's next page.
func (c *Console) note(s session, text string, isError bool) {
	c.sessions.setFlash(s.id, flash{Text: text, Error: isError})
}
