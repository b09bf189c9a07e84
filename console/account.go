package console

import (
	"net/http"
	"net/url"
	"time"

	"github.com/entledger/ledger/api"
	"github.com/entledger/ledger/ledger"
	"github.com/entledger/ledger/projections"
)

// remindersShown is how many reminders the account's first page lists; the
// rest are a link to the unassigned licences.
const remindersShown = 25

// accountPageData is an account's first page.
type accountPageData struct {
	frame
	Acct          api.AccountView
	Reminders     []reminderRow
	ReminderCount int
	MoreReminders string // the licences page of the unassigned ones
	Alerts        []projections.Alert
	AlertCount    int
	Integrity     *api.IntegrityView
	Problems      []string // the parts of the page the API did not answer, in words
}

// reminderRow is one unassigned practitioner licence (C7).
type reminderRow struct {
	LicenseID, Href string
	Since           time.Time
	AssignableFrom  time.Time
	AssignableNow   bool
	Countdown       countdown // until it can be assigned, when not now
}

// countdown is a time to come, with the words of how long until it; the
// page's script ticks it.
type countdown struct {
	At   time.Time
	Text string
}

func (c *Console) countdown(t time.Time) countdown {
	return countdown{At: t.UTC(), Text: duration(t.Sub(c.now()))}
}

// accountPage shows the account, its reminders first (C7), and a summary:
// recent alerts (G4) and the integrity status (H3).
func (c *Console) accountPage(w http.ResponseWriter, r *http.Request, s session) error {
	account := r.PathValue("account")
	ctx := r.Context()
	d := accountPageData{}
	if err := c.get(ctx, s, apiPath("accounts", account), &d.Acct); err != nil {
		return err
	}
	d.frame = c.frame(s, account, "home", d.Acct.Name)
	var rem struct {
		Unassigned []ledger.Reminder `json:"unassigned"`
	}
	if err := c.get(ctx, s, apiPath("accounts", account, "reminders"), &rem); err != nil {
		if err := d.note("reminders", err); err != nil {
			return err
		}
	}
	now := c.now()
	d.ReminderCount = len(rem.Unassigned)
	for i, u := range rem.Unassigned {
		if i == remindersShown {
			d.MoreReminders = consolePath(account, "licenses") + "?" +
				url.Values{"kind": {"practitioner"}, "assigned": {"false"}}.Encode()
			break
		}
		d.Reminders = append(d.Reminders, reminderRow{LicenseID: u.LicenseID, Href: consolePath(account, "licenses", u.LicenseID),
			Since: u.Since, AssignableFrom: u.AssignableFrom, AssignableNow: !u.AssignableFrom.After(now),
			Countdown: c.countdown(u.AssignableFrom)})
	}
	var alerts struct {
		Alerts []projections.Alert `json:"alerts"`
	}
	if err := c.get(ctx, s, apiPath("accounts", account, "alerts"), &alerts); err != nil {
		if err := d.note("alerts", err); err != nil {
			return err
		}
	}
	d.AlertCount = len(alerts.Alerts)
	for i := len(alerts.Alerts) - 1; i >= 0 && len(d.Alerts) < 5; i-- {
		d.Alerts = append(d.Alerts, alerts.Alerts[i]) // the newest first
	}
	var integ api.IntegrityView
	if err := c.get(ctx, s, apiPath("integrity"), &integ); err != nil {
		if err := d.note("integrity", err); err != nil {
			return err
		}
	} else {
		d.Integrity = &integ
	}
	c.render(w, r, http.StatusOK, "account.html", d)
	return nil
}

// note records that one part of a page could not be shown, in words, and
// lets the page go on; a token the API refuses (401) ends the page.
func (d *accountPageData) note(part string, err error) error {
	text, err := partProblem(part, err)
	if err != nil {
		return err
	}
	d.Problems = append(d.Problems, text)
	return nil
}

// partProblem says in words why a part of a page is missing, or returns
// err when the whole page must fail: a refused token, or a bug.
func partProblem(part string, err error) (string, error) {
	ae, ok := err.(*apiError)
	if !ok || ae.Status == http.StatusUnauthorized {
		return "", err
	}
	return part + ": " + explain(ae), nil
}
