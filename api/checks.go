package api

import (
	"net/http"

	"github.com/entledger/ledger/commands"
)

func (a *API) setAccess(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Default string   `json:"default"`
		Allow   []string `json:"allow"`
		Deny    []string `json:"deny"`
		atField
	}
	req, err := readCommand(w, r, &body, false)
	if err != nil {
		return err
	}
	c := commands.SetAccess{Account: r.PathValue("account"), Product: r.PathValue("product"), Default: body.Default,
		Allow: body.Allow, Deny: body.Deny, At: req.at}
	res, err := a.l.SetAccess(r.Context(), req.meta, c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, accessView(res.State))
	return nil
}

func (a *API) getAccess(w http.ResponseWriter, r *http.Request) error {
	acc, err := a.l.Access(r.PathValue("account"), r.PathValue("product"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, accessView(acc))
	return nil
}

func (a *API) check(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Email         string `json:"email"`
		Product       string `json:"product"`
		MachineID     string `json:"machine_id"`
		ClientVersion string `json:"client_version"`
	}
	req, err := readCommand(w, r, &body, false)
	if err != nil {
		return err
	}
	c := commands.Check{Account: r.PathValue("account"), Email: body.Email, Product: body.Product,
		MachineID: body.MachineID, ClientVersion: body.ClientVersion}
	res, err := a.l.Check(r.Context(), req.meta, c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, checkView(res.State))
	return nil
}
