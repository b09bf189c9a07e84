package console

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/entledger/ledger/api"
	"github.com/entledger/ledger/commands"
)

// usersPageData is a page of the account's users, with the form that adds
// one.
type usersPageData struct {
	frame
	Users        []userRow
	Page, Limit  int
	LimitChoices []int
	Next, First  string
	// The add form: the values entered and its refusal, if it was refused.
	Email, Country, Problem string
}

// userRow is one user of the list.
type userRow struct {
	Email, Href, Country, LicenseID, LicenseHref, Machine string
}

// usersPage lists the account's users a page at a time; the search field
// opens one user.
func (c *Console) usersPage(w http.ResponseWriter, r *http.Request, s session) error {
	if email := strings.TrimSpace(r.URL.Query().Get("find")); email != "" {
		redirect(w, r, consolePath(r.PathValue("account"), "users", email))
		return nil
	}
	return c.showUsers(w, r, s, http.StatusOK, usersPageData{})
}

func (c *Console) showUsers(w http.ResponseWriter, r *http.Request, s session, status int, d usersPageData) error {
	account := r.PathValue("account")
	q := r.URL.Query()
	d.Limit, d.Page, d.LimitChoices = 100, 1, limitChoices
	if n, err := strconv.Atoi(q.Get("limit")); err == nil && n > 0 {
		d.Limit = n
	}
	if n, err := strconv.Atoi(q.Get("page")); err == nil && n > 0 {
		d.Page = n
	}
	var page api.ListView[api.UserView]
	if err := c.get(r.Context(), s, withQuery(apiPath("accounts", account, "users"),
		url.Values{"cursor": {q.Get("cursor")}, "limit": {strconv.Itoa(d.Limit)}}), &page); err != nil {
		return err
	}
	d.frame = c.frame(s, account, "users", "Users")
	for _, u := range page.Items {
		row := userRow{Email: u.Email, Href: consolePath(account, "users", u.Email)}
		if u.EntitlementCountry != nil {
			row.Country = *u.EntitlementCountry
		}
		if u.LicenseID != nil {
			row.LicenseID, row.LicenseHref = *u.LicenseID, consolePath(account, "licenses", *u.LicenseID)
		}
		if u.Session != nil {
			row.Machine = u.Session.MachineID
		}
		d.Users = append(d.Users, row)
	}
	base := consolePath(account, "users") + "?"
	if page.NextCursor != nil {
		d.Next = base + url.Values{"cursor": {*page.NextCursor}, "page": {strconv.Itoa(d.Page + 1)},
			"limit": {strconv.Itoa(d.Limit)}}.Encode()
	}
	if q.Get("cursor") != "" {
		d.First = base + url.Values{"limit": {strconv.Itoa(d.Limit)}}.Encode()
	}
	c.render(w, r, status, "users.html", d)
	return nil
}

// addUser registers a user (A2, A3) and opens their page; a refusal is
// shown on the users page with what was entered.
func (c *Console) addUser(w http.ResponseWriter, r *http.Request, s session) error {
	account := r.PathValue("account")
	email, country := strings.TrimSpace(r.PostFormValue("email")), strings.TrimSpace(r.PostFormValue("entitlement_country"))
	body := map[string]string{"email": email}
	if country != "" {
		body["entitlement_country"] = country
	}
	var u api.UserView
	err := c.call(r.Context(), s, http.MethodPost, apiPath("accounts", account, "users"), body, &u)
	if ae, ok := formRefusal(err); ok {
		return c.showUsers(w, r, s, ae.Status, usersPageData{Email: email, Country: country, Problem: explain(ae)})
	}
	if err != nil {
		return err
	}
	c.note(s, fmt.Sprintf("Added %s.", u.Email), false)
	redirect(w, r, consolePath(account, "users", u.Email))
	return nil
}

// formRefusal is the API's refusal of a form that the form's page shows
// in place: anything but a refused token and an account out of reach,
// which end the page as any page's error.
func formRefusal(err error) (*apiError, bool) {
	var ae *apiError
	if !errors.As(err, &ae) || ae.Status == http.StatusUnauthorized || ae.Code == commands.CodeAccountNotFound {
		return nil, false
	}
	return ae, true
}

