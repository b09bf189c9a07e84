package commands_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
)

// Every event a command emits encodes with events.Marshal once the write side
// has filled in its metadata, and matches its JSON Schema. The scenario below
// emits every type of the catalogue; world.apply runs checkMarshal on each
// event, and this test checks again explicitly and that no type is missed.
func TestEmittedEventsMarshal(t *testing.T) {
	w := stdWorld(t) // account.created, user.registered, email.claimed, license.created
	w.must(t)(commands.ChangeUserCountry{Account: acct, Email: "n@x.com", EntitlementCountry: "IT", At: t0}.
		Decide(w.user(acct, "n@x.com"), t0))
	w.must(t)(w.assign("P1", "a@x.com", t0))
	w.must(t)(w.reassign("P1", "b@x.com", t0.Add(time.Hour)))
	w.must(t)(w.unassign("P1", t0.Add(2*time.Hour)))
	w.must(t)(w.assign("P2", "c@x.com", t0.Add(3*time.Hour)))
	w.must(t)(w.renew("P2", termUntil.Add(365*24*time.Hour), t0.Add(4*time.Hour)))
	w.must(t)(w.removeUser(acct, "c@x.com", windowCloses.Add(time.Hour+3*time.Hour))) // locked: A4
	w.must(t)(w.assign("P1", "a@x.com", lockedUntil))                                 // C4: new window
	w.must(t)(w.reassign("P1", "d@x.com", lockedUntil.Add(lock+window)))              // C4: new window
	late := lockedUntil.Add(2 * (lock + window))
	signIn := commands.SignIn{Account: acct, Email: "d@x.com", MachineID: "m1", ClientVersion: "10.00.18", ClientTime: late}
	w.must(t)(signIn.Decide(w.user(acct, "d@x.com"), w.session(acct, "d@x.com"), late, commands.DefaultSessionTTL))
	signIn.ClientTime = late.Add(time.Hour)
	w.must(t)(signIn.Decide(w.user(acct, "d@x.com"), w.session(acct, "d@x.com"), late.Add(time.Hour), commands.DefaultSessionTTL))
	w.must(t)(commands.SignOut{Account: acct, Email: "d@x.com"}.Decide(w.session(acct, "d@x.com"), late.Add(2*time.Hour), commands.DefaultSessionTTL))
	co := commands.Checkout{Account: acct, LicenseID: "P1", Email: "d@x.com", MachineID: "m1", Until: late.Add(5 * time.Hour)}
	w.must(t)(co.Decide(w.license(acct, "P1"), w.session(acct, "d@x.com"), late.Add(2*time.Hour), commands.DefaultSessionTTL))
	w.must(t)(commands.Checkin{Account: acct, LicenseID: "P1"}.Decide(w.license(acct, "P1"), w.session(acct, "d@x.com"), late.Add(2*time.Hour+time.Minute)))
	uctx := commands.UsageFacts{Users: map[string]commands.User{"d@x.com": w.user(acct, "d@x.com")},
		Licenses: map[string]commands.License{"P1": w.license(acct, "P1")}}
	usage := commands.RecordUsage{Account: acct, Records: []commands.UsageRecord{{UsageID: "u1", Email: "d@x.com",
		Product: "p1", MachineID: "m1", ClientVersion: "10.00.18", StartedAt: late, EndedAt: late.Add(time.Hour)}}}
	uevs, _, err := usage.Decide(uctx, late.Add(2*time.Hour+2*time.Minute))
	w.must(t)(uevs, err)
	w.must(t)(commands.VoidUsage{Account: acct, UsageIDs: []string{"u1"}, Reason: "recorded by a broken client"}.Decide(
		map[string]commands.KnownUsage{"u1": {Product: "p1"}}, nil, late.Add(2*time.Hour+3*time.Minute)))
	w.must(t)(commands.SetAccess{Account: acct, Product: "prod", Default: "deny", Allow: []string{"d@x.com"}, Deny: []string{}}.
		Decide(*w.accounts[acct], commands.Access{}, late.Add(3*time.Hour)))
	w.must(t)(commands.Check{Account: acct, Email: "d@x.com", Product: "prod", MachineID: "m1", ClientVersion: "10.00.18"}.
		Decide(*w.accounts[acct], w.user(acct, "d@x.com"), w.license(acct, "P1"), nil, commands.Access{}, commands.CheckLog{}, late.Add(4*time.Hour)))
	set, err := commands.SetThreshold{Account: acct, Product: "prod", MaxMachines: 10}.Decide(commands.AlertLog{}, late.Add(5*time.Hour))
	w.must(t)(set, err)
	var log commands.AlertLog
	for _, e := range set {
		log.Apply(e)
	}
	over := &commands.Crossing{IntervalStart: late.Truncate(24 * time.Hour).Add(10 * time.Hour), Count: 11, Machines: make([]string, 11)}
	for i := range over.Machines {
		over.Machines[i] = fmt.Sprintf("m%02d", i)
	}
	w.must(t)(commands.RaiseAlert{Account: acct, Product: "prod", Day: over.IntervalStart.Format(time.DateOnly)}.Decide(log, over, late.Add(5*time.Hour+time.Minute)))
	w.must(t)(commands.ClearThreshold{Account: acct, Product: "prod"}.Decide(log, late.Add(6*time.Hour)))
	w.must(t)(commands.CancelLicense{Account: acct, ID: "P2", EffectiveAt: termUntil, Reason: "sold by mistake"}.
		Decide(w.license(acct, "P2"), late.Add(6*time.Hour+time.Minute)))
	remindAt := late.Add(7 * time.Hour) // P2 is unassigned since its user was removed
	w.must(t)(commands.RemindUnassigned{Account: acct, LicenseID: "P2", Day: remindAt.Format(time.DateOnly)}.
		Decide(commands.ReminderLog{}, w.license(acct, "P2"), remindAt))

	tokAt := late.Add(8 * time.Hour)
	created := w.must(t)(commands.CreateToken{ID: "01jgz8y0000000000000000042", Name: "ci", Role: events.RoleIngest, Account: acct,
		SecretHash: events.Hash([]byte("s"))}.Decide(commands.Token{}, tokAt))
	var tok commands.Token
	tok.Apply(created[0])
	w.must(t)(commands.RevokeToken{ID: tok.ID}.Decide(tok, tokAt.Add(time.Minute)))

	claimed := w.must(t)(commands.ClaimDomain{Account: acct, Domain: "x.com"}.Decide(*w.accounts[acct], commands.DomainOwner{}, tokAt.Add(2*time.Minute)))
	var domain commands.DomainOwner
	domain.Apply(claimed[0])
	w.must(t)(commands.ReleaseDomain{Account: acct, Domain: "x.com"}.Decide(domain, tokAt.Add(3*time.Minute)))

	seen := map[string]bool{}
	for i, e := range w.log {
		seen[e.Type()] = true
		e.ID = events.NewID()
		e.Actor = "test"
		e.CommandID = "c1"
		e.CorrelationID = "c1"
		e.RecordedAt = e.OccurredAt
		raw, err := events.Marshal(e)
		if err != nil {
			t.Errorf("event %d %s: Marshal got %v, want nil", i, e.Type(), err)
			continue
		}
		if err := events.CheckSchema(raw); err != nil {
			t.Errorf("event %d %s: CheckSchema got %v, want nil; event %s", i, e.Type(), err, raw)
		}
	}
	var missing []string
	for _, typ := range events.Types() {
		if !seen[typ] {
			missing = append(missing, typ)
		}
	}
	if len(missing) > 0 {
		t.Errorf("event types emitted: missing %v, want every type of the catalogue", missing)
	}
	if !slices.IsSortedFunc(w.log, func(a, b events.Event) int { return a.OccurredAt.Compare(b.OccurredAt) }) {
		t.Errorf("events: got business times out of order")
	}
}
