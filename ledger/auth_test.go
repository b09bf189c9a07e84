package ledger_test

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/entledger/ledger/auth"
	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
)

// authToken creates a token through the API and returns it.
func authToken(tl *testLedger, role, account string) string {
	tl.tb.Helper()
	body := map[string]any{"name": role + " of " + account, "role": role}
	if account != "" {
		body["account"] = account
	}
	r := tl.must(201, "POST", "/v1/tokens", body)
	tok, _ := r.Body["token"].(string)
	if _, ok := auth.ID(tok); !ok {
		tl.tb.Fatalf("token answer %s has no token", r.Raw)
	}
	return tok
}

// mayCall is the role × access table of docs/api.md, written out here
// apart from the code that enforces it (rule S1, S2).
var mayCall = map[auth.Access][]string{
	auth.Read:    {"admin", "account_admin", "auditor", "auditor-all"},
	auth.Ingest:  {"admin", "ingest"},
	auth.Manage:  {"admin", "account_admin"},
	auth.Vendor:  {"admin"},
	auth.ReadAll: {"admin", "auditor-all"},
}

// routeAccess is what each endpoint asks of a token, as docs/api.md's
// table says. The test fails for an endpoint missing here, so none can be
// added without deciding who may call it.
var routeAccess = map[string]auth.Access{
	"GET /v1/keys/events":                                         auth.Public,
	"GET /v1/keys/checkout":                                       auth.Public,
	"GET /v1/schemas":                                             auth.Public,
	"GET /v1/schemas/envelope":                                    auth.Public,
	"GET /v1/schemas/{type}/{version}":                            auth.Public,
	"GET /v1/openapi.json":                                        auth.Public,
	"POST /v1/accounts":                                           auth.Vendor,
	"GET /v1/accounts":                                            auth.Read,
	"GET /v1/accounts/{account}":                                  auth.Read,
	"GET /v1/accounts/{account}/history":                          auth.Read,
	"POST /v1/accounts/{account}/users":                           auth.Manage,
	"GET /v1/accounts/{account}/users":                            auth.Read,
	"GET /v1/accounts/{account}/users/{email}":                    auth.Read,
	"PATCH /v1/accounts/{account}/users/{email}":                  auth.Manage,
	"DELETE /v1/accounts/{account}/users/{email}":                 auth.Manage,
	"GET /v1/accounts/{account}/users/{email}/history":            auth.Read,
	"POST /v1/accounts/{account}/licenses":                        auth.Vendor,
	"GET /v1/accounts/{account}/licenses":                         auth.Read,
	"GET /v1/accounts/{account}/licenses/{id}":                    auth.Read,
	"GET /v1/accounts/{account}/licenses/{id}/history":            auth.Read,
	"POST /v1/accounts/{account}/licenses/{id}/renew":             auth.Vendor,
	"POST /v1/accounts/{account}/licenses/{id}/cancel":            auth.Vendor,
	"POST /v1/accounts/{account}/licenses/{id}/assign":            auth.Manage,
	"POST /v1/accounts/{account}/licenses/{id}/reassign":          auth.Manage,
	"POST /v1/accounts/{account}/licenses/{id}/unassign":          auth.Manage,
	"POST /v1/accounts/{account}/licenses/{id}/checkout":          auth.Ingest,
	"POST /v1/accounts/{account}/licenses/{id}/checkin":           auth.Ingest,
	"GET /v1/accounts/{account}/reminders":                        auth.Read,
	"POST /v1/accounts/{account}/usage":                           auth.Ingest,
	"GET /v1/accounts/{account}/usage/summary":                    auth.Read,
	"POST /v1/accounts/{account}/usage/void":                      auth.Vendor,
	"PUT /v1/accounts/{account}/access/{product}":                 auth.Manage,
	"GET /v1/accounts/{account}/access/{product}":                 auth.Read,
	"POST /v1/accounts/{account}/checks":                          auth.Ingest,
	"GET /v1/accounts/{account}/qtl":                              auth.Read,
	"GET /v1/accounts/{account}/qtl/advice":                       auth.Read,
	"GET /v1/qtl":                                                 auth.ReadAll,
	"GET /v1/integrity":                                           auth.Read,
	"GET /v1/accounts/{account}/peaks":                            auth.Read,
	"GET /v1/accounts/{account}/usage/export":                     auth.Read,
	"GET /v1/accounts/{account}/thresholds":                       auth.Read,
	"GET /v1/accounts/{account}/alerts":                           auth.Read,
	"PUT /v1/accounts/{account}/thresholds/{product}":             auth.Manage,
	"DELETE /v1/accounts/{account}/thresholds/{product}":          auth.Manage,
	"PUT /v1/accounts/{account}/domains/{domain}":                 auth.Vendor,
	"DELETE /v1/accounts/{account}/domains/{domain}":              auth.Vendor,
	"GET /v1/accounts/{account}/domains/{domain}":                 auth.Read,
	"GET /v1/accounts/{account}/peaks/{product}/{interval_start}": auth.Read,
	"POST /v1/tokens":                                             auth.Vendor,
	"GET /v1/tokens":                                              auth.ReadAll,
	"DELETE /v1/tokens/{id}":                                      auth.Vendor,
	"POST /v1/subscribers":                                        auth.Vendor,
	"POST /v1/accounts/{account}/subscribers":                     auth.Manage,
	"GET /v1/accounts/{account}/subscribers":                      auth.Manage,
	"DELETE /v1/accounts/{account}/subscribers/{name}":            auth.Manage,
	"POST /v1/accounts/{account}/sessions":                        auth.Ingest,
	"POST /v1/accounts/{account}/sessions/{email}/heartbeat":      auth.Ingest,
	"DELETE /v1/accounts/{account}/sessions/{email}":              auth.Ingest,
}

