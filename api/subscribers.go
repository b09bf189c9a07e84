package api

import (
	"net/http"

	"github.com/entledger/ledger/auth"
	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/ledger"
)

// SubscriberView is a subscriber's NATS credentials as the API shows them
// (S5, S8): everything a client needs to connect and read. The password
// appears once, in the answer that creates them.
type SubscriberView struct {
	Name        string           `json:"name"`
	Account     *string          `json:"account"`   // null: every account
	NATSURLs    []string         `json:"nats_urls"` // where to connect; empty when the ledger's NATS listens nowhere
	NATSUser    string           `json:"nats_user"`
	NATSAccount string           `json:"nats_account"` // the NATS account the user lands in
	Stream      string           `json:"stream"`
	Subjects    []string         `json:"subjects"`
	Durable     string           `json:"durable"`          // the one consumer the credentials read, made by the ledger
	ConsumerAPI string           `json:"consumer_service"` // request subject that (re)opens it
	JSAPIPrefix string           `json:"js_api_prefix"`    // the JetStream API prefix (jetstream.NewWithAPIPrefix, nats --js-api-prefix)
	InboxPrefix string           `json:"inbox_prefix"`     // the connection's reply prefix (nats.CustomInboxPrefix)
	Permissions auth.Permissions `json:"permissions"`
	TokenView
}

func (a *API) subscriberView(t commands.Token) SubscriberView {
	d := auth.Durable(t.Account, t.Name, t.ID)
	urls := a.natsURLs
	if urls == nil {
		urls = []string{}
	}
	return SubscriberView{Name: t.Name, Account: nullable(t.Account), NATSURLs: urls, NATSUser: t.ID, NATSAccount: auth.SubscriberAccount,
		Stream: auth.StreamName, Subjects: []string{auth.Subjects(t.Account)}, Durable: d, ConsumerAPI: auth.ConsumerService + d, JSAPIPrefix: auth.APIPrefix,
		InboxPrefix: auth.InboxPrefix(t.ID), Permissions: auth.SubscriberPermissions(t.ID, t.Account, t.Name), TokenView: tokenView(t)}
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
	res, err := a.l.CreateSubscriberToken(r.Context(), req.meta, body.Name, account)
	if err != nil {
		return err
	}
	view := a.subscriberView(res.State)
	if _, err := a.l.OpenSubscriberConsumer(r.Context(), view.Durable, ledger.ConsumerStart{}); err != nil {
		return err
	}
	out := struct {
		SubscriberView
		NATSPassword *string `json:"nats_password"` // null when an Idempotency-Key replays the answer
	}{SubscriberView: view, NATSPassword: nullable(res.Token)}
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
			items = append(items, a.subscriberView(t))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
	return nil
}

// revokeSubscriber revokes a subscriber's credentials: it cannot connect
// again, its consumer is deleted, and on the embedded server its
// connections are closed.
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
	// Its consumer goes at once, on every server: the credentials read
	// nothing more through it. (A connection they still hold to a server
	// the ledger does not run keeps a live subscription to the account's
	// subjects until it drops; see disconnectSubscriber.)
	if err := a.l.DeleteSubscriberConsumer(r.Context(), auth.Durable(t.Account, t.Name, t.ID)); err != nil {
		return err
	}
	if a.subscriberRevoked != nil {
		a.subscriberRevoked(t.ID)
	}
	writeJSON(w, http.StatusOK, a.subscriberView(res.State))
	return nil
}
