package ledger_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// rule A1
func TestRuleA1CreateAccount(t *testing.T) {
	tl := startLedger(t, "", nil)
	r := tl.must(201, "POST", "/v1/accounts",
		map[string]any{"id": "acme", "name": "Acme GmbH", "fulfillment_contact": "Ops@Acme.Example"})
	want := map[string]any{
		"id": "acme", "name": "Acme GmbH", "created_at": e2eTS(T0),
		"fulfillment_contacts": []string{"ops@acme.example"}, // stored lower-cased
		"admins":               []string{"ops@acme.example"}, // the first contact is an admin
	}
	e2eFields(t, "POST answer", r.Body, want)
	got := tl.must(200, "GET", e2eAcme, nil)
	e2eFields(t, "GET", got.Body, want)

	// The id's grammar: [a-z0-9][a-z0-9-]{0,62}.
	long := strings.Repeat("a", 63)
	tl.must(201, "POST", "/v1/accounts", map[string]any{"id": long, "name": "Long", "fulfillment_contact": "x@long.example"})
	tl.must(201, "POST", "/v1/accounts", map[string]any{"id": "0-a", "name": "Digits", "fulfillment_contact": "x@d.example"})
	for _, id := range []string{"", "Acme", "-acme", "ac_me", "_global", "ac.me", long + "a", "acme "} {
		r := e2eReject(tl, 400, "invalid_argument", "POST", "/v1/accounts",
			map[string]any{"id": id, "name": "X", "fulfillment_contact": "x@y.example"})
		e2eDetail(t, r, "field", "id")
	}
	for _, c := range []string{"", "not-an-email", "a@b", "a b@c.example", "@c.example"} {
		r := e2eReject(tl, 400, "invalid_argument", "POST", "/v1/accounts",
			map[string]any{"id": "other", "name": "X", "fulfillment_contact": c})
		e2eDetail(t, r, "field", "fulfillment_contact")
	}
	r = e2eReject(tl, 400, "invalid_argument", "POST", "/v1/accounts",
		map[string]any{"id": "other", "name": "  ", "fulfillment_contact": "x@y.example"})
	e2eDetail(t, r, "field", "name")
	e2eReject(tl, 409, "account_exists", "POST", "/v1/accounts",
		map[string]any{"id": "acme", "name": "Acme again", "fulfillment_contact": "x@y.example"})
	tl.checkStream()
}

// rule A2
func TestRuleA2UserInOneAccount(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	tl.must(201, "POST", "/v1/accounts", map[string]any{"id": "globex", "name": "Globex", "fulfillment_contact": "it@globex.example"})
	r := tl.must(201, "POST", "/v1/accounts/globex/users", map[string]any{"email": "Dora@Y.example", "entitlement_country": "FR"})
	e2eFields(t, "register", r.Body, map[string]any{"email": "dora@y.example", "entitlement_country": "FR", "license_id": nil})

	for _, email := range []string{"dora@y.example", "DORA@y.EXAMPLE", " dora@y.example "} {
		r := e2eReject(tl, 409, "user_in_other_account", "POST", e2eAcme+"/users",
			map[string]any{"email": email, "entitlement_country": "DE"})
		msg := r.Body["error"].(map[string]any)["message"].(string)
		if !strings.Contains(msg, "admin") || !strings.Contains(msg, "remove") {
			t.Errorf("message %q does not tell that the other account's admin must remove the user", msg)
		}
		if strings.Contains(string(r.Raw), "globex") || strings.Contains(string(r.Raw), "Globex") {
			t.Errorf("user_in_other_account reveals the other account: %s", r.Raw)
		}
	}
	tl.must(404, "GET", e2eAcme+"/users/dora@y.example", nil)

	// The same email twice in one account, in any case.
	for _, email := range []string{"a@x.example", "A@X.Example"} {
		e2eReject(tl, 409, "user_exists", "POST", e2eAcme+"/users", map[string]any{"email": email})
	}
	tl.checkStream()
}

