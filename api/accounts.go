package api

import (
	"net/http"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
)

func (a *API) createAccount(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		ID                 string `json:"id"`
		Name               string `json:"name"`
		FulfillmentContact string `json:"fulfillment_contact"`
		atField
	}
	req, err := readCommand(w, r, &body, false)
	if err != nil {
		return err
	}
	res, err := a.l.CreateAccount(r.Context(), req.meta, commands.CreateAccount{
		ID: body.ID, Name: body.Name, FulfillmentContact: body.FulfillmentContact, At: req.at})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, accountView(res.State))
	return nil
}

// getAccount answers an account now, or as it stood at a past business
// time with ?as_of=T (H4).
func (a *API) getAccount(w http.ResponseWriter, r *http.Request) error {
	t, past, err := asOf(r)
	if err != nil {
		return err
	}
	var acct commands.Account
	if past {
		acct, err = a.l.AccountAsOf(r.PathValue("account"), t)
	} else {
		acct, err = a.l.Account(r.PathValue("account"))
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, accountView(acct))
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

// writeHistory answers {events: [...]} with the aggregate's events exactly
// as stored, in order (H4); an aggregate without events is not found.
func (a *API) writeHistory(w http.ResponseWriter, account, aggregate, id string) error {
	hist, err := a.l.History(account, aggregate, id)
	if err != nil {
		return err
	}
	if len(hist) == 0 && aggregate == events.AggregateUser {
		return commands.Reject(commands.CodeUserNotFound, "%s was never a user of account %q", id, account).
			With("email", id)
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": hist})
	return nil
}
