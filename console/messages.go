package console

import (
	"fmt"
	"math"

	"github.com/entledger/ledger/commands"
)

// explain says in words what an error of the API means for the person at
// the console, from its code and details; a code without words of its own
// shows the API's message, which is written for people too.
func explain(e *apiError) string {
	switch e.Code {
	case commands.CodeLicenseLocked:
		return lockedText(e)
	case commands.CodeLicenseCheckedOut:
		return fmt.Sprintf("This licence is checked out for offline use on machine %s until %s (C6): it cannot be moved "+
			"or taken away before it is checked in.", e.detail("machine_id"), showAPITime(e.detail("until")))
	case commands.CodeLicenseAssigned:
		return fmt.Sprintf("This licence is already assigned to %s: use Reassign to move it.", e.detail("assignee"))
	case commands.CodeAlreadyAssigned:
		return fmt.Sprintf("This licence is already assigned to %s (C5).", e.detail("assignee"))
	case commands.CodeNotAssigned:
		return "This licence has no assignee (C5): assign it instead."
	case commands.CodeUserNotFound:
		return fmt.Sprintf("%s is not a user of this account: add the user on the Users page first.", e.detail("email"))
	case commands.CodeEntitlementCountryMissing:
		return fmt.Sprintf("%s has no entitlement country, and a licence goes only to a user with one (A3): "+
			"set the country on the user's page first.", e.detail("email"))
	case commands.CodeUserAlreadyLicensed:
		return fmt.Sprintf("%s already holds practitioner licence %s (C1): a user holds one at a time.",
			e.detail("email"), e.detail("license_id"))
	case commands.CodeLicenseInactive:
		return fmt.Sprintf("This licence is outside its term (%s to %s), so it cannot be assigned now.",
			showAPITime(e.detail("valid_from")), showAPITime(e.detail("valid_until")))
	case commands.CodeNotPractitioner:
		return fmt.Sprintf("This is a %s licence: only practitioner licences are assigned to a user.", e.detail("kind"))
	case commands.CodeUserExists:
		return fmt.Sprintf("%s is already a user of this account.", e.detail("email"))
	case commands.CodeUserInOtherAccount:
		return fmt.Sprintf("%s is registered in another account, and an email belongs to one account at a time (A2).",
			e.detail("email"))
	case commands.CodeAccountNotFound:
		return "This account does not exist, or your token does not reach it."
	case commands.CodeLicenseNotFound:
		return fmt.Sprintf("There is no licence %q in this account (at that time, for a past date).", e.detail("license_id"))
	case commands.CodeForbidden:
		return fmt.Sprintf("Your token's role (%s) may not do this. Ask an administrator for a token with the role it needs.",
			e.detail("role"))
	case commands.CodeRateLimited:
		return fmt.Sprintf("Too many changes at once from this token: try again in %s s.", e.detail("retry_after_seconds"))
	case commands.CodeInvalidArgument:
		if f := e.detail("field"); f != "" {
			return fmt.Sprintf("%s: %s", f, e.Message)
		}
	case commands.CodeUnavailable:
		return "The ledger could not answer in time. Try again in a moment."
	case commands.CodeInternal:
		return "The ledger failed to answer (a bug, which it logged)."
	}
	if e.Message == "" {
		return fmt.Sprintf("The ledger answered %d.", e.Status)
	}
	return e.Message
}

// lockedText explains license_locked: until when, and why (C3, A4).
func lockedText(e *apiError) string {
	until, closed := e.detail("locked_until"), e.detail("window_closes_at")
	why := "after its assignment window closed"
	if u, ok := apiTime(until); ok {
		if c, ok := apiTime(closed); ok {
			days := int(math.Round(u.Sub(c).Hours() / 24))
			why = fmt.Sprintf("%d days after its 24-hour assignment window closed at %s", days, showTime(c))
		}
	}
	return fmt.Sprintf("This licence is locked until %s (%s). It can be given to someone else from then on.",
		showAPITime(until), why)
}
