package api

import (
	"net/http"
	"time"

	"github.com/entledger/ledger/commands"
)

// DomainView is an account's claim of an email domain as the API shows it
// (A5, S2).
type DomainView struct {
	Domain    string    `json:"domain"`
	Account   string    `json:"account"`
	ClaimedAt time.Time `json:"claimed_at"`
}

func domainView(o commands.DomainOwner) DomainView {
	return DomainView{Domain: o.Domain, Account: o.Account, ClaimedAt: o.ClaimedAt}
}

// claimDomain makes the account the only one in which emails of the domain
// can be registered (admin only: the vendor knows which organisation owns
// a domain; an account's own admin could claim another's).
func (a *API) claimDomain(w http.ResponseWriter, r *http.Request) error {
	var body struct{ atField }
	req, err := readCommand(w, r, &body, true)
	if err != nil {
		return err
	}
	res, err := a.l.ClaimDomain(r.Context(), req.meta, commands.ClaimDomain{Account: r.PathValue("account"),
		Domain: r.PathValue("domain"), At: req.at})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, domainView(res.State))
	return nil
}

// releaseDomain ends the account's claim of the domain.
func (a *API) releaseDomain(w http.ResponseWriter, r *http.Request) error {
	var body struct{ atField }
	req, err := readCommand(w, r, &body, true)
	if err != nil {
		return err
	}
	if _, err := a.l.ReleaseDomain(r.Context(), req.meta, commands.ReleaseDomain{Account: r.PathValue("account"),
		Domain: r.PathValue("domain"), At: req.at}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// getDomain answers the account's claim of the domain, or 404.
func (a *API) getDomain(w http.ResponseWriter, r *http.Request) error {
	o, err := a.l.Domain(r.PathValue("account"), r.PathValue("domain"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, domainView(o))
	return nil
}
