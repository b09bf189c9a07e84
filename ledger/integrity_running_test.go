package ledger_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/ledger"
	"github.com/entledger/ledger/server"
)

// integrityAnswer is the answer of GET /v1/integrity.
type integrityAnswer struct {
	Breaks     int `json:"breaks"`
	FirstBreak *struct {
		Seq     uint64  `json:"seq"`
		Subject string  `json:"subject"`
		Reason  string  `json:"reason"`
		Account *string `json:"account"`
	} `json:"first_break"`
	LastVerifiedSeq *uint64  `json:"last_verified_seq"`
	StreamProblems  []string `json:"stream_problems"`
}

// integrityAs asks GET /v1/integrity with token and decodes the answer.
func integrityAs(tl *testLedger, token string) integrityAnswer {
	tl.tb.Helper()
	r := tl.must(200, "GET", "/v1/integrity", nil, "Authorization", "Bearer "+token)
	var a integrityAnswer
	if err := json.Unmarshal(r.Raw, &a); err != nil {
		tl.tb.Fatalf("GET /v1/integrity: %v: %s", err, r.Raw)
	}
	if a.LastVerifiedSeq == nil || a.StreamProblems == nil {
		tl.tb.Errorf("GET /v1/integrity: %s; want last_verified_seq and stream_problems ([] when none)", r.Raw)
	}
	return a
}

