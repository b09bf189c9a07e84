package commands_test

import (
	"testing"
	"time"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
)

// A command's business time `at` may be at most FutureSkew (5 minutes) ahead
// of the ledger's clock (docs/api.md): exactly now+5m is allowed, one nanosecond
// more is at_in_future. Without `at` the ledger's clock is used.
func TestAtInFuture(t *testing.T) {
	now := t0.Add(3 * time.Hour) // the ledger's clock
	tests := []struct {
		name     string
		at       time.Time
		want     time.Time // the event's occurred_at
		wantCode string
	}{
		{"no at: the ledger's clock", time.Time{}, now, ""},
		{"in the past", now.Add(-time.Hour), now.Add(-time.Hour), ""},
		{"now", now, now, ""},
		{"exactly now+5m", now.Add(5 * time.Minute), now.Add(5 * time.Minute), ""},
		{"now+5m+1ns", now.Add(5*time.Minute + time.Nanosecond), time.Time{}, commands.CodeAtInFuture},
		{"a day ahead", now.Add(24 * time.Hour), time.Time{}, commands.CodeAtInFuture},
		{"now+5m in another zone", now.Add(5 * time.Minute).In(time.FixedZone("PST", -8*3600)), now.Add(5 * time.Minute), ""},
	}
	// Every command that takes `at`, in a fresh standard world.
	cmds := []struct {
		name string
		do   func(w *world, at time.Time) ([]events.Event, error)
	}{
		{"CreateAccount", func(w *world, at time.Time) ([]events.Event, error) {
			return commands.CreateAccount{ID: "new", Name: "New", FulfillmentContact: "f@x.com", At: at}.Decide(w.account("new"), now)
		}},
		{"RegisterUser", func(w *world, at time.Time) ([]events.Event, error) {
			return commands.RegisterUser{Account: acct, Email: "new@x.com", At: at}.
				Decide(w.account(acct), w.user(acct, "new@x.com"), w.owner("new@x.com"), commands.DomainOwner{}, now)
		}},
		{"ChangeUserCountry", func(w *world, at time.Time) ([]events.Event, error) {
			return commands.ChangeUserCountry{Account: acct, Email: "a@x.com", EntitlementCountry: "FR", At: at}.
				Decide(w.user(acct, "a@x.com"), now)
		}},
		{"RemoveUser", func(w *world, at time.Time) ([]events.Event, error) {
			return commands.RemoveUser{Account: acct, Email: "a@x.com", At: at}.
				Decide(w.user(acct, "a@x.com"), w.owner("a@x.com"), commands.License{}, now)
		}},
		{"CreateLicense", func(w *world, at time.Time) ([]events.Event, error) {
			return commands.CreateLicense{Account: acct, ID: "NEW", Kind: events.KindTrial, Products: []string{"revit"},
				ValidFrom: termFrom, ValidUntil: termUntil, At: at}.Decide(w.account(acct), w.license(acct, "NEW"), now)
		}},
		{"RenewLicense", func(w *world, at time.Time) ([]events.Event, error) {
			return commands.RenewLicense{Account: acct, ID: "P1", ValidUntil: termUntil.Add(time.Hour), At: at}.
				Decide(w.license(acct, "P1"), now)
		}},
		{"Assign", func(w *world, at time.Time) ([]events.Event, error) {
			return commands.Assign{Account: acct, LicenseID: "P1", Email: "a@x.com", At: at}.
				Decide(w.license(acct, "P1"), w.user(acct, "a@x.com"), now)
		}},
		{"Reassign", func(w *world, at time.Time) ([]events.Event, error) {
			return commands.Reassign{Account: acct, LicenseID: "P2", Email: "c@x.com", At: at}.
				Decide(w.license(acct, "P2"), w.user(acct, "b@x.com"), w.user(acct, "c@x.com"), now)
		}},
		{"Unassign", func(w *world, at time.Time) ([]events.Event, error) {
			return commands.Unassign{Account: acct, LicenseID: "P2", At: at}.
				Decide(w.license(acct, "P2"), w.user(acct, "b@x.com"), now)
		}},
	}
	for _, c := range cmds {
		for _, tt := range tests {
			t.Run(c.name+"/"+tt.name, func(t *testing.T) {
				w := stdWorld(t)
				// P2 is assigned to b@x.com, with its window open until after now+5m.
				w.must(t)(w.assign("P2", "b@x.com", t0))
				evs, err := c.do(w, tt.at)
				if tt.wantCode != "" {
					e := rejected(t, tt.wantCode)(evs, err)
					wantDetail(t, e, "at", rfc3339(tt.at))
					wantDetail(t, e, "now", rfc3339(now))
					return
				}
				evs = w.must(t)(evs, err)
				if len(evs) == 0 {
					t.Fatalf("events: got none, want some")
				}
				for _, e := range evs {
					if !e.OccurredAt.Equal(tt.want) || e.OccurredAt.Location() != time.UTC {
						t.Errorf("%s occurred_at: got %v, want %v UTC", e.Type(), e.OccurredAt, tt.want)
					}
				}
			})
		}
	}
}