// fillPath puts account (and fixed ids of the setup) into a route's path.
func fillPath(path, account string) string {
	return strings.NewReplacer("{account}", account, "{id}", "P1", "{email}", "a@x.example", "{product}", "microstation",
		"{interval_start}", "2026-01-05T10:00:00Z", "{name}", "feed", "{domain}", "claimed.example").Replace(path)
}

// rules S1, S2: every endpoint × every role × own account, another
// account, an unknown account, no token, a malformed and a revoked token.
// The table is generated from the API's own route list, so an endpoint
// cannot be added without its row. Another account answers exactly as an
// unknown one: 404 account_not_found, the same bytes.
func TestRuleS1S2EveryRouteEveryRole(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	tl.must(201, "POST", "/v1/accounts", map[string]any{"id": "globex", "name": "Globex", "fulfillment_contact": "ops@globex.example"})
	tokens := map[string]string{
		"admin":         tl.token,
		"account_admin": authToken(tl, events.RoleAccountAdmin, "acme"),
		"auditor":       authToken(tl, events.RoleAuditor, "acme"),
		"auditor-all":   authToken(tl, events.RoleAuditor, ""),
		"ingest":        authToken(tl, events.RoleIngest, "acme"),
	}
	revoked := authToken(tl, events.RoleAdmin, "")
	id, _ := auth.ID(revoked)
	tl.must(200, "DELETE", "/v1/tokens/"+id, nil)

	call := func(token string, rt struct{ method, path string }) response {
		var body any
		if rt.method != "GET" && rt.method != "DELETE" {
			body = map[string]any{}
		}
		return tl.do(rt.method, rt.path, body, "Authorization", token)
	}
	routes := tl.srv.Routes()
	if len(routes) < 40 {
		t.Fatalf("only %d routes", len(routes))
	}
	for _, r := range routes {
		own := struct{ method, path string }{r.Method, fillPath(r.Path, "acme")}
		name := r.Method + " " + r.Path
		access, ok := routeAccess[name]
		if !ok {
			t.Errorf("%s has no row in routeAccess: decide who may call it", name)
			continue
		}
		if access != r.Access {
			t.Errorf("%s asks %s of a token, the table says %s", name, r.Access, access)
		}
		if access == auth.Public {
			if got := call("", own); got.Status == 401 || got.Status == 403 {
				t.Errorf("%s is public, answered %d without a token", name, got.Status)
			}
			continue
		}
		for what, header := range map[string]string{"no token": "", "malformed": "Bearer nonsense", "wrong scheme": "Basic " + tl.token,
			"revoked": "Bearer " + revoked, "wrong secret": "Bearer " + tl.token[:len(tl.token)-4] + "AAAA"} {
			if got := call(header, own); got.Status != 401 || got.code() != commands.CodeUnauthenticated {
				t.Errorf("%s with %s: %d %s, want 401 unauthenticated", name, what, got.Status, got.Raw)
			}
		}
		allowed := map[string]bool{}
		for _, role := range mayCall[access] {
			allowed[role] = true
		}
		scoped := strings.Contains(r.Path, "{account}")
		for role, tok := range tokens {
			got := call("Bearer "+tok, own)
			switch {
			case allowed[role] && (got.Status == 401 || got.Status == 403 || got.code() == commands.CodeAccountNotFound):
				t.Errorf("%s as %s on its account: %d %s, want allowed", name, role, got.Status, got.Raw)
			case !allowed[role] && (got.Status != 403 || got.code() != commands.CodeForbidden):
				t.Errorf("%s as %s: %d %s, want 403 forbidden", name, role, got.Status, got.Raw)
			}
			if !scoped || role == "admin" || role == "auditor-all" {
				continue
			}
			other := call("Bearer "+tok, struct{ method, path string }{r.Method, fillPath(r.Path, "globex")})
			ghost := call("Bearer "+tok, struct{ method, path string }{r.Method, fillPath(r.Path, "ghost")})
			if other.Status != 404 || other.code() != commands.CodeAccountNotFound {
				t.Errorf("%s as %s on another account: %d %s, want 404 account_not_found", name, role, other.Status, other.Raw)
			}
			if want := bytes.ReplaceAll(ghost.Raw, []byte("ghost"), []byte("globex")); !bytes.Equal(other.Raw, want) {
				t.Errorf("%s as %s: another account answers %s, an unknown one %s", name, role, other.Raw, ghost.Raw)
			}
		}
	}
}

