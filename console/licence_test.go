package console_test

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

var (
	milestoneRE = regexp.MustCompile(`<li class="([a-z]*)">([^<]*)(?: <strong>\((now|then)\)</strong>)?</li>`)
	lockStateRE = regexp.MustCompile(`(?s)<p class="state[^"]*" id="lock-state">(.*?)</p>`)
	tlDescRE    = regexp.MustCompile(`<desc id="tl-desc">([^<]*)</desc>`)
)

// currentMilestone is the timeline's step marked current on a licence
// page, and the mark it has (now or then).
func currentMilestone(t *testing.T, p page) (label, mark string) {
	t.Helper()
	for _, m := range milestoneRE.FindAllStringSubmatch(p.Body, -1) {
		if m[1] == "current" {
			if label != "" {
				t.Errorf("two current steps: %q and %q", label, m[2])
			}
			label, mark = m[2], m[3]
		}
	}
	if label == "" {
		t.Errorf("no current step on the timeline:\n%s", p.Body)
	}
	return label, mark
}

// A user removed while their licence's window is open: the API answers
// the licence locked until locked_until (A4), and the licence page's
// timeline says so too, not "in the window".
func TestTimelineOfALicenceTakenInItsWindow(t *testing.T) {
	tl := startLedger(t)
	tl.seed("acme")
	tl.api(tl.token, "POST", "/v1/accounts/acme/licenses/P-1/assign", map[string]any{"email": "ada@acme.example"}, 200)
	tl.clock.Advance(time.Hour)
	tl.api(tl.token, "DELETE", "/v1/accounts/acme/users/ada@acme.example", nil, 204)
	if lic := tl.api(tl.token, "GET", "/v1/accounts/acme/licenses/P-1", nil, 200); lic["lock_state"] != "locked" {
		t.Fatalf("the API's lock_state %v after the removal in the window; want locked (A4)", lic["lock_state"])
	}
	b := tl.browser()
	b.signIn(tl.token)
	p := b.get("/accounts/acme/licenses/P-1")
	if m := lockStateRE.FindStringSubmatch(p.Body); m == nil || !strings.Contains(m[1], "Locked until 2026-02-05 09:00 UTC") {
		t.Errorf("the state line: %v; want Locked until 2026-02-05 09:00 UTC", m)
	}
	if label, mark := currentMilestone(t, p); !strings.HasPrefix(label, "2026-01-06 09:00 UTC: Window closes: the licence is locked") ||
		!strings.Contains(label, "A4") || mark != "now" {
		t.Errorf("the timeline's current step: %q (%s); want the lock, now, with A4's reason", label, mark)
	}
	if m := tlDescRE.FindStringSubmatch(p.Body); m == nil || !strings.Contains(m[1], ": locked, until 2026-02-05 09:00 UTC") ||
		strings.Contains(m[1], "in the window") {
		t.Errorf("the timeline's description: %v; want it locked now", m)
	}
	// As of before the removal, the window was open then.
	p = b.get("/accounts/acme/licenses/P-1?as_of=2026-01-05T09:30")
	if label, mark := currentMilestone(t, p); !strings.Contains(label, "Window opened") || mark != "then" {
		t.Errorf("as of before the removal, the current step: %q (%s); want the window, then", label, mark)
	}
}

// As of a past time the countdowns are gone, and the sentence that led to
// one reads in the past tense, complete.
func TestAsOfStateInThePastTense(t *testing.T) {
	tl := startLedger(t)
	tl.seed("acme")
	tl.api(tl.token, "POST", "/v1/accounts/acme/licenses/P-1/assign", map[string]any{"email": "ada@acme.example"}, 200)
	tl.clock.Advance(40 * 24 * time.Hour)
	b := tl.browser()
	b.signIn(tl.token)
	for asOf, want := range map[string]string{
		"2026-01-05T10:00": "Window open then: free to move; the window closed at 2026-01-06 09:00 UTC.",
		"2026-01-07T10:00": "Locked then; the lock ended at 2026-02-05 09:00 UTC.",
	} {
		p := b.get("/accounts/acme/licenses/P-1?as_of=" + asOf)
		m := lockStateRE.FindStringSubmatch(p.Body)
		if m == nil {
			t.Fatalf("as of %s: no state line", asOf)
		}
		state := strings.TrimSpace(m[1])
		if state != want || strings.Contains(state, "countdown") {
			t.Errorf("as of %s the state reads %q; want %q", asOf, state, want)
		}
		if _, mark := currentMilestone(t, p); mark != "then" {
			t.Errorf("as of %s the timeline marks its current step %q; want then", asOf, mark)
		}
	}
	// Now, the same licence: free, without a countdown.
	p := b.get("/accounts/acme/licenses/P-1")
	if m := lockStateRE.FindStringSubmatch(p.Body); m == nil || !strings.Contains(m[1], "Free to move (its lock ended 2026-02-05 09:00 UTC)") {
		t.Errorf("now the state reads %v", m)
	}
}
