package console

import (
	"net/http"
	"strings"

	"github.com/entledger/ledger/api"
	"github.com/entledger/ledger/events"
)

// auditPageData is the audit page: the integrity status (H3), and the
// account's history with the ways to every other history.
type auditPageData struct {
	frame
	Integrity  api.IntegrityView
	BreakHref  string // the history of the first break's aggregate, when it is one the console shows
	History    []historyRow
	HistoryErr string
}

// auditPage shows what the running ledger found wrong with its stream and
// the account aggregate's events; the search fields open a licence's or a
// user's page at its history.
func (c *Console) auditPage(w http.ResponseWriter, r *http.Request, s session) error {
	account := r.PathValue("account")
	q := r.URL.Query()
	if id := strings.TrimSpace(q.Get("license")); id != "" {
		redirect(w, r, consolePath(account, "licenses", id)+"#history")
		return nil
	}
	if email := strings.TrimSpace(q.Get("user")); email != "" {
		redirect(w, r, consolePath(account, "users", email)+"#history")
		return nil
	}
	var d auditPageData
	hist, err := c.history(r, s, apiPath("accounts", account, "history"))
	if err != nil {
		return err
	}
	d.History = hist
	if err := c.get(r.Context(), s, apiPath("integrity"), &d.Integrity); err != nil {
		return err
	}
	if b := d.Integrity.FirstBreak; b != nil {
		// The break's own account: the page's, or for a token of every
		// account (whose status is the whole ledger's) any account.
		if acct, agg, id, err := events.ParseSubject(b.Subject); err == nil && acct != events.GlobalAccount && (acct == account || s.everyAccount) {
			switch agg {
			case events.AggregateLicense:
				d.BreakHref = consolePath(acct, "licenses", id) + "#history"
			case events.AggregateUser:
				d.BreakHref = consolePath(acct, "users", id) + "#history"
			case events.AggregateAccount:
				d.BreakHref = consolePath(acct, "audit") + "#history"
			}
		}
	}
	d.frame = c.frame(s, account, "audit", "Audit")
	c.render(w, r, http.StatusOK, "audit.html", d)
	return nil
}
