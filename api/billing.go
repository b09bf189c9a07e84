package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/entledger/ledger/billing"
	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/ledger"
)

// qtl answers an account's term licence report of a quarter or a month
// (G2, G3, G6, G9, G10).
func (a *API) qtl(w http.ResponseWriter, r *http.Request) error {
	period, asOf, err := reportQuery(r)
	if err != nil {
		return err
	}
	if !a.l.QTLCached(r.PathValue("account"), period, asOf) {
		if err := charge(r, costReports, 1); err != nil {
			return err
		}
	}
	rep, err := a.l.QTL(r.Context(), r.PathValue("account"), period, asOf)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

// qtlAdvice answers how an account could have paid less in a quarter or a
// month (G11).
func (a *API) qtlAdvice(w http.ResponseWriter, r *http.Request) error {
	period, asOf, err := reportQuery(r)
	if err != nil {
		return err
	}
	if err := charge(r, costReports, 1); err != nil {
		return err
	}
	adv, err := a.l.Advice(r.Context(), r.PathValue("account"), period, asOf)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, adv)
	return nil
}

// reportQuery reads a report's period (quarter= or month=, G10) and its
// as_of_seq (G6; 0 when not given).
func reportQuery(r *http.Request) (billing.Period, uint64, error) {
	q := r.URL.Query()
	period, err := ledger.ParsePeriod(q.Get("quarter"), q.Get("month"))
	if err != nil {
		return period, 0, err
	}
	if !q.Has("as_of_seq") {
		return period, 0, nil
	}
	n, err := strconv.ParseUint(q.Get("as_of_seq"), 10, 64)
	if err != nil || n < 1 {
		return period, 0, commands.Invalid("as_of_seq", "%q is not a stream sequence; want a whole number from 1", q.Get("as_of_seq"))
	}
	return period, n, nil
}

// qtlAll answers every account's report of a quarter or a month, one JSON
// object per line, all as of one stream sequence: the input of a billing
// run (G10).
func (a *API) qtlAll(w http.ResponseWriter, r *http.Request) error {
	period, err := ledger.ParsePeriod(r.URL.Query().Get("quarter"), r.URL.Query().Get("month"))
	if err != nil {
		return err
	}
	if err := charge(r, costReports, 1); err != nil {
		return err
	}
	out := newNDJSON(w, a.streamStall)
	err = a.l.QTLAll(r.Context(), period, func(rep billing.Report) error { return out.line(rep) })
	return out.end(err, a.logger, "qtl of every account", period.Field(), period.String())
}

// peaks answers the 10-minute series of a product's pooled use (G7).
func (a *API) peaks(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	product := q.Get("product")
	if product == "" {
		return commands.Invalid("product", "required")
	}
	from, err := requiredTime("from", q.Get("from"))
	if err != nil {
		return err
	}
	to, err := requiredTime("to", q.Get("to"))
	if err != nil {
		return err
	}
	if err := charge(r, costReports, 1); err != nil {
		return err
	}
	points, err := a.l.Peaks(r.Context(), r.PathValue("account"), product, from, to)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		Product   string          `json:"product"`
		Intervals []billing.Point `json:"intervals"`
	}{product, points})
	return nil
}

// peakEvidence answers one interval with each machine counted in it and the
// usage ids that put it there (G7).
func (a *API) peakEvidence(w http.ResponseWriter, r *http.Request) error {
	start, err := requiredTime("interval_start", r.PathValue("interval_start"))
	if err != nil {
		return err
	}
	if err := charge(r, costReports, 1); err != nil {
		return err
	}
	ev, err := a.l.PeakEvidence(r.Context(), r.PathValue("account"), r.PathValue("product"), start.UTC())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ev)
	return nil
}

// usageExport answers the account's usage events in stream order, one
// {seq, event} per line, from from_seq (default 1) to to_seq (default the
// stream's last): a billing system resumes at the sequence after the last
// line it read.
func (a *API) usageExport(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	bound := func(name string, def uint64) (uint64, error) {
		if !q.Has(name) {
			return def, nil
		}
		n, err := strconv.ParseUint(q.Get(name), 10, 64)
		if err != nil || n < 1 {
			return 0, commands.Invalid(name, "%q is not a stream sequence; want a whole number from 1", q.Get(name))
		}
		return n, nil
	}
	from, err := bound("from_seq", 1)
	if err != nil {
		return err
	}
	to, err := bound("to_seq", 0)
	if err != nil {
		return err
	}
	if to != 0 && to < from {
		return commands.Invalid("to_seq", "%d is before from_seq %d", to, from)
	}
	if err := charge(r, costReports, 1); err != nil {
		return err
	}
	out := newNDJSON(w, a.streamStall)
	err = a.l.ExportUsage(r.Context(), r.PathValue("account"), from, to, func(e ledger.ExportedEvent) error { return out.line(e) })
	return out.end(err, a.logger, "usage export", "account", r.PathValue("account"))
}

// ThresholdView is a product's threshold as the API shows it (G8).
type ThresholdView struct {
	Product     string    `json:"product"`
	MaxMachines int       `json:"max_machines"`
	SetAt       time.Time `json:"set_at"`
	SetBy       string    `json:"set_by"`
}

func thresholdView(l commands.AlertLog) ThresholdView {
	return ThresholdView{Product: l.Product, MaxMachines: l.MaxMachines, SetAt: l.SetAt, SetBy: l.SetBy}
}

// setThreshold sets a product's threshold (G8).
func (a *API) setThreshold(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		MaxMachines *int `json:"max_machines"`
		atField
	}
	req, err := readCommand(w, r, &body, false)
	if err != nil {
		return err
	}
	if body.MaxMachines == nil {
		return commands.Invalid("max_machines", "required: alert when more machines than this are in pooled use")
	}
	res, err := a.l.SetThreshold(r.Context(), req.meta, commands.SetThreshold{Account: r.PathValue("account"),
		Product: r.PathValue("product"), MaxMachines: *body.MaxMachines, At: req.at})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, thresholdView(res.State))
	return nil
}

// clearThreshold removes a product's threshold (G8).
func (a *API) clearThreshold(w http.ResponseWriter, r *http.Request) error {
	var body struct{ atField }
	req, err := readCommand(w, r, &body, true)
	if err != nil {
		return err
	}
	if _, err := a.l.ClearThreshold(r.Context(), req.meta, commands.ClearThreshold{Account: r.PathValue("account"),
		Product: r.PathValue("product"), At: req.at}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// thresholds lists the account's thresholds (G8).
func (a *API) thresholds(w http.ResponseWriter, r *http.Request) error {
	logs, err := a.l.Thresholds(r.PathValue("account"))
	if err != nil {
		return err
	}
	out := make([]ThresholdView, len(logs))
	for i, l := range logs {
		out[i] = thresholdView(l)
	}
	writeJSON(w, http.StatusOK, map[string]any{"thresholds": out})
	return nil
}

// alerts lists the account's threshold alerts of the UTC days in [from, to]
// (default: the last 30 days) (G4, G8).
func (a *API) alerts(w http.ResponseWriter, r *http.Request) error {
	from, to, err := a.dayRange(r)
	if err != nil {
		return err
	}
	alerts, err := a.l.Alerts(r.PathValue("account"), from, to)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"alerts": alerts})
	return nil
}
