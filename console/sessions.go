package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"sync"
	"time"
)

// maxSessions bounds the sessions held at once; signing in beyond it ends
// the session idle the longest.
const maxSessions = 10_000

// csrfField is the name of every form's hidden CSRF field.
const csrfField = "csrf"

// session is a copy of one signed-in session, as a request sees it.
type session struct {
	id    string
	token string // the API token; never in a URL, a log line or a page
	csrf  string // the token every form of the session carries
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
	lastSeen time.Time
	flash    flash
}

// sessions holds the signed-in sessions in memory.
type sessions struct {
	now  func() time.Time
	idle time.Duration
	mu   struct {
		sync.Mutex
		byID map[string]*storedSession // guarded by mu; pruned of idle sessions as sessions are made
	}
}

func newSessions(now func() time.Time, idle time.Duration) *sessions {
	s := &sessions{now: now, idle: idle}
	s.mu.byID = map[string]*storedSession{}
	return s
}

// randomToken is 256 random bits, base64url.
func randomToken() string {
	var b [32]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// create makes a session holding an API token.
func (s *sessions) create(token string) session {
	ss := &storedSession{session: session{id: randomToken(), token: token, csrf: randomToken()}, lastSeen: s.now()}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pruneLocked()
	if len(s.mu.byID) >= maxSessions {
		var oldest *storedSession
		for _, o := range s.mu.byID {
			if oldest == nil || o.lastSeen.Before(oldest.lastSeen) {
				oldest = o
			}
		}
		delete(s.mu.byID, oldest.id)
	}
	s.mu.byID[ss.id] = ss
	return ss.session
}

// pruneLocked drops the idle sessions. s.mu must be held.
func (s *sessions) pruneLocked() {
	now := s.now()
	for id, ss := range s.mu.byID {
		if now.Sub(ss.lastSeen) >= s.idle {
			delete(s.mu.byID, id)
		}
	}
}

// lookup finds a live session and marks it seen; an idle one is ended.
func (s *sessions) lookup(id string) (session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.mu.byID[id]
	if !ok {
		return session{}, false
	}
	now := s.now()
	if now.Sub(ss.lastSeen) >= s.idle {
		delete(s.mu.byID, id)
		return session{}, false
	}
	ss.lastSeen = now
	return ss.session, true
}

// end ends a session; ending one that is gone is fine.
func (s *sessions) end(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.mu.byID, id)
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
