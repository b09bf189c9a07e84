package console_test

import (
	"regexp"
	"strings"
	"testing"
)

var accountReminderRE = regexp.MustCompile(`(?s)<tr data-account="([^"]+)">.*?<td class="reminder-count">(.*?)</td>`)

// An admin's first page, the accounts table, gives each account's number
// of unassigned practitioner licences with a link to its reminders.
func TestAccountsPageShowsReminders(t *testing.T) {
	tl := startLedger(t)
	tl.seed("acme")
	tl.seed("globex")
	tl.seed("initech")
	tl.api(tl.token, "POST", "/v1/accounts/globex/licenses/P-1/assign", map[string]any{"email": "ada@globex.example"}, 200)
	for _, email := range []string{"ada", "bob"} {
		tl.api(tl.token, "POST", "/v1/accounts/initech/licenses/P-"+map[string]string{"ada": "1", "bob": "2"}[email]+"/assign",
			map[string]any{"email": email + "@initech.example"}, 200)
	}
	b := tl.browser()
	if p := b.signIn(tl.token); p.Location != "/" {
		t.Fatalf("an admin signed in to %q; want the accounts, /", p.Location)
	}
	p := b.get("/")
	got := map[string]string{}
	for _, m := range accountReminderRE.FindAllStringSubmatch(p.Body, -1) {
		got[m[1]] = strings.TrimSpace(m[2])
	}
	want := map[string]string{
		"acme":    `<a href="/accounts/acme#reminders"><strong>2</strong> unassigned</a>`,
		"globex":  `<a href="/accounts/globex#reminders"><strong>1</strong> unassigned</a>`,
		"initech": "none",
	}
	for acct, w := range want {
		if got[acct] != w {
			t.Errorf("%s's reminders on the accounts page: %q; want %q", acct, got[acct], w)
		}
	}
	if !strings.Contains(p.Body, "2 accounts below have unassigned practitioner licences") {
		t.Error("the accounts page does not sum up the reminders")
	}
	if o := b.get("/accounts/acme"); !strings.Contains(o.Body, `id="reminders"`) {
		t.Error("the account overview has no #reminders section to link to")
	}
}
