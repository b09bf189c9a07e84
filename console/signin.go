package console

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/entledger/ledger/api"
	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/ledger"
)

// signInPageData is the sign-in form.
type signInPageData struct {
	frame
	SignInCSRF string
	Next       string
	Problem    string
	Ended      bool
}

// signInPage shows the sign-in form. Its CSRF token is a random value in
// a cookie and in the form (double submit): there is no session yet.
func (c *Console) signInPage(w http.ResponseWriter, r *http.Request) {
	if _, ok := c.sessionOf(r); ok {
		redirect(w, r, localNext(r.URL.Query().Get("next")))
		return
	}
	c.showSignIn(w, r, http.StatusOK, "")
}

func (c *Console) showSignIn(w http.ResponseWriter, r *http.Request, status int, problem string) {
	csrf := randomToken()
	setCookie(w, r, signInCookie, csrf, 3600)
	next := r.URL.Query().Get("next")
	if r.Method == http.MethodPost {
		next = r.PostFormValue("next")
	}
	c.render(w, r, status, "signin.html", signInPageData{
		frame:      frame{Title: "Sign in", Now: c.now().UTC(), TokenFile: c.tokenFile},
		SignInCSRF: csrf, Next: localNext(next), Problem: problem, Ended: r.URL.Query().Get("ended") != ""})
}

// localNext is where to go after signing in: a path of this console, or
// its first page. Anything else (another site, //host, /\host, a path
// with a dot segment) is ignored.
func localNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Host != "" || u.Scheme != "" || !Owns(u.Path) || uncleanPath(u.Path) {
		return "/"
	}
	return u.RequestURI()
}

// signIn checks a token against the API and starts a session for it.
func (c *Console) signIn(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	ck, err := r.Cookie(cookieName(r, signInCookie))
	got := r.PostFormValue(csrfField)
	if err != nil || got == "" || !sameOrigin(r) || subtle.ConstantTimeCompare([]byte(got), []byte(ck.Value)) != 1 {
		c.showSignIn(w, r, http.StatusForbidden, "The sign-in form was refused: it did not carry its security token "+
			"(it came from another site, or the page was too old). Sign in again here.")
		return
	}
	token := strings.TrimSpace(r.PostFormValue("token"))
	if token == "" {
		c.showSignIn(w, r, http.StatusBadRequest, "Enter a token.")
		return
	}
	// Any read proves the token: the accounts it reaches.
	var page struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
		NextCursor *string `json:"next_cursor"`
	}
	err = c.get(r.Context(), session{token: token}, withQuery(apiPath("accounts"), url.Values{"limit": {"2"}}), &page)
	var ae *apiError
	switch {
	case errors.As(err, &ae) && ae.Status == http.StatusUnauthorized:
		c.showSignIn(w, r, http.StatusUnauthorized, "The ledger does not know this token, or it was revoked.")
		return
	case errors.As(err, &ae) && ae.Code == commands.CodeForbidden:
		c.showSignIn(w, r, http.StatusForbidden, "This token's role may not read accounts (an ingest token sends "+
			"sessions, checks and usage only). Sign in with an admin, account_admin or auditor token.")
		return
	case errors.As(err, &ae):
		c.showSignIn(w, r, ae.Status, explain(ae))
		return
	case err != nil:
		c.logger.Error("console: checking a token at sign-in", logKeyErr, err)
		c.showSignIn(w, r, http.StatusInternalServerError, "Something went wrong in the console; it has been logged.")
		return
	}
	// A token that may list the tokens reaches every account (admin, an
	// auditor of every account): its pages say so where the API's answer
	// is the whole ledger's, as the integrity status is.
	everyAccount := c.get(r.Context(), session{token: token}, apiPath("tokens"), nil) == nil
	replacing := ""
	if old, ok := c.sessionOf(r); ok {
		replacing = old.id // this browser signs in again: its old session ends
	}
	s, err := c.sessions.create(token, everyAccount, replacing)
	if errors.Is(err, errSessionsFull) {
		c.logger.Warn("console: a sign-in was refused: the session store is full", "max_sessions", c.sessions.limits.max)
		c.showSignIn(w, r, http.StatusServiceUnavailable, fmt.Sprintf("The console cannot sign anyone else in now: "+
			"it already holds as many sessions as it may (%d), and it signs nobody out to make room. "+
			"Try again later (a session ends at sign-out, after %s without a request, or %s after its sign-in), "+
			"or ask whoever runs the ledger.", c.sessions.limits.max, hours(c.sessions.limits.idle), hours(c.sessions.limits.lifetime)))
		return
	}
	setCookie(w, r, sessionCookie, s.id, 0)
	setCookie(w, r, signInCookie, "", -1)
	next := localNext(r.PostFormValue("next"))
	if next == "/" && len(page.Items) == 1 && page.NextCursor == nil {
		next = consolePath(page.Items[0].ID) // one account: straight to it
	}
	redirect(w, r, next)
}

// signOut ends the session.
func (c *Console) signOut(w http.ResponseWriter, r *http.Request, s session) error {
	c.endSession(w, r, s)
	redirect(w, r, "/sign-in")
	return nil
}

// accountsPageData is the account picker.
type accountsPageData struct {
	frame
	Accounts []accountRow
	// WithReminders is how many accounts of the page have unassigned
	// practitioner licences.
	WithReminders int
	Next          string // the next page's URL, "" on the last
}

// accountRow is one account of the picker, with its reminders (C7): how
// many of its practitioner licences are unassigned, or why that is not
// known.
type accountRow struct {
	api.AccountView
	Href, RemindersHref string
	Unassigned          int
	RemindersProblem    string
}

// accountsPage lists the accounts the token reaches, a page at a time, each
// with its number of unassigned practitioner licences (one read of the
// API's reminders per account of the page); a token that reaches one goes
// straight to it.
func (c *Console) accountsPage(w http.ResponseWriter, r *http.Request, s session) error {
	cursor := r.URL.Query().Get("cursor")
	var page struct {
		Items      []api.AccountView `json:"items"`
		NextCursor *string           `json:"next_cursor"`
	}
	if err := c.get(r.Context(), s, withQuery(apiPath("accounts"), url.Values{"cursor": {cursor}, "limit": {"100"}}), &page); err != nil {
		return err
	}
	if cursor == "" && len(page.Items) == 1 && page.NextCursor == nil && r.URL.Path == "/" {
		redirect(w, r, consolePath(page.Items[0].ID))
		return nil
	}
	d := accountsPageData{frame: c.frame(s, "", "accounts", "Accounts")}
	for _, a := range page.Items {
		row := accountRow{AccountView: a, Href: consolePath(a.ID), RemindersHref: consolePath(a.ID) + "#reminders"}
		var rem struct {
			Unassigned []ledger.Reminder `json:"unassigned"`
		}
		if err := c.get(r.Context(), s, apiPath("accounts", a.ID, "reminders"), &rem); err != nil {
			text, err := partProblem("not known", err)
			if err != nil {
				return err
			}
			row.RemindersProblem = text
		}
		row.Unassigned = len(rem.Unassigned)
		if row.Unassigned > 0 {
			d.WithReminders++
		}
		d.Accounts = append(d.Accounts, row)
	}
	if page.NextCursor != nil {
		d.Next = "/accounts?" + url.Values{"cursor": {*page.NextCursor}}.Encode()
	}
	c.render(w, r, http.StatusOK, "accounts.html", d)
	return nil
}