// rule A3
func TestRuleA3CountryRequiredToAssign(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	r := tl.must(201, "POST", e2eAcme+"/users", map[string]any{"email": "n@x.example"})
	e2eFields(t, "register without country", r.Body, map[string]any{"entitlement_country": nil})
	r = e2eReject(tl, 409, "entitlement_country_missing", "POST", e2eP1+"/assign", e2eAssign("n@x.example"))
	e2eDetail(t, r, "email", "n@x.example")

	for _, c := range []any{"", "XX", "DEU", "D", 49} {
		r := e2eReject(tl, 400, "invalid_argument", "PATCH", e2eAcme+"/users/n@x.example", map[string]any{"entitlement_country": c})
		e2eDetail(t, r, "field", "entitlement_country")
	}
	r = e2eReject(tl, 400, "invalid_argument", "PATCH", e2eAcme+"/users/n@x.example", map[string]any{})
	e2eDetail(t, r, "field", "entitlement_country")
	r = e2eReject(tl, 400, "invalid_argument", "POST", e2eAcme+"/users", map[string]any{"email": "m@x.example", "entitlement_country": "ZZ"})
	e2eDetail(t, r, "field", "entitlement_country")

	r = tl.must(200, "PATCH", e2eAcme+"/users/N@X.example", map[string]any{"entitlement_country": "de"})
	e2eFields(t, "PATCH", r.Body, map[string]any{"email": "n@x.example", "entitlement_country": "DE"})
	r = tl.must(200, "GET", e2eAcme+"/users/n@x.example", nil)
	e2eFields(t, "GET user", r.Body, map[string]any{"entitlement_country": "DE", "license_id": nil})

	r = tl.must(200, "POST", e2eP1+"/assign", e2eAssign("n@x.example"))
	e2eFields(t, "assign", r.Body, map[string]any{"assignee": "n@x.example"})
	types := e2eTypes(e2eHistory(tl, e2eAcme+"/users/n@x.example/history"))
	if want := []string{"user.registered", "user.country_changed", "user.license_attached"}; !reflect.DeepEqual(types, want) {
		t.Errorf("user history got %v, want %v", types, want)
	}
	tl.checkStream()
}

// rule A4 (and C3: the lock keeps running; C7: the licence is reminded)
func TestRuleA4RemoveUserWhileLocked(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	closes, lockedUntil := T0.Add(e2eWindow), T0.Add(e2eLock)
	tl.must(200, "POST", e2eP1+"/assign", e2eAssign("a@x.example"))

	removedAt := T0.Add(48 * time.Hour)
	tl.clock.Set(removedAt)
	e2eReject(tl, 409, "license_locked", "POST", e2eP1+"/reassign", e2eAssign("b@x.example"))

	r := tl.must(204, "DELETE", e2eAcme+"/users/A@x.example", nil)
	if len(r.Raw) != 0 {
		t.Errorf("204 with a body: %q", r.Raw)
	}
	lic := tl.must(200, "GET", e2eP1, nil)
	e2eFields(t, "licence after removal", lic.Body, map[string]any{
		"assignee": nil, "lock_state": "locked", "reassignable_now": false, "assignable_now": false,
		"window_closes_at": e2eTS(closes), "locked_until": e2eTS(lockedUntil),
	})
	e2eReject(tl, 404, "user_not_found", "GET", e2eAcme+"/users/a@x.example", nil)

	hist := e2eHistory(tl, e2eP1+"/history")
	last := hist[len(hist)-1]
	if last["type"] != "license.unassigned" {
		t.Fatalf("licence history ends with %v, want license.unassigned", e2eTypes(hist))
	}
	e2eFields(t, "license.unassigned", e2eData(t, last), map[string]any{
		"reason": "user_removed", "previous_email": "a@x.example", "locked_until": e2eTS(lockedUntil)})
	if last["time"] != e2eTS(removedAt) {
		t.Errorf("license.unassigned time got %v, want %s", last["time"], e2eTS(removedAt))
	}
	// The removed user's history stays readable for auditors (H4).
	types := e2eTypes(e2eHistory(tl, e2eAcme+"/users/a@x.example/history"))
	if len(types) == 0 || types[len(types)-1] != "user.removed" {
		t.Errorf("removed user's history got %v, want it to end with user.removed", types)
	}

	// C7: the licence is now unassigned, assignable from locked_until.
	rem := e2eReminders(tl, "acme")
	e2eFields(t, "reminder", rem["P1"], map[string]any{"since": e2eTS(removedAt), "assignable_from": e2eTS(lockedUntil)})

	// The lock keeps running: nobody else before locked_until.
	r = e2eReject(tl, 409, "license_locked", "POST", e2eP1+"/assign", e2eAssign("b@x.example"))
	e2eDetail(t, r, "locked_until", e2eTS(lockedUntil))
	tl.clock.Set(lockedUntil.Add(-time.Second))
	e2eReject(tl, 409, "license_locked", "POST", e2eP1+"/assign", e2eAssign("b@x.example"))
	tl.clock.Set(lockedUntil)
	r = tl.must(200, "POST", e2eP1+"/assign", e2eAssign("b@x.example"))
	e2eFields(t, "assign at locked_until", r.Body, map[string]any{"assignee": "b@x.example", "lock_state": "window_open"})
	e2eTimers(t, "assign at locked_until", r.Body, lockedUntil)

	// The removed email is free to join another account (and to come back).
	tl.must(201, "POST", "/v1/accounts", map[string]any{"id": "globex", "name": "Globex", "fulfillment_contact": "it@globex.example"})
	tl.must(201, "POST", "/v1/accounts/globex/users", map[string]any{"email": "a@x.example", "entitlement_country": "AT"})
	e2eReject(tl, 409, "user_in_other_account", "POST", e2eAcme+"/users", map[string]any{"email": "a@x.example"})
	tl.must(204, "DELETE", "/v1/accounts/globex/users/a@x.example", nil)
	r = tl.must(201, "POST", e2eAcme+"/users", map[string]any{"email": "a@x.example"})
	e2eFields(t, "re-registered", r.Body, map[string]any{"license_id": nil, "entitlement_country": nil})
	e2eReject(tl, 404, "user_not_found", "DELETE", e2eAcme+"/users/nobody@x.example", nil)
	tl.checkStream()
}