// userPageData is one user's page.
type userPageData struct {
	frame
	User    api.UserView
	Href    string
	Licence *api.LicenseView // the licence they hold
	History []historyRow
	// The forms' refusal, and which form it was.
	Problem, Action, Country string
	Former                   bool // not a user now: removed; the history only
}

// userPage shows a user: country, licence, live session and machine, and
// history, with the forms that change the country and remove the user.
func (c *Console) userPage(w http.ResponseWriter, r *http.Request, s session) error {
	return c.showUser(w, r, s, http.StatusOK, "", "", "")
}

func (c *Console) showUser(w http.ResponseWriter, r *http.Request, s session, status int, action, country, problem string) error {
	account, email := r.PathValue("account"), r.PathValue("email")
	d := userPageData{Problem: problem, Action: action, Country: country}
	if err := c.get(r.Context(), s, apiPath("accounts", account, "users", email), &d.User); err != nil {
		var ae *apiError
		if !errors.As(err, &ae) || ae.Code != commands.CodeUserNotFound || r.Method != http.MethodGet {
			return err
		}
		return c.showFormerUser(w, r, s, email, err)
	}
	d.frame = c.frame(s, account, "users", d.User.Email)
	d.Href = consolePath(account, "users", d.User.Email)
	if d.Country == "" && d.User.EntitlementCountry != nil {
		d.Country = *d.User.EntitlementCountry
	}
	if d.User.LicenseID != nil {
		var lic api.LicenseView
		if err := c.get(r.Context(), s, apiPath("accounts", account, "licenses", *d.User.LicenseID), &lic); err != nil {
			return err
		}
		d.Licence = &lic
	}
	hist, err := c.history(r, s, apiPath("accounts", account, "users", d.User.Email, "history"))
	if err != nil {
		return err
	}
	d.History = hist
	c.render(w, r, status, "user.html", d)
	return nil
}

// showFormerUser shows the history of an email that is not a user now:
// a removed user's history stays readable (H4). An email that never was
// a user is the API's user_not_found, as err says.
func (c *Console) showFormerUser(w http.ResponseWriter, r *http.Request, s session, email string, err error) error {
	account := r.PathValue("account")
	hist, herr := c.history(r, s, apiPath("accounts", account, "users", email, "history"))
	if herr != nil {
		var ae *apiError
		if errors.As(herr, &ae) && ae.Code == commands.CodeUserNotFound {
			return err
		}
		return herr
	}
	d := userPageData{Former: true, History: hist}
	d.User.Email = strings.ToLower(email)
	d.frame = c.frame(s, account, "users", d.User.Email)
	c.render(w, r, http.StatusOK, "user.html", d)
	return nil
}

// userAction sends a user's form: country (A3) or remove (A4).
func (c *Console) userAction(w http.ResponseWriter, r *http.Request, s session) error {
	account, email, action := r.PathValue("account"), r.PathValue("email"), r.PathValue("action")
	path := apiPath("accounts", account, "users", email)
	switch action {
	case "country":
		country := strings.TrimSpace(r.PostFormValue("entitlement_country"))
		var u api.UserView
		err := c.call(r.Context(), s, http.MethodPatch, path, map[string]string{"entitlement_country": country}, &u)
		if ae, ok := formRefusal(err); ok && ae.Code != commands.CodeUserNotFound {
			return c.showUser(w, r, s, ae.Status, action, country, explain(ae))
		}
		if err != nil {
			return err
		}
		c.note(s, fmt.Sprintf("%s: entitlement country %s.", u.Email, country), false)
		redirect(w, r, consolePath(account, "users", u.Email))
		return nil
	case "remove":
		var held api.UserView
		if err := c.get(r.Context(), s, path, &held); err != nil {
			return err
		}
		err := c.call(r.Context(), s, http.MethodDelete, path, nil, nil)
		if ae, ok := formRefusal(err); ok && ae.Code != commands.CodeUserNotFound {
			return c.showUser(w, r, s, ae.Status, action, "", explain(ae))
		}
		if err != nil {
			return err
		}
		text := fmt.Sprintf("Removed %s; their session ended.", held.Email)
		if held.LicenseID != nil {
			text += fmt.Sprintf(" Licence %s was taken away, and its lock keeps running (A4).", *held.LicenseID)
		}
		c.note(s, text, false)
		redirect(w, r, consolePath(account, "users"))
		return nil
	}
	c.renderProblemIn(w, r, s, http.StatusNotFound, "There is no such form.", account)
	return nil
}
