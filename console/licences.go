package console

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/entledger/ledger/api"
	"github.com/entledger/ledger/commands"
)

// limitChoices are the page sizes the licences and users lists offer.
var limitChoices = []int{25, 100, 500, 1000}

// licencesPageData is a page of the account's licences.
type licencesPageData struct {
	frame
	Kind, Product, Assigned string
	Limit                   int
	LimitChoices            []int
	Rows                    []licenceRow
	Page                    int
	Next, First             string // links to the next and the first page; "" when none
	Problem                 string
	Find, Assignee          string // the search fields, as entered
}

// licenceRow is one licence of the list.
type licenceRow struct {
	ID, Href, Kind, Products, Assignee, AssigneeHref string
	ValidFrom, ValidUntil                            time.Time
	Active                                           bool
	State                                            licenceState
}

// licenceState is where a licence's window and lock stand, in words, with a
// countdown to the next change when there is one.
type licenceState struct {
	Text      string
	Countdown *countdown
	Class     string // none, window_open or locked, for the page's style
}

// stateOf describes a licence's timers as of now.
func (c *Console) stateOf(l api.LicenseView) licenceState {
	switch {
	case l.Kind == "commercial":
		return licenceState{Text: fmt.Sprintf("%d seats, pooled", l.Seats), Class: "none"}
	case l.Kind != "practitioner":
		return licenceState{Text: "pooled use", Class: "none"}
	case l.LockState == "window_open" && l.WindowClosesAt != nil:
		cd := c.countdown(*l.WindowClosesAt)
		return licenceState{Text: "Window open: free to move, closes in", Countdown: &cd, Class: "window_open"}
	case l.LockState == "locked" && l.LockedUntil != nil:
		cd := c.countdown(*l.LockedUntil)
		return licenceState{Text: "Locked until " + showTime(*l.LockedUntil) + ", opens in", Countdown: &cd, Class: "locked"}
	case l.LockedUntil != nil:
		return licenceState{Text: "Free to move (its lock ended " + showTime(*l.LockedUntil) + ")", Class: "none"}
	}
	return licenceState{Text: "Never assigned", Class: "none"}
}

// stateThen describes a licence's timers as of a past time (H4), l being
// the API's answer as of then: no countdown, and the window's end and the
// lock's told in the past tense once the ledger's clock is past them.
func (c *Console) stateThen(l api.LicenseView) licenceState {
	now := c.now()
	at := func(done, coming string, t time.Time) string {
		if t.After(now) {
			return coming + " " + showTime(t)
		}
		return done + " " + showTime(t)
	}
	switch {
	case l.Kind != "practitioner":
		return c.stateOf(l)
	case l.LockState == "window_open" && l.WindowClosesAt != nil:
		return licenceState{Text: "Window open then: free to move; the window " + at("closed at", "closes at", *l.WindowClosesAt) + ".",
			Class: "window_open"}
	case l.LockState == "locked" && l.LockedUntil != nil:
		return licenceState{Text: "Locked then; the lock " + at("ended at", "ends at", *l.LockedUntil) + ".", Class: "locked"}
	case l.LockedUntil != nil:
		return licenceState{Text: "Free to move then (its lock had ended " + showTime(*l.LockedUntil) + ")", Class: "none"}
	}
	return licenceState{Text: "Never assigned by then", Class: "none"}
}

// licencesPage lists the account's licences a page at a time, filtered as
// the API filters them; the search fields open one licence by its id or by
// its assignee.
func (c *Console) licencesPage(w http.ResponseWriter, r *http.Request, s session) error {
	account := r.PathValue("account")
	q := r.URL.Query()
	if id := strings.TrimSpace(q.Get("find")); id != "" {
		redirect(w, r, consolePath(account, "licenses", id))
		return nil
	}
	d := licencesPageData{Kind: q.Get("kind"), Product: strings.TrimSpace(q.Get("product")), Assigned: q.Get("assigned"),
		Limit: 100, LimitChoices: limitChoices, Page: 1, Assignee: strings.TrimSpace(q.Get("assignee"))}
	if d.Assignee != "" {
		var u api.UserView
		err := c.get(r.Context(), s, apiPath("accounts", account, "users", d.Assignee), &u)
		switch {
		case err == nil && u.LicenseID != nil:
			redirect(w, r, consolePath(account, "licenses", *u.LicenseID))
			return nil
		case err == nil:
			d.Problem = u.Email + " holds no practitioner licence."
		default:
			var ae *apiError
			if !errors.As(err, &ae) || ae.Code == commands.CodeAccountNotFound || ae.Status == http.StatusUnauthorized {
				return err
			}
			d.Problem = explain(ae)
		}
	}
	if n, err := strconv.Atoi(q.Get("limit")); err == nil && n > 0 {
		d.Limit = n
	}
	if n, err := strconv.Atoi(q.Get("page")); err == nil && n > 0 {
		d.Page = n
	}
	filter := url.Values{"kind": {d.Kind}, "product": {d.Product}, "assigned": {d.Assigned}, "limit": {strconv.Itoa(d.Limit)}}
	apiQuery := url.Values{"cursor": {q.Get("cursor")}}
	for k, v := range filter {
		apiQuery[k] = v
	}
	var page api.ListView[api.LicenseView]
	status := http.StatusOK
	if err := c.get(r.Context(), s, withQuery(apiPath("accounts", account, "licenses"), apiQuery), &page); err != nil {
		var ae *apiError
		if !errors.As(err, &ae) || ae.Status/100 != 4 || ae.Code == commands.CodeAccountNotFound || ae.Status == http.StatusUnauthorized {
			return err
		}
		status, d.Problem = ae.Status, explain(ae) // a bad filter or cursor: the form stays to fix it
	}
	d.frame = c.frame(s, account, "licences", "Licences")
	for _, l := range page.Items {
		row := licenceRow{ID: l.ID, Href: consolePath(account, "licenses", l.ID), Kind: l.Kind,
			Products: strings.Join(l.Products, ", "), ValidFrom: l.ValidFrom, ValidUntil: l.ValidUntil, Active: l.ActiveNow,
			State: c.stateOf(l)}
		if l.Assignee != nil {
			row.Assignee, row.AssigneeHref = *l.Assignee, consolePath(account, "users", *l.Assignee)
		}
		d.Rows = append(d.Rows, row)
	}
	base := consolePath(account, "licenses") + "?"
	if page.NextCursor != nil {
		next := url.Values{"cursor": {*page.NextCursor}, "page": {strconv.Itoa(d.Page + 1)}}
		for k, v := range filter {
			next[k] = v
		}
		d.Next = base + encodeNonEmpty(next)
	}
	if q.Get("cursor") != "" {
		d.First = base + encodeNonEmpty(filter)
	}
	c.render(w, r, status, "licences.html", d)
	return nil
}