// rule A4: removing a user who holds no licence, or whose licence is in its
// window, also works; the window keeps running.
func TestRuleA4RemoveUserInsideWindow(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	tl.must(200, "POST", e2eP1+"/assign", e2eAssign("a@x.example"))
	tl.clock.Advance(time.Hour)
	tl.must(204, "DELETE", e2eAcme+"/users/c@x.example", nil) // holds nothing
	tl.must(204, "DELETE", e2eAcme+"/users/a@x.example", nil)
	lic := tl.must(200, "GET", e2eP1, nil)
	e2eFields(t, "licence", lic.Body, map[string]any{"assignee": nil, "lock_state": "locked", "assignable_now": false})
	e2eTimers(t, "licence", lic.Body, T0)
	// "nobody else can be assigned before locked_until", even inside the
	// window: the removal keeps the licence locked.
	e2eReject(tl, 409, "license_locked", "POST", e2eP1+"/assign", e2eAssign("b@x.example"))
	rem := e2eReminders(tl, "acme")["P1"]
	if rem["assignable_from"] != e2eTS(T0.Add(24*time.Hour+30*24*time.Hour)) {
		t.Errorf("reminder assignable_from %v, want locked_until", rem["assignable_from"])
	}
	tl.clock.Set(T0.Add(24*time.Hour + 30*24*time.Hour))
	tl.must(200, "POST", e2eP1+"/assign", e2eAssign("b@x.example"))
	tl.checkStream()
}

