package api

import (
	"net/http"

	"github.com/entledger/ledger/auth"
	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
)

// SubscriberView is a subscriber's NATS credentials as the API shows them
// (S5). The password appears once, in the answer that creates them.
type SubscriberView struct {
	Name        string           `json:"name"`
	Account     *string          `json:"account"` // null: every account
	NATSUser    string           `json:"nats_user"`
	Subjects    []string         `json:"subjects"`
	Durable     string           `json:"durable"`      // the one consumer name the credentials may use
	InboxPrefix string           `json:"inbox_prefix"` // the connection's reply prefix (nats.CustomInboxPrefix)
	Permissions auth.Permissions `json:"permissions"`
	TokenView
}

func subscriberView(t commands.Token) SubscriberView {
	return SubscriberView{Name: t.Name, Account: nullable(t.Account), NATSUser: t.ID, Subjects: []string{auth.Subjects(t.Account)},
		Durable: auth.Durable(t.Account, t.Name), InboxPrefix: auth.InboxPrefix(t.ID),
		Permissions: auth.SubscriberPermissions(t.ID, t.Account, t.Name), TokenView: tokenView(t)}
}

// createSubscriber makes NATS credentials that read one account's events.
func (a *API) createSubscriber(w http.ResponseWriter, r *http.Request) error {
	return a.newSubscriber(w, r, r.PathValue("account"))
}

// createReadAllSubscriber makes NATS credentials that read every
// account's events (admin only): for auditors' tools and `ledger tail`.
func (a *API) createReadAllSubscriber(w http.ResponseWriter, r *http.Request) error {
	return a.newSubscriber(w, r, "")
}

func (a *API) newSubscriber(w http.ResponseWriter, r *http.Request, account string) error {
	var body struct {
		Name string `json:"name"`
	}
	req, err := readCommand(w, r, &body, false)
	if err != nil {
		return err
	}
	if _, found, err := a.subscriber(account, body.Name); err != nil {
		return err
	} else if found {
		return commands.Reject(commands.CodeConflict, "a subscriber %q exists; revoke it first or choose another name", body.Name).
			With("name", body.Name)
	}
	res, err := a.l.CreateToken(r.Context(), req.meta, body.Name, events.RoleSubscriber, account)
	if err != nil {
		return err
	}
	out := struct {
		SubscriberView
		NATSPassword *string `json:"nats_password"` // null when an Idempotency-Key replays the answer
	}{SubscriberView: subscriberView(res.State), NATSPassword: nullable(res.Token)}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// subscriber finds the active subscriber of account named name.
func (a *API) subscriber(account, name string) (commands.Token, bool, error) {
	ts, err := a.l.Tokens()
	if err != nil {
		return commands.Token{}, false, err
	}
	for _, t := range ts {
		if t.Role == events.RoleSubscriber && t.Account == account && t.Name == name && !t.Revoked {
			return t, true, nil
		}
	}
	return commands.Token{}, false, nil
}

func (a *API) listSubscribers(w http.ResponseWriter, r *http.Request) error {
	ts, err := a.l.Tokens()
	if err != nil {
		return err
	}
	account := r.PathValue("account")
	items := []SubscriberView{}
	for _, t := range ts {
		if t.Role == events.RoleSubscriber && t.Account == account && !t.Revoked {
			items = append(items, subscriberView(t))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
	return nil
}

// revokeSubscriber revokes a subscriber's credentials: it cannot connect
// again, and its connection is closed.
func (a *API) revokeSubscriber(w http.ResponseWriter, r *http.Request) error {
	req, err := readCommand(w, r, &struct{}{}, true)
	if err != nil {
		return err
	}
	account, name := r.PathValue("account"), r.PathValue("name")
	t, found, err := a.subscriber(account, name)
	if err != nil {
		return err
	}
	if !found {
		return commands.Reject(commands.CodeNotFound, "account %q has no subscriber %q", account, name).With("name", name)
	}
	res, err := a.l.RevokeToken(r.Context(), req.meta, commands.RevokeToken{ID: t.ID, Reason: "subscriber revoked"})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, subscriberView(res.State))
	return nil
}