// rule S2: an unknown account is 404 before the role is checked, for every
// role: a token that may not act learns nothing about which accounts exist.
func TestRuleS2AccountBeforeRole(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	all := authToken(tl, events.RoleAuditor, "")
	r := tl.do("POST", "/v1/accounts/ghost/users", map[string]any{"email": "x@y.example"}, "Authorization", "Bearer "+all)
	if r.Status != 404 || r.code() != commands.CodeAccountNotFound {
		t.Errorf("auditor writing to an unknown account: %d %s, want 404", r.Status, r.Raw)
	}
	r = tl.do("POST", "/v1/accounts/acme/users", map[string]any{"email": "x@y.example"}, "Authorization", "Bearer "+all)
	if r.Status != 403 {
		t.Errorf("auditor writing to its account: %d %s, want 403", r.Status, r.Raw)
	}
}

// rule S3: idempotency keys belong to the token that sent them: the same
// key from another token is another command, never the first one's answer.
func TestRuleS3IdempotencyKeyPerToken(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	other := authToken(tl, events.RoleAccountAdmin, "acme")
	first := tl.must(201, "POST", "/v1/accounts/acme/users", map[string]any{"email": "k@x.example", "entitlement_country": "DE"},
		"Idempotency-Key", "k1")
	again := tl.must(201, "POST", "/v1/accounts/acme/users", map[string]any{"email": "k@x.example", "entitlement_country": "DE"},
		"Idempotency-Key", "k1")
	if !bytes.Equal(first.Raw, again.Raw) {
		t.Errorf("the same token's replay answered %s, want %s", again.Raw, first.Raw)
	}
	r := tl.do("POST", "/v1/accounts/acme/users", map[string]any{"email": "k@x.example", "entitlement_country": "DE"},
		"Idempotency-Key", "k1", "Authorization", "Bearer "+other)
	if r.Status != 409 || r.code() != commands.CodeUserExists {
		t.Errorf("another token with the same key: %d %s, want its own decision (409 user_exists)", r.Status, r.Raw)
	}
}

// rule S3: the actor of every event is the token that sent the command,
// and a token's events say who created and revoked it.
func TestRuleS3ActorIsTheToken(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	aa := authToken(tl, events.RoleAccountAdmin, "acme")
	aaID, _ := auth.ID(aa)
	tl.must(200, "POST", "/v1/accounts/acme/licenses/P1/assign", e2eAssign("a@x.example"),
		"Authorization", "Bearer "+aa, "Ledger-Actor", "someone-else@evil.example")
	var byActor = map[string][]string{}
	for _, e := range tl.checkStream() {
		byActor[e.Actor] = append(byActor[e.Actor], e.Type())
	}
	if got := byActor["token:"+aaID]; len(got) == 0 || got[0] != events.TypeLicenseAssigned {
		t.Errorf("events of the account admin's token: %v, want the assignment", got)
	}
	if _, ok := byActor["someone-else@evil.example"]; ok {
		t.Error("an event took its actor from the Ledger-Actor header")
	}
	if got := byActor["ledger"]; len(got) != 1 || got[0] != events.TypeTokenCreated {
		t.Errorf("the ledger's own events: %v, want the bootstrap token's creation", got)
	}
	list := tl.must(200, "GET", "/v1/tokens", nil)
	items := list.Body["items"].([]any)
	if len(items) != 2 {
		t.Fatalf("tokens %s, want 2", list.Raw)
	}
	for _, it := range items {
		m := it.(map[string]any)
		if _, leak := m["token"]; leak {
			t.Errorf("the list shows a token: %v", m)
		}
		if _, leak := m["secret_hash"]; leak {
			t.Errorf("the list shows a hash: %v", m)
		}
	}
}