// A command's business time may not be earlier than the last event of an
// aggregate it changes (at_before_last_event); equal is allowed.
func TestAtBeforeLastEvent(t *testing.T) {
	last := t0.Add(10 * time.Hour) // P1's last event and, separately, a@x.com's
	now := last.Add(time.Hour)
	tests := []struct {
		name     string
		setup    func(*testing.T, *world)
		do       func(*world, time.Time) ([]events.Event, error)
		at       time.Time
		wantCode string
	}{
		{"Assign before the licence's last event", func(t *testing.T, w *world) {
			w.must(t)(w.renew("P1", termUntil.Add(time.Hour), last))
		}, assignA, last.Add(-time.Nanosecond), commands.CodeAtBeforeLastEvent},
		{"Assign at the licence's last event", func(t *testing.T, w *world) {
			w.must(t)(w.renew("P1", termUntil.Add(time.Hour), last))
		}, assignA, last, ""},
		{"Assign before the user's last event", func(t *testing.T, w *world) {
			w.must(t)(commands.ChangeUserCountry{Account: acct, Email: "a@x.com", EntitlementCountry: "FR", At: last}.
				Decide(w.user(acct, "a@x.com"), last))
		}, assignA, last.Add(-time.Nanosecond), commands.CodeAtBeforeLastEvent},
		{"Assign at the user's last event", func(t *testing.T, w *world) {
			w.must(t)(commands.ChangeUserCountry{Account: acct, Email: "a@x.com", EntitlementCountry: "FR", At: last}.
				Decide(w.user(acct, "a@x.com"), last))
		}, assignA, last, ""},
		{"Reassign before the last assignment", func(t *testing.T, w *world) {
			w.must(t)(w.assign("P1", "b@x.com", last))
		}, func(w *world, at time.Time) ([]events.Event, error) {
			lic := w.license(acct, "P1")
			return commands.Reassign{Account: acct, LicenseID: "P1", Email: "c@x.com", At: at}.
				Decide(lic, w.user(acct, lic.Assignee), w.user(acct, "c@x.com"), now)
		}, last.Add(-time.Hour), commands.CodeAtBeforeLastEvent},
		{"Reassign before the new assignee's last event", func(t *testing.T, w *world) {
			w.must(t)(w.assign("P1", "b@x.com", t0))
			w.must(t)(commands.ChangeUserCountry{Account: acct, Email: "c@x.com", EntitlementCountry: "DE", At: last}.
				Decide(w.user(acct, "c@x.com"), last))
		}, func(w *world, at time.Time) ([]events.Event, error) {
			lic := w.license(acct, "P1")
			return commands.Reassign{Account: acct, LicenseID: "P1", Email: "c@x.com", At: at}.
				Decide(lic, w.user(acct, lic.Assignee), w.user(acct, "c@x.com"), now)
		}, last.Add(-time.Nanosecond), commands.CodeAtBeforeLastEvent},
		{"Unassign before the last assignment", func(t *testing.T, w *world) {
			w.must(t)(w.assign("P1", "b@x.com", last))
		}, func(w *world, at time.Time) ([]events.Event, error) {
			lic := w.license(acct, "P1")
			return commands.Unassign{Account: acct, LicenseID: "P1", At: at}.Decide(lic, w.user(acct, lic.Assignee), now)
		}, last.Add(-time.Nanosecond), commands.CodeAtBeforeLastEvent},
		{"RemoveUser before the held licence's last event", func(t *testing.T, w *world) {
			w.must(t)(w.assign("P1", "a@x.com", t0))
			w.must(t)(w.renew("P1", termUntil.Add(time.Hour), last))
		}, func(w *world, at time.Time) ([]events.Event, error) {
			u := w.user(acct, "a@x.com")
			return commands.RemoveUser{Account: acct, Email: "a@x.com", At: at}.
				Decide(u, w.owner("a@x.com"), w.license(acct, u.LicenseID), now)
		}, last.Add(-time.Nanosecond), commands.CodeAtBeforeLastEvent},
		{"RenewLicense before the licence's last event", func(t *testing.T, w *world) {
			w.must(t)(w.assign("P1", "a@x.com", last))
		}, func(w *world, at time.Time) ([]events.Event, error) {
			return commands.RenewLicense{Account: acct, ID: "P1", ValidUntil: termUntil.Add(time.Hour), At: at}.
				Decide(w.license(acct, "P1"), now)
		}, last.Add(-time.Nanosecond), commands.CodeAtBeforeLastEvent},
		{"RegisterUser before the email's release", func(t *testing.T, w *world) {
			w.must(t)(w.removeUser(other, "g@x.com", last))
		}, func(w *world, at time.Time) ([]events.Event, error) {
			return commands.RegisterUser{Account: acct, Email: "g@x.com", At: at}.
				Decide(w.account(acct), w.user(acct, "g@x.com"), w.owner("g@x.com"), commands.DomainOwner{}, now)
		}, last.Add(-time.Nanosecond), commands.CodeAtBeforeLastEvent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := stdWorld(t)
			tt.setup(t, w)
			if tt.wantCode != "" {
				e := rejected(t, tt.wantCode)(tt.do(w, tt.at))
				if _, ok := e.Details["last_event_at"]; !ok {
					t.Errorf("details: got %v, want last_event_at", e.Details)
				}
				return
			}
			w.must(t)(tt.do(w, tt.at))
		})
	}
}

func assignA(w *world, at time.Time) ([]events.Event, error) {
	return commands.Assign{Account: acct, LicenseID: "P1", Email: "a@x.com", At: at}.
		Decide(w.license(acct, "P1"), w.user(acct, "a@x.com"), at.Add(time.Hour))
}