// operatorJS is a NATS client of its own on the ledger's listening
// embedded server, as the ledger's own user: full rights on the stream,
// like an operator of the cluster.
func operatorJS(tb testing.TB, tl *testLedger) jetstream.JetStream {
	tb.Helper()
	pw, err := os.ReadFile(server.LedgerNATSPasswordFile(tl.dir))
	if err != nil {
		tb.Fatal(err)
	}
	nc, err := nats.Connect(tl.srv.NATSURL(), nats.UserInfo(server.LedgerNATSUser, strings.TrimSpace(string(pw))), nats.Name("operator"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	return js
}

// eventBreakWarnings drains the warnings that came so far and returns
// those about events the projections did not apply.
func eventBreakWarnings(warnings <-chan string) []string {
	var out []string
	for {
		select {
		case w := <-warnings:
			if strings.Contains(w, "integrity break: an event was not applied") {
				out = append(out, w)
			}
		default:
			return out
		}
	}
}

// readyzIntegrity is the integrity note of /readyz, asked without a token;
// it fails unless the ledger is ready.
func readyzIntegrity(tl *testLedger) string {
	tl.tb.Helper()
	r := tl.must(200, "GET", "/readyz", nil, "Authorization", "")
	if r.Body["status"] != "ready" {
		tl.tb.Errorf("/readyz: %s, want ready", r.Raw)
	}
	note, _ := r.Body["integrity"].(string)
	return note
}

// rule H3, integrity while running: a forged event published with a raw
// NATS client (a well-formed event on an acme subject, chained to the
// licence's last event, but without the ledger's MAC) is not applied, and
// the running ledger says so: GET /v1/integrity reports it (to admin, to
// auditors of every account and to acme's tokens, not to another account's),
// /metrics counts it once, the log warns once, /readyz notes it and stays
// 200, and verify reports it. A break on a subject of no account is for
// tokens of every account only. A restart or a rebuild counts nothing
// again, and the rebuilt store equals the live one.
func TestRuleH3IntegrityWhileRunning(t *testing.T) {
	warnings := make(chan string, 64)
	cfg := server.Config{HTTPAddr: "127.0.0.1:0", NATSListen: "127.0.0.1:0", NoReminders: true, Logger: warningLogger(warnings)}
	tl := startConfigured(t, cfg, nil)
	tl.setup()
	tl.must(201, "POST", "/v1/accounts", map[string]any{"id": "globex", "name": "Globex", "fulfillment_contact": "ops@globex.example"})
	tokens := map[string]string{
		"admin":                 tl.token,
		"auditor of all":        authToken(tl, events.RoleAuditor, ""),
		"auditor of acme":       authToken(tl, events.RoleAuditor, "acme"),
		"account_admin of acme": authToken(tl, events.RoleAccountAdmin, "acme"),
		"auditor of globex":     authToken(tl, events.RoleAuditor, "globex"),
	}
	clean := integrityAs(tl, tl.token)
	if clean.Breaks != 0 || clean.FirstBreak != nil || *clean.LastVerifiedSeq != tl.srv.Store().Checkpoint() || len(clean.StreamProblems) != 0 {
		t.Fatalf("clean ledger: %+v, want no break, checkpoint %d, no stream problem", clean, tl.srv.Store().Checkpoint())
	}
	if note := readyzIntegrity(tl); note != "" || integrityBreaks(tl, ledger.IntegrityEvent) != "0" {
		t.Fatalf("clean ledger: /readyz integrity %q, event breaks counted %s; want none", note, integrityBreaks(tl, ledger.IntegrityEvent))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	js := operatorJS(t, tl)
	p1 := events.Subject("acme", events.AggregateLicense, "P1")
	stream, err := js.Stream(ctx, server.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	last, err := stream.GetLastMsgForSubject(ctx, p1)
	if err != nil {
		t.Fatal(err)
	}
	forged := events.Event{ID: events.NewID(), Account: "acme", AggregateID: "P1", OccurredAt: T0, RecordedAt: T0,
		Actor: "intruder", CommandID: events.NewID(), CorrelationID: "forged", PrevHash: events.Hash(last.Data),
		Data: events.LicenseRenewed{ID: "P1", ValidUntil: T0.AddDate(70, 0, 0), PreviousValidUntil: time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC)}}
	data, err := events.Marshal(forged)
	if err != nil {
		t.Fatal(err)
	}
	if err := events.CheckSchema(data); err != nil {
		t.Fatalf("the forged event is not well-formed: %v", err)
	}
	ack, err := js.Publish(ctx, p1, data)
	if err != nil {
		t.Fatal(err)
	}
	if err := tl.srv.Store().WaitFor(ctx, ack.Sequence); err != nil {
		t.Fatal(err)
	}

	if got := tl.must(200, "GET", "/v1/accounts/acme/licenses/P1", nil).Body["valid_until"]; got != "2028-01-01T00:00:00Z" {
		t.Errorf("P1 valid_until %v: the forged renewal took effect", got)
	}
	if ws := eventBreakWarnings(warnings); len(ws) != 1 || !strings.Contains(ws[0], fmt.Sprintf("seq=%d ", ack.Sequence)) ||
		!strings.Contains(ws[0], "subject="+p1) || !strings.Contains(ws[0], "not written by the ledger") {
		t.Errorf("warnings %q, want one naming sequence %d, %s and the reason", ws, ack.Sequence, p1)
	}
	if got := integrityBreaks(tl, ledger.IntegrityEvent); got != "1" {
		t.Errorf("%s event breaks counted, want 1", got)
	}
	want := fmt.Sprintf("1 break, first at sequence %d", ack.Sequence)
	if note := readyzIntegrity(tl); note != want || strings.Contains(note, "acme") {
		t.Errorf("/readyz integrity %q, want %q (and no subject: anyone may read it)", note, want)
	}
	sees := func(who string, breaks int) {
		t.Helper()
		a := integrityAs(tl, tokens[who])
		if breaks == 0 {
			if a.Breaks != 0 || a.FirstBreak != nil {
				t.Errorf("%s: %+v, want no break of another account", who, a)
			}
			return
		}
		f := a.FirstBreak
		if a.Breaks != breaks || f == nil || f.Seq != ack.Sequence || f.Subject != p1 || f.Account == nil || *f.Account != "acme" ||
			!strings.Contains(f.Reason, "not written by the ledger") || *a.LastVerifiedSeq < ack.Sequence {
			t.Errorf("%s: %+v (first %+v), want %d breaks, the first the forged event at %d", who, a, f, breaks, ack.Sequence)
		}
	}
	for who, n := range map[string]int{"admin": 1, "auditor of all": 1, "auditor of acme": 1, "account_admin of acme": 1, "auditor of globex": 0} {
		sees(who, n)
	}
	rep, err := server.VerifyStream(ctx, tl.srv.Conn().Stream, eventVerifier(t, tl.dir))
	if err != nil || rep.Breaks != 1 || rep.First == nil || rep.First.Seq != ack.Sequence || rep.First.Subject != p1 {
		t.Errorf("verify: %+v (first %+v), %v; want the forged event at %d", rep, rep.First, err, ack.Sequence)
	}

	// Garbage on a subject of no account: a break for tokens of every
	// account only.
	ack2, err := js.Publish(ctx, events.EmailSubject("x@y.example"), []byte("{not an event"))
	if err != nil {
		t.Fatal(err)
	}
	if err := tl.srv.Store().WaitFor(ctx, ack2.Sequence); err != nil {
		t.Fatal(err)
	}
	for who, n := range map[string]int{"admin": 2, "auditor of all": 2, "auditor of acme": 1, "account_admin of acme": 1, "auditor of globex": 0} {
		sees(who, n)
	}
	if ws := eventBreakWarnings(warnings); len(ws) != 1 || !strings.Contains(ws[0], fmt.Sprintf("seq=%d ", ack2.Sequence)) {
		t.Errorf("warnings %q, want one of sequence %d", ws, ack2.Sequence)
	}
	if got := integrityBreaks(tl, ledger.IntegrityEvent); got != "2" {
		t.Errorf("%s event breaks counted, want 2", got)
	}
	want = fmt.Sprintf("2 breaks, first at sequence %d", ack.Sequence)
	if note := readyzIntegrity(tl); note != want {
		t.Errorf("/readyz integrity %q, want %q", note, want)
	}

	// A rebuild reaches the live store, and the start after it reports the
	// breaks again but counts and warns of none: they are not new.
	digest := tl.digest()
	tl.stop()
	rb, err := server.RebuildProjections(ctx, server.Config{DataDir: tl.dir})
	if err != nil || rb.Digest != digest {
		t.Fatalf("rebuild: %+v, %v; want the live digest %s", rb, err, digest)
	}
	cfg.DataDir = tl.dir
	tl = startConfigured(t, cfg, nil)
	if note := readyzIntegrity(tl); note != want {
		t.Errorf("after rebuild: /readyz integrity %q, want %q", note, want)
	}
	if a := integrityAs(tl, tl.token); a.Breaks != 2 || a.FirstBreak == nil || a.FirstBreak.Seq != ack.Sequence {
		t.Errorf("after rebuild: %+v, want the 2 breaks", a)
	}
	if got, ws := integrityBreaks(tl, ledger.IntegrityEvent), eventBreakWarnings(warnings); got != "0" || len(ws) != 0 {
		t.Errorf("after rebuild: %s event breaks counted, warnings %q; want none again", got, ws)
	}
}

// eventVerifier is the verifier of the ledger's events in dir, made from
// its public key alone.
func eventVerifier(tb testing.TB, dir string) *events.Verifier {
	tb.Helper()
	pub, err := events.LoadPublicKey(filepath.Join(dir, "keys", "events.ed25519.pub"))
	if err != nil {
		tb.Fatal(err)
	}
	return events.NewVerifier(pub)
}