// rule B1
func TestRuleB1CreateLicences(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	from, until := T0, T0.AddDate(1, 0, 0)
	cases := []struct {
		body map[string]any
		want map[string]any
	}{
		{e2eLicense("C1", "commercial", 5, from, until, "microstation", "civil3d"),
			map[string]any{"kind": "commercial", "seats": 5, "assignee": nil, "lock_state": "none",
				"reassignable_now": false, "assignable_now": false}},
		{e2eLicense("T1", "trial", 0, from, from.Add(30*24*time.Hour), "microstation"),
			map[string]any{"kind": "trial", "seats": 0, "products": []string{"microstation"}}},
		{e2eLicense("P2", "practitioner", 0, from, until, "openroads"),
			map[string]any{"kind": "practitioner", "seats": 0, "assignee": nil, "window_opened_at": nil,
				"window_closes_at": nil, "locked_until": nil, "lock_state": "none", "reassignable_now": false,
				"assignable_now": true, "active_now": true, "products": []string{"openroads"}}},
		{e2eLicense("later.1_x-Y", "practitioner", 0, from.Add(time.Hour), until, "openroads"),
			map[string]any{"active_now": false, "assignable_now": false}},
	}
	for _, c := range cases {
		id := c.body["id"].(string)
		r := tl.must(201, "POST", e2eAcme+"/licenses", c.body)
		want := map[string]any{"id": id, "valid_from": c.body["valid_from"], "valid_until": c.body["valid_until"]}
		for k, v := range c.want {
			want[k] = v
		}
		e2eFields(t, "create "+id, r.Body, want)
		g := tl.must(200, "GET", e2eAcme+"/licenses/"+id, nil)
		e2eFields(t, "GET "+id, g.Body, want)
	}
	prods := tl.must(200, "GET", e2eAcme+"/licenses/C1", nil).Body["products"]
	if got := fmt.Sprint(prods); got != "[civil3d microstation]" && got != "[microstation civil3d]" {
		t.Errorf("C1 products got %v, want civil3d and microstation", prods)
	}

	base := func(changes map[string]any) map[string]any {
		b := e2eLicense("BAD", "commercial", 3, from, until, "microstation")
		for k, v := range changes {
			if v == nil {
				delete(b, k)
			} else {
				b[k] = v
			}
		}
		return b
	}
	invalid := []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"commercial without seats", base(map[string]any{"seats": nil}), "seats"},
		{"commercial with 0 seats", base(map[string]any{"seats": 0}), "seats"},
		{"negative seats", base(map[string]any{"seats": -1}), "seats"},
		{"too many seats", base(map[string]any{"seats": 1_000_001}), "seats"},
		{"seats as a string", base(map[string]any{"seats": "5"}), "seats"},
		{"fractional seats", base(map[string]any{"seats": 1.5}), "seats"},
		{"practitioner with seats", base(map[string]any{"kind": "practitioner", "seats": 1}), "seats"},
		{"trial with seats", base(map[string]any{"kind": "trial", "seats": 2}), "seats"},
		{"unknown kind", base(map[string]any{"kind": "gold"}), "kind"},
		{"kind in capitals", base(map[string]any{"kind": "COMMERCIAL"}), "kind"},
		{"no kind", base(map[string]any{"kind": nil}), "kind"},
		{"no products", base(map[string]any{"products": nil}), "products"},
		{"empty products", base(map[string]any{"products": []string{}}), "products"},
		{"bad product id", base(map[string]any{"products": []string{"Micro Station"}}), "products"},
		{"empty product id", base(map[string]any{"products": []string{""}}), "products"},
		{"products as a string", base(map[string]any{"products": "microstation"}), "products"},
		{"no valid_from", base(map[string]any{"valid_from": nil}), "valid_from"},
		{"valid_from not RFC 3339", base(map[string]any{"valid_from": "2026-01-05"}), "valid_from"},
		{"valid_from in year 1999", base(map[string]any{"valid_from": "1999-12-31T23:59:59Z"}), "valid_from"},
		{"no valid_until", base(map[string]any{"valid_until": nil}), "valid_until"},
		{"valid_until not a time", base(map[string]any{"valid_until": "soon"}), "valid_until"},
		{"valid_until month 13", base(map[string]any{"valid_until": "2026-13-01T00:00:00Z"}), "valid_until"},
		{"empty term", base(map[string]any{"valid_until": e2eTS(from)}), "valid_until"},
		{"reversed term", base(map[string]any{"valid_until": e2eTS(from.Add(-time.Second))}), "valid_until"},
		{"no id", base(map[string]any{"id": nil}), "id"},
		{"bad id", base(map[string]any{"id": "-P"}), "id"},
		{"id with a slash", base(map[string]any{"id": "P/1"}), "id"},
		{"unknown field", base(map[string]any{"colour": "blue"}), "colour"},
	}
	for _, c := range invalid {
		t.Run(c.name, func(t *testing.T) {
			tl.tb = t // report against the case
			r := e2eReject(tl, 400, "invalid_argument", "POST", e2eAcme+"/licenses", c.body)
			e2eDetail(t, r, "field", c.field)
		})
	}
	tl.tb = t
	e2eReject(tl, 404, "license_not_found", "GET", e2eAcme+"/licenses/BAD", nil)
	e2eReject(tl, 409, "license_exists", "POST", e2eAcme+"/licenses", e2eLicense("P1", "trial", 0, from, until, "x"))
	tl.checkStream()
}