// encodeNonEmpty encodes the values that are not empty.
func encodeNonEmpty(q url.Values) string {
	out := url.Values{}
	for k, v := range q {
		if len(v) > 0 && v[0] != "" {
			out[k] = v
		}
	}
	return out.Encode()
}

// licencePageData is one licence's page.
type licencePageData struct {
	frame
	Lic        api.LicenseView
	Href       string
	State      licenceState
	Timeline   template.HTML
	Milestones []milestone
	History    []historyRow
	// As of (H4): the time asked for, as shown and as the input's value.
	AsOf, AsOfValue string
	Past            bool
	// The forms: the email entered, and the refusal of the last one sent.
	Email       string
	FormProblem string
	FormAction  string
}

// licencePage shows a licence now, or as it stood at ?as_of= (H4).
func (c *Console) licencePage(w http.ResponseWriter, r *http.Request, s session) error {
	return c.showLicence(w, r, s, http.StatusOK, "", "", "")
}

// showLicence renders a licence's page, with a form's refusal in words
// when one was refused.
func (c *Console) showLicence(w http.ResponseWriter, r *http.Request, s session, status int, action, email, problem string) error {
	account, id := r.PathValue("account"), r.PathValue("id")
	ctx := r.Context()
	d := licencePageData{Href: consolePath(account, "licenses", id), Email: email, FormProblem: problem, FormAction: action}
	path := apiPath("accounts", account, "licenses", id)
	if v := strings.TrimSpace(r.URL.Query().Get("as_of")); v != "" && r.Method == http.MethodGet {
		t, ok := parseFormTime(v)
		if !ok {
			return &apiError{Status: http.StatusBadRequest, Code: commands.CodeInvalidArgument, Message: fmt.Sprintf(
				"%q is not a date and time; enter one such as 2026-01-05T14:00 (UTC)", v), Details: map[string]any{"field": "as of"}}
		}
		d.Past, d.AsOf, d.AsOfValue = true, showTime(t), t.Format("2006-01-02T15:04")
		path = withQuery(path, url.Values{"as_of": {t.Format(time.RFC3339Nano)}})
	}
	if err := c.get(ctx, s, path, &d.Lic); err != nil {
		return err
	}
	d.frame = c.frame(s, account, "licences", "Licence "+d.Lic.ID)
	at := c.now()
	if d.Past {
		at, _ = parseFormTime(d.AsOfValue)
	}
	d.State = c.stateOf(d.Lic)
	if d.Past {
		d.State = c.stateThen(d.Lic) // no countdown: one from a past time would mislead
	}
	d.Timeline, d.Milestones = licenceTimeline(d.Lic, at, d.Past)
	hist, err := c.history(r, s, apiPath("accounts", account, "licenses", id, "history"))
	if err != nil {
		return err
	}
	d.History = hist
	c.render(w, r, status, "licence.html", d)
	return nil
}

// licenceAction sends a licence form to the API: assign, reassign or
// unassign. A refusal is shown on the licence's page, in words, with the
// API's status.
func (c *Console) licenceAction(w http.ResponseWriter, r *http.Request, s session) error {
	account, id, action := r.PathValue("account"), r.PathValue("id"), r.PathValue("action")
	email := strings.TrimSpace(r.PostFormValue("email"))
	var body any
	switch action {
	case "assign", "reassign":
		body = map[string]string{"email": email}
	case "unassign":
	default:
		c.renderProblemIn(w, r, s, http.StatusNotFound, "There is no such form.", account)
		return nil
	}
	var lic api.LicenseView
	err := c.call(r.Context(), s, http.MethodPost, apiPath("accounts", account, "licenses", id, action), body, &lic)
	var ae *apiError
	switch {
	case errors.As(err, &ae) && ae.Status != http.StatusUnauthorized && ae.Code != commands.CodeAccountNotFound &&
		ae.Code != commands.CodeLicenseNotFound:
		return c.showLicence(w, r, s, ae.Status, action, email, explain(ae))
	case err != nil:
		return err
	}
	text := fmt.Sprintf("Licence %s: unassigned.", lic.ID)
	if lic.Assignee != nil {
		text = fmt.Sprintf("Licence %s: now assigned to %s.", lic.ID, *lic.Assignee)
		if lic.LockState == "window_open" && lic.WindowClosesAt != nil {
			text += " It can be moved freely until " + showTime(*lic.WindowClosesAt) + "; then it is locked until " +
				showTimePtr(lic.LockedUntil) + "."
		}
	}
	c.note(s, text, false)
	redirect(w, r, consolePath(account, "licenses", id))
	return nil
}
