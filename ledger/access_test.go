package ledger_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/entledger/ledger/events"
)

func chkAccessPath(product string) string { return chkAcme + "/access/" + product }

// chkAccessBody is an access setting as docs/api.md writes it.
func chkAccessBody(product, def string, allow, deny []string) map[string]any {
	return map[string]any{"product": product, "default": def, "allow": allow, "deny": deny}
}

// chkAccessIs checks an access answer is exactly want.
func chkAccessIs(tb testing.TB, what string, r response, want map[string]any) {
	tb.Helper()
	if w := e2eJSON(tb, want); !reflect.DeepEqual(any(r.Body), w) {
		tb.Errorf("%s: got %s, want %v", what, r.Raw, w)
	}
}

// rule E2: GET shows allow-by-default while nothing was set; PUT validates
// the setting (an email in both lists, a bad default) and answers 404 for an
// unknown account and 400 for an invalid product id, appending nothing.
func TestAccessE2SettingAndErrors(t *testing.T) {
	tl := chkStart(t)
	r := tl.must(200, "GET", chkAccessPath("revit"), nil)
	chkAccessIs(t, "GET never set", r, chkAccessBody("revit", "allow", []string{}, []string{}))

	// A nil list is left out: null is not a value (item 8).
	put := func(def string, allow, deny []string) map[string]any {
		body := map[string]any{"default": def}
		if allow != nil {
			body["allow"] = allow
		}
		if deny != nil {
			body["deny"] = deny
		}
		return body
	}
	e2eReject(tl, 400, "invalid_argument", "PUT", chkAccessPath("revit"),
		put("deny", []string{"b@x.example"}, []string{"b@x.example"}))
	e2eReject(tl, 400, "invalid_argument", "PUT", chkAccessPath("revit"),
		put("deny", []string{"a@x.example", "B@x.example"}, []string{"b@X.EXAMPLE"}))
	e2eReject(tl, 400, "invalid_argument", "PUT", chkAccessPath("revit"), put("maybe", nil, nil))
	e2eReject(tl, 400, "invalid_argument", "PUT", chkAccessPath("revit"), put("allow", []string{"not-an-email"}, nil))
	e2eReject(tl, 404, "account_not_found", "PUT", "/v1/accounts/initech/access/revit", put("allow", nil, nil))
	e2eReject(tl, 400, "invalid_argument", "PUT", chkAccessPath("Revit!"), put("allow", nil, nil))
	e2eReject(tl, 404, "account_not_found", "GET", "/v1/accounts/initech/access/revit", nil)
	e2eReject(tl, 400, "invalid_argument", "GET", chkAccessPath("Revit!"), nil)

	// Nothing was set by the rejected requests.
	r = tl.must(200, "GET", chkAccessPath("revit"), nil)
	chkAccessIs(t, "GET after rejections", r, chkAccessBody("revit", "allow", []string{}, []string{}))
	tl.checkStream()
}

// rule E2: emails in a setting are lower-cased and de-duplicated; the
// setting is one access.set event and replaces the previous one whole.
func TestAccessE2Normalised(t *testing.T) {
	tl := chkStart(t)
	before := e2eStreamLen(t, tl.srv)
	r := tl.must(200, "PUT", chkAccessPath("revit"), map[string]any{"default": "deny",
		"allow": []string{"C@x.example", "B@X.example", "b@x.example", "c@x.example"}, "deny": []string{"D@x.example", "d@x.example"}})
	want := chkAccessBody("revit", "deny", []string{"b@x.example", "c@x.example"}, []string{"d@x.example"})
	chkAccessIs(t, "PUT", r, want)
	chkAccessIs(t, "GET", tl.must(200, "GET", chkAccessPath("revit"), nil), want)
	if after := e2eStreamLen(t, tl.srv); after != before+1 {
		t.Errorf("PUT access: the stream grew by %d events, want 1", after-before)
	}
	// Other products keep their default.
	chkAccessIs(t, "GET other product", tl.must(200, "GET", chkAccessPath("microstation"), nil),
		chkAccessBody("microstation", "allow", []string{}, []string{}))

	// A new setting replaces the lists whole.
	r = tl.must(200, "PUT", chkAccessPath("revit"), map[string]any{"default": "allow"})
	want = chkAccessBody("revit", "allow", []string{}, []string{})
	chkAccessIs(t, "PUT replacing", r, want)
	chkAccessIs(t, "GET replaced", tl.must(200, "GET", chkAccessPath("revit"), nil), want)

	evs := tl.checkStream()
	var sets []events.AccessSet
	for _, e := range evs {
		if d, ok := e.Data.(events.AccessSet); ok {
			if e.Subject() != events.Subject("acme", events.AggregateAccess, "revit") {
				t.Errorf("access.set on %s, want the access subject of revit", e.Subject())
			}
			sets = append(sets, d)
		}
	}
	if len(sets) != 2 {
		t.Fatalf("access.set events: got %d, want 2", len(sets))
	}
	if got := sets[0]; got.Default != "deny" || !reflect.DeepEqual(got.Allow, []string{"b@x.example", "c@x.example"}) ||
		!reflect.DeepEqual(got.Deny, []string{"d@x.example"}) {
		t.Errorf("first access.set: got %+v, want normalised lists", got)
	}
}

