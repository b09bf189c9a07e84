package ledger

import (
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"time"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
)

// eventKey answers the public key that verifies every event's
// Ledger-Signature header, for auditors and subscribers.
func (a *API) eventKey(w http.ResponseWriter, r *http.Request) error {
	if a.l.signer == nil {
		return commands.Reject(commands.CodeNotFound, "this ledger does not sign its events")
	}
	pub := a.l.signer.Public()
	writeJSON(w, http.StatusOK, map[string]string{
		"algorithm": "Ed25519", "key_id": events.KeyID(pub), "header": events.SignatureHeader,
		"signed": "subject + \"\\n\" + event bytes", "public_key_pem": string(events.PublicKeyPEM(pub)),
	})
	return nil
}

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

func (a *API) getAccount(w http.ResponseWriter, r *http.Request) error {
	acct, err := a.l.Account(r.PathValue("account"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, accountView(acct))
	return nil
}

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

func (a *API) getUser(w http.ResponseWriter, r *http.Request) error {
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
	if err := a.requireAccount(r, req.meta, account); err != nil {
		return err
	}
	res, err := a.l.ChangeUserCountry(r.Context(), req.meta, commands.ChangeUserCountry{
		Account: account, Email: r.PathValue("email"), EntitlementCountry: *body.EntitlementCountry, At: req.at})
	if err != nil {
		return err
	}
	return a.writeUser(w, r, http.StatusOK, res.State)
}

// requireAccount answers account_not_found for an unknown account before a
// command runs, keeping that answer for a keyed request like any other
// rejection, so the request replays the same even once the account exists.
func (a *API) requireAccount(r *http.Request, meta Meta, account string) error {
	if _, err := a.l.Account(account); err != nil {
		return a.l.RecordRejection(r.Context(), meta, err)
	}
	return nil
}

// writeUser answers a user with their live session, if any.
func (a *API) writeUser(w http.ResponseWriter, r *http.Request, status int, u commands.User) error {
	var view *SessionView
	sess, live, err := a.l.LiveSession(r.Context(), u.Account, u.Email)
	if err != nil {
		return err
	}
	if live {
		view = sessionView(sess, a.l.sessionTTL)
	}
	writeJSON(w, status, userView(u, view))
	return nil
}

func (a *API) removeUser(w http.ResponseWriter, r *http.Request) error {
	var body struct{ atField }
	req, err := readCommand(w, r, &body, true)
	if err != nil {
		return err
	}
	account := r.PathValue("account")
	if err := a.requireAccount(r, req.meta, account); err != nil {
		return err
	}
	if _, err := a.l.RemoveUser(r.Context(), req.meta, commands.RemoveUser{
		Account: account, Email: r.PathValue("email"), At: req.at}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) createLicense(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		ID         string   `json:"id"`
		Kind       string   `json:"kind"`
		Products   []string `json:"products"`
		Seats      int      `json:"seats"`
		ValidFrom  string   `json:"valid_from"`
		ValidUntil string   `json:"valid_until"`
		atField
	}
	req, err := readCommand(w, r, &body, false)
	if err != nil {
		return err
	}
	c := commands.CreateLicense{Account: r.PathValue("account"), ID: body.ID, Kind: body.Kind,
		Products: body.Products, Seats: body.Seats, At: req.at}
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
	if r.URL.Query().Has("as_of") {
		asOf, err := requiredTime("as_of", r.URL.Query().Get("as_of"))
		if err != nil {
			return err
		}
		lic, err := a.l.LicenseAsOf(account, id, asOf)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, licenseView(lic, asOf))
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
	return a.licenseCommand(w, r, req.meta, func() (Result[commands.License], error) { return a.l.RenewLicense(r.Context(), req.meta, c) })
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
	return a.licenseCommand(w, r, req.meta, func() (Result[commands.License], error) { return a.l.Assign(r.Context(), req.meta, c) })
}

func (a *API) reassign(w http.ResponseWriter, r *http.Request) error {
	var body emailAt
	req, err := readCommand(w, r, &body, false)
	if err != nil {
		return err
	}
	c := commands.Reassign{Account: r.PathValue("account"), LicenseID: r.PathValue("id"), Email: body.Email, At: req.at}
	return a.licenseCommand(w, r, req.meta, func() (Result[commands.License], error) { return a.l.Reassign(r.Context(), req.meta, c) })
}

func (a *API) unassign(w http.ResponseWriter, r *http.Request) error {
	var body struct{ atField }
	req, err := readCommand(w, r, &body, true)
	if err != nil {
		return err
	}
	c := commands.Unassign{Account: r.PathValue("account"), LicenseID: r.PathValue("id"), At: req.at}
	return a.licenseCommand(w, r, req.meta, func() (Result[commands.License], error) { return a.l.Unassign(r.Context(), req.meta, c) })
}

// licenseCommand checks the account exists (so an unknown account is a 404,
// not a rule rejection), runs the command and answers with the licence.
// Time-dependent fields are as of when the command was decided, so a replay
// answers exactly as the first time.
func (a *API) licenseCommand(w http.ResponseWriter, r *http.Request, meta Meta, run func() (Result[commands.License], error)) error {
	if err := a.requireAccount(r, meta, r.PathValue("account")); err != nil {
		return err
	}
	res, err := run()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, licenseView(res.State, res.DecidedAt))
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

func (a *API) licenseHistory(w http.ResponseWriter, r *http.Request) error {
	lic, err := a.l.License(r.PathValue("account"), r.PathValue("id"))
	if err != nil {
		return err
	}
	return a.writeHistory(w, lic.Account, events.AggregateLicense, lic.ID)
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
	if err := a.requireAccount(r, req.meta, c.Account); err != nil {
		return err
	}
	res, err := a.l.SignIn(r.Context(), req.meta, c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, sessionView(res.State, a.l.sessionTTL))
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
	if err := a.requireAccount(r, req.meta, c.Account); err != nil {
		return err
	}
	res, err := a.l.Heartbeat(r.Context(), req.meta, c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, sessionView(res.State, a.l.sessionTTL))
	return nil
}

func (a *API) signOut(w http.ResponseWriter, r *http.Request) error {
	var body struct{}
	req, err := readCommand(w, r, &body, true)
	if err != nil {
		return err
	}
	c := commands.SignOut{Account: r.PathValue("account"), Email: r.PathValue("email")}
	if err := a.requireAccount(r, req.meta, c.Account); err != nil {
		return err
	}
	if _, err := a.l.SignOut(r.Context(), req.meta, c); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

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
	if err := a.requireAccount(r, req.meta, c.Account); err != nil {
		return err
	}
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
	if err := a.requireAccount(r, req.meta, c.Account); err != nil {
		return err
	}
	res, err := a.l.Check(r.Context(), req.meta, c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, checkView(res.State))
	return nil
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
	if err := a.requireAccount(r, req.meta, c.Account); err != nil {
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
	return a.licenseCommand(w, r, req.meta, func() (Result[commands.License], error) { return a.l.Checkin(r.Context(), req.meta, c) })
}

// checkoutKey answers the public key that verifies offline checkout tokens.
func (a *API) checkoutKey(w http.ResponseWriter, r *http.Request) error {
	if a.l.checkoutKey == nil {
		return commands.Reject(commands.CodeNotFound, "this ledger has no checkout key")
	}
	pub := a.l.checkoutKey.Public().(ed25519.PublicKey)
	writeJSON(w, http.StatusOK, map[string]string{
		"algorithm": "Ed25519", "key_id": events.KeyID(pub), "token_format": "LCK1.<base64url payload>.<base64url signature>",
		"signed": "\"ledger checkout token v1\\n\" + payload", "public_key_pem": string(events.PublicKeyPEM(pub)),
	})
	return nil
}

// usageRecordBody is one record of POST .../usage.
func (a *API) recordUsage(w http.ResponseWriter, r *http.Request) error {
	raw, err := readBody(w, r)
	if err != nil {
		return err
	}
	body, err := decodeUsageBody(raw)
	if err != nil {
		return err
	}
	meta, err := commandMeta(r, raw)
	if err != nil {
		return err
	}
	n := body.len()
	if n == 0 || n > commands.MaxUsageBatch {
		return commands.Invalid("records", "a batch holds 1 to %d records, not %d", commands.MaxUsageBatch, n)
	}
	c := commands.RecordUsage{Account: r.PathValue("account"), Records: make([]commands.UsageRecord, n)}
	var bad []commands.BadRecord
	for i := range n {
		rb, derr := body.record(i)
		rec, err := func() (commands.UsageRecord, error) {
			if derr != nil {
				return commands.UsageRecord{}, derr
			}
			rec := commands.UsageRecord{UsageID: rb.UsageID, Email: rb.Email, Product: rb.Product, MachineID: rb.MachineID,
				ClientVersion: rb.ClientVersion, Offline: rb.Offline}
			var err error
			if rec.StartedAt, err = requiredTime("started_at", rb.StartedAt); err != nil {
				return rec, err
			}
			if rec.EndedAt, err = requiredTime("ended_at", rb.EndedAt); err != nil {
				return rec, err
			}
			// Every field of every record is checked here, so the answer
			// names each bad record, whatever made it bad.
			if _, rerr := rec.Normalize(); rerr != nil {
				return rec, rerr
			}
			return rec, nil
		}()
		if err != nil {
			e := err.(*commands.Error)
			field, _ := e.Details["field"].(string)
			id := rb.UsageID
			if id == "" && body.raw != nil { // the record did not decode: name it by its usage_id if it has one
				var named struct {
					UsageID string `json:"usage_id"`
				}
				json.Unmarshal(body.raw[i], &named)
				id = named.UsageID
			}
			bad = append(bad, commands.BadRecord{Index: i, UsageID: id, Code: e.Code, Field: field, Message: e.Message})
		}
		c.Records[i] = rec
	}
	if len(bad) > 0 {
		return commands.RejectBatch(bad)
	}
	if err := a.requireAccount(r, meta, c.Account); err != nil {
		return err
	}
	ans, err := a.l.RecordUsage(r.Context(), meta, c)
	if err != nil {
		return err
	}
	// Structs, not maps: an answer holds up to a thousand results. The
	// fields are in the order maps would sort them into.
	type result struct {
		Classification string  `json:"classification"`
		Duplicate      bool    `json:"duplicate"`
		LicenseID      *string `json:"license_id"`
		UsageID        string  `json:"usage_id"`
	}
	results := make([]result, len(ans.Results))
	for i, res := range ans.Results {
		results[i] = result{Classification: res.Classification, Duplicate: res.Duplicate,
			LicenseID: nullable(res.LicenseID), UsageID: res.UsageID}
	}
	writeJSON(w, http.StatusOK, struct {
		Accepted   int      `json:"accepted"`
		Duplicates int      `json:"duplicates"`
		Results    []result `json:"results"`
	}{ans.Accepted, ans.Duplicates, results})
	return nil
}

func (a *API) usageSummary(w http.ResponseWriter, r *http.Request) error {
	account := r.PathValue("account")
	if _, err := a.l.Account(account); err != nil {
		return err
	}
	to := a.l.Now().Format(time.DateOnly)
	from := a.l.Now().AddDate(0, 0, -30).Format(time.DateOnly)
	for name, dst := range map[string]*string{"from": &from, "to": &to} {
		if v := r.URL.Query().Get(name); v != "" {
			if _, err := time.Parse(time.DateOnly, v); err != nil {
				return commands.Invalid(name, "%q is not a UTC day (YYYY-MM-DD)", v)
			}
			*dst = v
		}
	}
	if from > to {
		return commands.Invalid("from", "from %s is after to %s", from, to)
	}
	days, err := a.l.UsageSummary(r.Context(), account, from, to)
	if err != nil {
		return err
	}
	out := make([]map[string]any, len(days))
	for i, d := range days {
		row := map[string]any{"product": d.Product, "day": d.Day}
		for _, class := range []string{events.ClassPooled, events.ClassPractitioner, events.ClassTrial} {
			t := d.Totals[class]
			row[class] = map[string]any{"sessions": t.Sessions, "hours": float64(t.Seconds) / 3600,
				"users": t.Users, "machines": t.Machines}
		}
		out[i] = row
	}
	writeJSON(w, http.StatusOK, map[string]any{"account": account, "from": from, "to": to, "days": out})
	return nil
}
