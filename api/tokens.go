package api

import (
	"net/http"
	"time"

	"github.com/entledger/ledger/commands"
)

// TokenView is an API token as the API shows it: never its secret, nor the
// secret's hash.
type TokenView struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Role      string     `json:"role"`
	Account   *string    `json:"account"` // null: every account
	Actor     string     `json:"actor"`   // how events name what the token did (S3)
	CreatedAt time.Time  `json:"created_at"`
	CreatedBy string     `json:"created_by"`
	Revoked   bool       `json:"revoked"`
	RevokedAt *time.Time `json:"revoked_at"`
	RevokedBy *string    `json:"revoked_by"`
}

func tokenView(t commands.Token) TokenView {
	v := TokenView{ID: t.ID, Name: t.Name, Role: t.Role, Account: nullable(t.Account), Actor: "token:" + t.ID,
		CreatedAt: t.CreatedAt, CreatedBy: t.CreatedBy, Revoked: t.Revoked}
	if t.Revoked {
		at := t.RevokedAt
		v.RevokedAt, v.RevokedBy = &at, nullable(t.RevokedBy)
	}
	return v
}

// createToken issues a token (admin only); the answer is the only place
// the token ever appears.
func (a *API) createToken(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Name    string `json:"name"`
		Role    string `json:"role"`
		Account string `json:"account"`
	}
	req, err := readCommand(w, r, &body, false)
	if err != nil {
		return err
	}
	res, err := a.l.CreateToken(r.Context(), req.meta, body.Name, body.Role, body.Account)
	if err != nil {
		return err
	}
	out := struct {
		TokenView
		Token *string `json:"token"` // null when an Idempotency-Key replays the answer: the token was shown once
	}{TokenView: tokenView(res.State), Token: nullable(res.Token)}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (a *API) listTokens(w http.ResponseWriter, r *http.Request) error {
	ts, err := a.l.Tokens()
	if err != nil {
		return err
	}
	items := make([]TokenView, len(ts))
	for i, t := range ts {
		items[i] = tokenView(t)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
	return nil
}

// revokeToken revokes a token at once (admin only); revoking it again
// answers the same.
func (a *API) revokeToken(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Reason string `json:"reason"`
	}
	req, err := readCommand(w, r, &body, true)
	if err != nil {
		return err
	}
	res, err := a.l.RevokeToken(r.Context(), req.meta, commands.RevokeToken{ID: r.PathValue("id"), Reason: body.Reason})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, tokenView(res.State))
	return nil
}
