package api

import (
	"net/http"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
)

func (a *API) registerUser(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Email              string `json:"email"`
		EntitlementCountry string `json:"entitlement_country"`
		atField
	}
	req, err := readCommand(w, r, &body, false)
	if err != nil {
		return err
	}
	res, err := a.l.RegisterUser(r.Context(), req.meta, commands.RegisterUser{
		Account: r.PathValue("account"), Email: body.Email, EntitlementCountry: body.EntitlementCountry, At: req.at})
	if err != nil {
		return err
	}
	// A user who has just been registered has no session.
	writeJSON(w, http.StatusCreated, userView(res.State, nil))
	return nil
}

// getUser answers a user now, with their live session, or as registered
// at a past business time with ?as_of=T (H4), with session null: sessions
// are answered live only.
func (a *API) getUser(w http.ResponseWriter, r *http.Request) error {
	t, past, err := asOf(r)
	if err != nil {
		return err
	}
	if past {
		u, err := a.l.UserAsOf(r.PathValue("account"), r.PathValue("email"), t)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, userView(u, nil))
		return nil
	}
	u, err := a.l.User(r.PathValue("account"), r.PathValue("email"))
	if err != nil {
		return err
	}
	return a.writeUser(w, r, http.StatusOK, u)
}

func (a *API) patchUser(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		EntitlementCountry *string `json:"entitlement_country"`
		atField
	}
	req, err := readCommand(w, r, &body, false)
	if err != nil {
		return err
	}
	if body.EntitlementCountry == nil {
		return commands.Invalid("entitlement_country", "required")
	}
	account := r.PathValue("account")
	res, err := a.l.ChangeUserCountry(r.Context(), req.meta, commands.ChangeUserCountry{
		Account: account, Email: r.PathValue("email"), EntitlementCountry: *body.EntitlementCountry, At: req.at})
	if err != nil {
		return err
	}
	return a.writeUser(w, r, http.StatusOK, res.State)
}

// writeUser answers a user with their live session, if any.
func (a *API) writeUser(w http.ResponseWriter, r *http.Request, status int, u commands.User) error {
	view, err := a.liveSession(r, u)
	if err != nil {
		return err
	}
	writeJSON(w, status, userView(u, view))
	return nil
}

// liveSession is the user's live session as the API shows it, or nil.
func (a *API) liveSession(r *http.Request, u commands.User) (*SessionView, error) {
	sess, live, err := a.l.LiveSession(r.Context(), u.Account, u.Email)
	if err != nil || !live {
		return nil, err
	}
	return sessionView(sess, a.l.SessionTTL()), nil
}

func (a *API) removeUser(w http.ResponseWriter, r *http.Request) error {
	var body struct{ atField }
	req, err := readCommand(w, r, &body, true)
	if err != nil {
		return err
	}
	account := r.PathValue("account")
	if _, err := a.l.RemoveUser(r.Context(), req.meta, commands.RemoveUser{
		Account: account, Email: r.PathValue("email"), At: req.at}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
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