// rule E2: default deny with a per-user allow override; a denied pooled
// check answers access_denied and does not fall through to the trial;
// access control never applies to practitioner use; it does not apply to
// trial use either (pooled use only).
func TestCheckE2DefaultDenyAllowOverride(t *testing.T) {
	tl := chkStart(t)
	chkLicense(tl, "P1", "practitioner", 0, T0, chkFar, "revit")
	chkLicense(tl, "C1", "commercial", 2, T0, chkFar, "revit")
	chkLicense(tl, "T1", "trial", 0, T0, chkFar, "revit", "navisworks")
	chkAssign(tl, "P1", "a@x.example")
	tl.must(200, "PUT", chkAccessPath("revit"), map[string]any{"default": "deny",
		"allow": []string{"B@X.example"}, "deny": []string{"a@x.example"}})
	tl.must(200, "PUT", chkAccessPath("navisworks"), map[string]any{"default": "deny"})

	chkExpect(tl, "b@x.example", "revit", chkNew, chkPooled("C1"))
	chkExpect(tl, "B@X.EXAMPLE", "revit", chkNew, chkPooled("C1"))
	chkExpect(tl, "c@x.example", "revit", chkNew, chkDenied) // not trial T1
	chkExpect(tl, "d@x.example", "revit", chkNew, chkDenied)
	chkExpect(tl, "a@x.example", "revit", chkNew, chkPrac("P1")) // denied, but practitioner use
	chkExpect(tl, "a@x.example", "revit", chkOld, chkDenied)     // the same user's pooled use
	chkExpect(tl, "c@x.example", "navisworks", chkNew, chkTrial("T1"))
	tl.checkStream()
}

// rule E2: default allow with a per-user deny override; access control is
// per product.
func TestCheckE2DefaultAllowDenyOverride(t *testing.T) {
	tl := chkStart(t)
	chkLicense(tl, "C1", "commercial", 2, T0, chkFar, "revit", "microstation")
	tl.must(200, "PUT", chkAccessPath("revit"), map[string]any{"default": "allow", "deny": []string{"C@x.example"}})

	chkExpect(tl, "b@x.example", "revit", chkNew, chkPooled("C1"))
	chkExpect(tl, "c@x.example", "revit", chkNew, chkDenied)
	chkExpect(tl, "C@X.Example", "revit", chkNew, chkDenied)
	chkExpect(tl, "d@x.example", "revit", chkNew, chkPooled("C1"))
	chkExpect(tl, "c@x.example", "microstation", chkNew, chkPooled("C1"))

	tl.must(200, "PUT", chkAccessPath("revit"), map[string]any{"default": "allow"})
	chkExpect(tl, "c@x.example", "revit", chkNew, chkPooled("C1"))
	tl.checkStream()
}

// rule E2 (docs/api.md "at"): an access setting may carry its business time; it
// may not be earlier than the product's last setting nor more than 5
// minutes ahead of the ledger's clock.
func TestAccessE2BusinessTime(t *testing.T) {
	tl := chkStart(t)
	at := T0.Add(-time.Hour)
	r := tl.must(200, "PUT", chkAccessPath("revit"), map[string]any{"default": "deny", "at": e2eTS(at)})
	chkAccessIs(t, "PUT at", r, chkAccessBody("revit", "deny", []string{}, []string{}))
	e2eReject(tl, 409, "at_before_last_event", "PUT", chkAccessPath("revit"),
		map[string]any{"default": "allow", "at": e2eTS(at.Add(-time.Second))})
	e2eReject(tl, 400, "at_in_future", "PUT", chkAccessPath("revit"),
		map[string]any{"default": "allow", "at": e2eTS(T0.Add(6 * time.Minute))})
	chkAccessIs(t, "GET", tl.must(200, "GET", chkAccessPath("revit"), nil),
		chkAccessBody("revit", "deny", []string{}, []string{}))
	var n int
	for _, e := range tl.checkStream() {
		if _, ok := e.Data.(events.AccessSet); ok {
			n++
			if !e.OccurredAt.Equal(at) {
				t.Errorf("access.set occurred_at %s, want the given at %s", e2eTS(e.OccurredAt), e2eTS(at))
			}
		}
	}
	if n != 1 {
		t.Errorf("access.set events: got %d, want 1", n)
	}
}