// rule B2: renewal extends the term and keeps the assignment and its timers;
// activity is the half-open term [valid_from, valid_until).
func TestRuleB2Renew(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	tl.must(200, "POST", e2eP1+"/assign", e2eAssign("a@x.example"))
	tl.clock.Set(T0.Add(2 * time.Hour))
	tl.must(200, "POST", e2eP1+"/reassign", e2eAssign("b@x.example"))

	newUntil := "2029-06-30T00:00:00Z"
	r := tl.must(200, "POST", e2eP1+"/renew", map[string]any{"valid_until": newUntil})
	want := map[string]any{"valid_until": newUntil, "valid_from": "2025-01-01T00:00:00Z", "assignee": "b@x.example",
		"assigned_at": e2eTS(T0.Add(2 * time.Hour)), "lock_state": "window_open"}
	e2eFields(t, "renew", r.Body, want)
	e2eTimers(t, "renew", r.Body, T0)
	g := tl.must(200, "GET", e2eP1, nil)
	e2eFields(t, "GET after renew", g.Body, want)
	e2eTimers(t, "GET after renew", g.Body, T0)

	for _, until := range []string{newUntil, "2028-01-01T00:00:00Z", "2026-06-01T00:00:00+02:00"} {
		r := e2eReject(tl, 409, "renewal_not_later", "POST", e2eP1+"/renew", map[string]any{"valid_until": until})
		e2eDetail(t, r, "valid_until", newUntil)
	}
	e2eReject(tl, 400, "invalid_argument", "POST", e2eP1+"/renew", map[string]any{})
	e2eReject(tl, 404, "license_not_found", "POST", e2eAcme+"/licenses/NOPE/renew", map[string]any{"valid_until": newUntil})

	hist := e2eHistory(tl, e2eP1+"/history")
	last := hist[len(hist)-1]
	if last["type"] != "license.renewed" {
		t.Fatalf("history %v, want license.renewed last", e2eTypes(hist))
	}
	e2eFields(t, "license.renewed", e2eData(t, last), map[string]any{
		"valid_until": newUntil, "previous_valid_until": "2028-01-01T00:00:00Z"})

	// B2: a licence is active on [valid_from, valid_until); renewing an
	// expired licence makes it active again.
	from, until := T0.Add(3*time.Hour), T0.Add(5*time.Hour)
	tl.must(201, "POST", e2eAcme+"/licenses", e2eLicense("P2", "practitioner", 0, from, until, "microstation"))
	tl.clock.Set(from.Add(-time.Second))
	r = e2eReject(tl, 409, "license_inactive", "POST", e2eAcme+"/licenses/P2/assign", e2eAssign("c@x.example"))
	e2eDetail(t, r, "valid_from", e2eTS(from))
	tl.clock.Set(until)
	e2eReject(tl, 409, "license_inactive", "POST", e2eAcme+"/licenses/P2/assign", e2eAssign("c@x.example"))
	e2eFields(t, "expired", tl.must(200, "GET", e2eAcme+"/licenses/P2", nil).Body, map[string]any{"active_now": false})
	// With `at` inside the term it is accepted (an import).
	r = tl.must(200, "POST", e2eAcme+"/licenses/P2/assign", e2eAssign("c@x.example", from))
	e2eTimers(t, "assign at valid_from", r.Body, from)
	tl.must(200, "POST", e2eAcme+"/licenses/P2/unassign", e2eAt(until.Add(-time.Second)))
	tl.must(200, "POST", e2eAcme+"/licenses/P2/renew", map[string]any{"valid_until": e2eTS(until.Add(time.Hour))})
	r = tl.must(200, "POST", e2eAcme+"/licenses/P2/assign", e2eAssign("c@x.example"))
	e2eFields(t, "assign after renewal", r.Body, map[string]any{"assignee": "c@x.example", "active_now": true})
	e2eTimers(t, "assign after renewal", r.Body, from) // still inside the first window
	tl.checkStream()
}
