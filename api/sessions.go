package api

import (
	"net/http"

	"github.com/entledger/ledger/commands"
)

func (a *API) signIn(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Email         string `json:"email"`
		MachineID     string `json:"machine_id"`
		ClientVersion string `json:"client_version"`
		ClientTime    string `json:"client_time"`
	}
	req, err := readCommand(w, r, &body, false)
	if err != nil {
		return err
	}
	c := commands.SignIn{Account: r.PathValue("account"), Email: body.Email, MachineID: body.MachineID,
		ClientVersion: body.ClientVersion}
	if c.ClientTime, err = requiredTime("client_time", body.ClientTime); err != nil {
		return err
	}
	res, err := a.l.SignIn(r.Context(), req.meta, c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, sessionView(res.State, a.l.SessionTTL()))
	return nil
}

func (a *API) heartbeat(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		MachineID string `json:"machine_id"`
	}
	req, err := readCommand(w, r, &body, false)
	if err != nil {
		return err
	}
	c := commands.Heartbeat{Account: r.PathValue("account"), Email: r.PathValue("email"), MachineID: body.MachineID}
	res, err := a.l.Heartbeat(r.Context(), req.meta, c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, sessionView(res.State, a.l.SessionTTL()))
	return nil
}

func (a *API) signOut(w http.ResponseWriter, r *http.Request) error {
	var body struct{}
	req, err := readCommand(w, r, &body, true)
	if err != nil {
		return err
	}
	c := commands.SignOut{Account: r.PathValue("account"), Email: r.PathValue("email")}
	if _, err := a.l.SignOut(r.Context(), req.meta, c); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
