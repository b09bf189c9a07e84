package api

import (
	"net/http"
	"time"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
)

// recordUsage records a batch of usage records. The body is only decoded
// here; the write side checks the batch and every record (RecordUsage
// normalizes it), so a record that does not decode is rejected alongside
// the invalid ones, each named with its index and code.
func (a *API) recordUsage(w http.ResponseWriter, r *http.Request) error {
	raw, err := readJSONBody(w, r, false)
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
	if err := chargeBody(r, raw, costUsageRecords, body.len()); err != nil {
		return err
	}
	c := commands.RecordUsage{Account: r.PathValue("account"), Records: make([]commands.UsageRecord, body.len())}
	for i := range c.Records {
		rec, err := body.usageRecord(i)
		if err != nil {
			if c.Malformed == nil {
				c.Malformed = map[int]*commands.Error{}
			}
			c.Malformed[i] = err
		}
		c.Records[i] = rec
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
	from, to, err := a.dayRange(r)
	if err != nil {
		return err
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

// dayRange reads the from and to query parameters of a range of UTC days
// (inclusive; by default the last 30 days of the ledger's clock).
func (a *API) dayRange(r *http.Request) (from, to string, err error) {
	to = a.l.Now().Format(time.DateOnly)
	from = a.l.Now().AddDate(0, 0, -30).Format(time.DateOnly)
	for name, dst := range map[string]*string{"from": &from, "to": &to} {
		if v := r.URL.Query().Get(name); v != "" {
			if *dst, err = summaryDay(name, v); err != nil {
				return "", "", err
			}
		}
	}
	if from > to {
		return "", "", commands.Invalid("from", "from %s is after to %s", from, to)
	}
	return from, to, nil
}

// summaryDay reads a usage summary bound: a UTC day (YYYY-MM-DD), or an
// RFC 3339 time, which stands for its UTC day (the summary counts whole
// days).
func summaryDay(field, v string) (string, error) {
	if len(v) == len(time.DateOnly) {
		day, err := commands.ParseDay(field, v)
		return day.Format(time.DateOnly), err
	}
	t, err := commands.ParseTime(field, v)
	if err != nil {
		return "", commands.Invalid(field, "%q is neither a UTC day (YYYY-MM-DD) nor an RFC 3339 time in the years 2000 to 8999", v)
	}
	return t.Format(time.DateOnly), nil
}

// voidUsage voids mis-recorded usage records (H1).
func (a *API) voidUsage(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		UsageIDs []string `json:"usage_ids"`
		Reason   string   `json:"reason"`
		atField
	}
	req, err := readCommand(w, r, &body, false)
	if err != nil {
		return err
	}
	ids, err := a.l.VoidUsage(r.Context(), req.meta, commands.VoidUsage{Account: r.PathValue("account"),
		UsageIDs: body.UsageIDs, Reason: body.Reason, At: req.at})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string][]string{"voided": ids})
	return nil
}
