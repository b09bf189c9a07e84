package api

import (
	"net/http"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/ledger"
)

func (a *API) createLicense(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		ID         string   `json:"id"`
		Kind       string   `json:"kind"`
		Products   []string `json:"products"`
		Seats      int      `json:"seats"`
		ValidFrom  string   `json:"valid_from"`
		ValidUntil string   `json:"valid_until"`
		Country    string   `json:"country"`
		atField
	}
	req, err := readCommand(w, r, &body, false)
	if err != nil {
		return err
	}
	c := commands.CreateLicense{Account: r.PathValue("account"), ID: body.ID, Kind: body.Kind,
		Products: body.Products, Seats: body.Seats, Country: body.Country, At: req.at}
	if c.ValidFrom, err = requiredTime("valid_from", body.ValidFrom); err != nil {
		return err
	}
	if c.ValidUntil, err = requiredTime("valid_until", body.ValidUntil); err != nil {
		return err
	}
	res, err := a.l.CreateLicense(r.Context(), req.meta, c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, licenseView(res.State, res.DecidedAt))
	return nil
}

// getLicense answers a licence now, or as of a past business time with
// ?as_of=T (H4): its state then, and reassignable_now and the like as they
// were at T.
func (a *API) getLicense(w http.ResponseWriter, r *http.Request) error {
	account, id := r.PathValue("account"), r.PathValue("id")
	t, past, err := asOf(r)
	if err != nil {
		return err
	}
	if past {
		lic, err := a.l.LicenseAsOf(account, id, t)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, licenseView(lic, t))
		return nil
	}
	lic, err := a.l.License(account, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, licenseView(lic, a.l.Now()))
	return nil
}

func (a *API) renewLicense(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		ValidUntil string `json:"valid_until"`
		atField
	}
	req, err := readCommand(w, r, &body, false)
	if err != nil {
		return err
	}
	c := commands.RenewLicense{Account: r.PathValue("account"), ID: r.PathValue("id"), At: req.at}
	if c.ValidUntil, err = requiredTime("valid_until", body.ValidUntil); err != nil {
		return err
	}
	return answerLicense(w, func() (ledger.Result[commands.License], error) { return a.l.RenewLicense(r.Context(), req.meta, c) })
}

// emailAt is the body of assign and reassign.
type emailAt struct {
	Email string `json:"email"`
	atField
}

func (a *API) assign(w http.ResponseWriter, r *http.Request) error {
	var body emailAt
	req, err := readCommand(w, r, &body, false)
	if err != nil {
		return err
	}
	c := commands.Assign{Account: r.PathValue("account"), LicenseID: r.PathValue("id"), Email: body.Email, At: req.at}
	return answerLicense(w, func() (ledger.Result[commands.License], error) { return a.l.Assign(r.Context(), req.meta, c) })
}

func (a *API) reassign(w http.ResponseWriter, r *http.Request) error {
	var body emailAt
	req, err := readCommand(w, r, &body, false)
	if err != nil {
		return err
	}
	c := commands.Reassign{Account: r.PathValue("account"), LicenseID: r.PathValue("id"), Email: body.Email, At: req.at}
	return answerLicense(w, func() (ledger.Result[commands.License], error) { return a.l.Reassign(r.Context(), req.meta, c) })
}

func (a *API) unassign(w http.ResponseWriter, r *http.Request) error {
	var body struct{ atField }
	req, err := readCommand(w, r, &body, true)
	if err != nil {
		return err
	}
	c := commands.Unassign{Account: r.PathValue("account"), LicenseID: r.PathValue("id"), At: req.at}
	return answerLicense(w, func() (ledger.Result[commands.License], error) { return a.l.Unassign(r.Context(), req.meta, c) })
}

// answerLicense runs a licence command and answers with the licence.
// Time-dependent fields are as of when the command was decided, so a replay
// answers exactly as the first time.
func answerLicense(w http.ResponseWriter, run func() (ledger.Result[commands.License], error)) error {
	res, err := run()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, licenseView(res.State, res.DecidedAt))
	return nil
}

func (a *API) licenseHistory(w http.ResponseWriter, r *http.Request) error {
	lic, err := a.l.License(r.PathValue("account"), r.PathValue("id"))
	if err != nil {
		return err
	}
	return a.writeHistory(w, lic.Account, events.AggregateLicense, lic.ID)
}

func (a *API) checkout(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Email     string `json:"email"`
		MachineID string `json:"machine_id"`
		Until     string `json:"until"`
	}
	req, err := readCommand(w, r, &body, false)
	if err != nil {
		return err
	}
	c := commands.Checkout{Account: r.PathValue("account"), LicenseID: r.PathValue("id"), Email: body.Email,
		MachineID: body.MachineID}
	if c.Until, err = requiredTime("until", body.Until); err != nil {
		return err
	}
	res, err := a.l.Checkout(r.Context(), req.meta, c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"token": res.Token, "until": res.Until})
	return nil
}

func (a *API) checkin(w http.ResponseWriter, r *http.Request) error {
	var body struct{}
	req, err := readCommand(w, r, &body, true)
	if err != nil {
		return err
	}
	c := commands.Checkin{Account: r.PathValue("account"), LicenseID: r.PathValue("id")}
	return answerLicense(w, func() (ledger.Result[commands.License], error) { return a.l.Checkin(r.Context(), req.meta, c) })
}

// cancelLicense cancels a licence from an effective time (H1).
func (a *API) cancelLicense(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		EffectiveAt string `json:"effective_at"`
		Reason      string `json:"reason"`
		atField
	}
	req, err := readCommand(w, r, &body, false)
	if err != nil {
		return err
	}
	c := commands.CancelLicense{Account: r.PathValue("account"), ID: r.PathValue("id"), Reason: body.Reason, At: req.at}
	if c.EffectiveAt, err = requiredTime("effective_at", body.EffectiveAt); err != nil {
		return err
	}
	return answerLicense(w, func() (ledger.Result[commands.License], error) { return a.l.CancelLicense(r.Context(), req.meta, c) })
}