// rules S1, S3: no token secret is anywhere on the stream, in the
// projections' files or in the logs after a run that created and used
// several; only their hashes are.
func TestRuleS3NoSecretStored(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	secrets := []string{tl.token}
	for _, role := range []string{events.RoleAccountAdmin, events.RoleIngest} {
		tok := authToken(tl, role, "acme")
		secrets = append(secrets, tok)
		tl.do("GET", "/v1/accounts/acme", nil, "Authorization", "Bearer "+tok)
	}
	dir := tl.dir
	tl.stop()
	err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || filepath.Base(path) == "admin.token" {
			return err
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, s := range secrets {
			_, secret, _ := strings.Cut(strings.TrimPrefix(s, "ledger_"), "_")
			if bytes.Contains(raw, []byte(secret)) {
				t.Errorf("%s holds a token secret", path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(filepath.Join(dir, "admin.token")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("admin.token: %v, mode %v; want 0600", err, st.Mode().Perm())
	}
}

// rule S3: a token revoked on one ledger process stops working on another
// as soon as that one applies the revocation; one created on the first
// works on the second at once, looked up on the stream if need be.
func TestRuleS3RevocationReachesEveryProcess(t *testing.T) {
	a, b := startPair(t, newClock(T0))
	tok := authToken(a, events.RoleAdmin, "")
	if r := b.do("GET", "/v1/tokens", nil, "Authorization", "Bearer "+tok); r.Status != 200 {
		t.Fatalf("a token made on a, used on b at once: %d %s", r.Status, r.Raw)
	}
	id, _ := auth.ID(tok)
	revoked := a.must(200, "DELETE", "/v1/tokens/"+id, map[string]any{"reason": "leaked"})
	if r := a.do("GET", "/v1/tokens", nil, "Authorization", "Bearer "+tok); r.Status != 401 {
		t.Errorf("on the process that revoked it: %d, want 401", r.Status)
	}
	// How long until the other process refuses it: it polls nothing, it
	// applies the event as it streams by.
	start := time.Now()
	for b.do("GET", "/v1/tokens", nil, "Authorization", "Bearer "+tok).Status != 401 {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("the other process still accepts the revoked token after 5 s (%s)", revoked.Raw)
		}
	}
	t.Logf("revoked on a, refused on b %s after a answered", time.Since(start))
	b.waitReady()
	if r := b.do("GET", "/v1/tokens", nil, "Authorization", "Bearer "+tok); r.Status != 401 {
		t.Errorf("on the other process after it applied the revocation: %d, want 401", r.Status)
	}
}

// FuzzAuthorization: no Authorization header crashes the ledger or gets
// past authentication without the right token.
func FuzzAuthorization(f *testing.F) {
	tl := startLedger(f, "", nil)
	for _, s := range []string{"", "Bearer", "Bearer ", "bearer " + tl.token, "Bearer " + tl.token + " ", "Bearer  " + tl.token,
		"Bearer ledger_", "Bearer ledger_" + strings.Repeat("0", 26) + "_" + strings.Repeat("A", 43), "Basic dXNlcjpwYXNz",
		"Bearer " + strings.ToUpper(tl.token), "Bearer " + tl.token[:len(tl.token)-1] + "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		if strings.ContainsAny(header, "\r\n") || !isHeaderValue(header) {
			return // not sendable as a header
		}
		req, err := http.NewRequest("GET", tl.base+"/v1/tokens", nil)
		if err != nil {
			t.Skip()
		}
		req.Header.Set("Authorization", header)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		// The server sees the value without surrounding blanks (RFC 9110).
		scheme, token, _ := strings.Cut(strings.Trim(header, " \t"), " ")
		legit := strings.EqualFold(scheme, "Bearer") && token == tl.token
		switch {
		case resp.StatusCode >= 500:
			t.Fatalf("%q: %d", header, resp.StatusCode)
		case resp.StatusCode == 200 && !legit:
			t.Fatalf("%q got in", header)
		case resp.StatusCode != 200 && resp.StatusCode != 401:
			t.Fatalf("%q: %d, want 200 or 401", header, resp.StatusCode)
		}
	})
}

func isHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
