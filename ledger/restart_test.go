package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/ledger"
	"github.com/entledger/ledger/projections"
	"github.com/entledger/ledger/server"
)

// Durability: the stream is the source of truth and the projections are a
// function of it. A restart, a rebuild and a deleted store all give the
// same store (digest) and the same answers; events that the ledger did not
// write are refused (H3); the stream can neither lose nor rewrite events (H1).

// durState drives a ledger through every kind of command the API has, about
// 12*scale of them, moving the clock between phases, and returns the GET
// paths whose answers describe the state it built.
func durState(tl *testLedger, scale int) []string {
	tl.tb.Helper()
	user := func(i int) string { return fmt.Sprintf("user%03d@x.example", i) }
	lic := func(i int) string { return fmt.Sprintf("P%03d", i) }
	acct := "/v1/accounts/acme"
	paths := []string{acct, acct + "/history", acct + "/reminders"}

	tl.must(201, "POST", "/v1/accounts", map[string]any{"id": "acme", "name": "Acme", "fulfillment_contact": "ops@acme.example"})
	for i := range 4 * scale {
		tl.must(201, "POST", acct+"/users", map[string]any{"email": user(i), "entitlement_country": "DE"},
			"Idempotency-Key", "user-"+user(i))
		paths = append(paths, acct+"/users/"+user(i), acct+"/users/"+user(i)+"/history")
	}
	tl.must(201, "POST", acct+"/users", map[string]any{"email": "Nobody@X.example"})
	paths = append(paths, acct+"/users/nobody@x.example")
	for i := range 3 * scale {
		tl.must(201, "POST", acct+"/licenses", map[string]any{
			"id": lic(i), "kind": "practitioner", "products": []string{"microstation", "openroads"},
			"valid_from": "2025-01-01T00:00:00Z", "valid_until": "2027-01-01T00:00:00Z"})
		paths = append(paths, acct+"/licenses/"+lic(i), acct+"/licenses/"+lic(i)+"/history")
	}
	tl.must(201, "POST", acct+"/licenses", map[string]any{"id": "C1", "kind": "commercial", "products": []string{"microstation"},
		"seats": 5, "valid_from": "2025-01-01T00:00:00Z", "valid_until": "2027-01-01T00:00:00Z"})
	tl.must(201, "POST", acct+"/licenses", map[string]any{"id": "T1", "kind": "trial", "products": []string{"openroads"},
		"valid_from": "2026-01-01T00:00:00Z", "valid_until": "2026-02-01T00:00:00Z"})
	paths = append(paths, acct+"/licenses/C1", acct+"/licenses/T1")

	// Assign two thirds of the practitioner licences; a rejected command
	// appends nothing but belongs to the workload.
	for i := range 2 * scale {
		tl.must(200, "POST", acct+"/licenses/"+lic(i)+"/assign", map[string]any{"email": user(i)})
	}
	tl.must(409, "POST", acct+"/licenses/"+lic(2*scale)+"/assign", map[string]any{"email": "nobody@x.example"})
	tl.must(409, "POST", acct+"/licenses/"+lic(0)+"/assign", map[string]any{"email": user(3 * scale)})

	// Inside the window: reassign and unassign some (C3).
	tl.clock.Advance(2 * time.Hour)
	for i := range scale / 2 {
		tl.must(200, "POST", acct+"/licenses/"+lic(i)+"/reassign", map[string]any{"email": user(2*scale + i)})
	}
	for i := scale / 2; i < scale; i++ {
		tl.must(200, "POST", acct+"/licenses/"+lic(i)+"/unassign", nil)
	}
	for i := range scale {
		tl.must(200, "POST", acct+"/licenses/"+lic(scale+i)+"/renew", map[string]any{"valid_until": "2028-01-01T00:00:00Z"})
	}
	for i := range scale / 2 {
		tl.must(200, "PATCH", acct+"/users/"+user(3*scale+i), map[string]any{"entitlement_country": "AT"})
	}
	// Removing a user unassigns their licence (A4).
	tl.must(204, "DELETE", acct+"/users/"+user(scale), nil)
	tl.must(204, "DELETE", acct+"/users/"+user(4*scale-1), nil)

	// After the window: the lock rejects moves (C3); after the lock, a
	// reassignment opens a new window (C4).
	tl.clock.Advance(30 * time.Hour)
	tl.must(409, "POST", acct+"/licenses/"+lic(scale+1)+"/unassign", nil)
	tl.clock.Advance(31 * 24 * time.Hour)
	tl.must(200, "POST", acct+"/licenses/"+lic(scale+1)+"/reassign", map[string]any{"email": user(scale / 2)})
	return paths
}

// durAnswers GETs every path and returns status and body per path.
func durAnswers(tl *testLedger, paths []string) map[string]string {
	tl.tb.Helper()
	out := make(map[string]string, len(paths))
	for _, p := range paths {
		r := tl.do("GET", p, nil)
		out[p] = fmt.Sprintf("%d %s", r.Status, r.Raw)
	}
	return out
}

// sameAnswers reports every path whose answer changed.
func sameAnswers(tb testing.TB, what string, before, after map[string]string) {
	tb.Helper()
	keys := make([]string, 0, len(before))
	for k := range before {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if before[k] != after[k] {
			tb.Errorf("%s: GET %s changed\nbefore: %s\nafter:  %s", what, k, before[k], after[k])
		}
	}
}

func TestRestartKeepsState(t *testing.T) {
	clk := newClock(T0)
	tl := startLedger(t, "", clk)
	paths := durState(tl, 4)
	digest := tl.digest()
	answers := durAnswers(tl, paths)
	evs := len(tl.checkStream())
	tl.stop()

	tl = startLedger(t, tl.dir, clk)
	if got := tl.digest(); got != digest {
		t.Errorf("digest after restart %s, want %s", got, digest)
	}
	sameAnswers(t, "restart", answers, durAnswers(tl, paths))

	// The write side continues where it stopped: versions and hashes
	// survived, so new commands append and chain correctly.
	tl.must(201, "POST", "/v1/accounts/acme/licenses", map[string]any{
		"id": "AFTER", "kind": "practitioner", "products": []string{"microstation"},
		"valid_from": "2025-01-01T00:00:00Z", "valid_until": "2028-01-01T00:00:00Z"})
	tl.must(200, "POST", "/v1/accounts/acme/licenses/AFTER/assign", map[string]any{"email": "user012@x.example"})
	if got := len(tl.checkStream()); got != evs+3 {
		t.Errorf("stream holds %d events after two commands, want %d", got, evs+3)
	}
	// An Idempotency-Key used before the restart still answers the first answer.
	r := tl.must(201, "POST", "/v1/accounts/acme/users", map[string]any{"email": "user000@x.example", "entitlement_country": "DE"},
		"Idempotency-Key", "user-user000@x.example")
	if r.Body["email"] != "user000@x.example" {
		t.Errorf("replayed registration answered %s", r.Raw)
	}
	if got := len(tl.checkStream()); got != evs+3 {
		t.Errorf("a replayed Idempotency-Key appended: %d events, want %d", got, evs+3)
	}
}

func TestRebuildEqualsLive(t *testing.T) {
	clk := newClock(T0)
	tl := startLedger(t, "", clk)
	paths := durState(tl, 25) // about 300 commands
	live := tl.digest()
	answers := durAnswers(tl, paths)
	last := tl.srv.Store().Checkpoint()
	dir := tl.dir
	tl.stop()

	start := time.Now()
	rep, err := server.RebuildProjections(context.Background(), server.Config{DataDir: dir})
	if err != nil {
		t.Fatalf("rebuild: %v", err)
	}
	t.Logf("rebuilt %d events in %s (wall %s)", rep.Events, rep.Took, time.Since(start))
	if rep.Digest != live {
		t.Errorf("rebuilt digest %s, want the live store's %s", rep.Digest, live)
	}
	if rep.Previous != live {
		t.Errorf("report.Previous %s, want the live store's %s", rep.Previous, live)
	}
	if rep.Events != last {
		t.Errorf("rebuild reached sequence %d, want %d", rep.Events, last)
	}
	if leftovers, _ := os.ReadDir(dir); len(leftovers) != 5 {
		var names []string
		for _, e := range leftovers {
			names = append(names, e.Name())
		}
		t.Errorf("data directory after rebuild holds %v, want only admin.token, keys, ledger.lock, nats and projections", names)
	}

	tl = startLedger(t, dir, clk)
	if got := tl.digest(); got != live {
		t.Errorf("digest after rebuild and start %s, want %s", got, live)
	}
	sameAnswers(t, "rebuild", answers, durAnswers(tl, paths))
	tl.checkStream()
}

// The live store holds Pebble's lock: a rebuild of a running ledger fails
// before it changes anything.
func TestRebuildRefusedWhileRunning(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	digest := tl.digest()
	_, err := server.RebuildProjections(context.Background(), server.Config{DataDir: tl.dir})
	if err == nil {
		t.Fatal("rebuild of a running ledger succeeded")
	}
	if !strings.Contains(err.Error(), "stop the ledger") {
		t.Errorf("error %q does not tell the operator to stop the ledger", err)
	}
	if got := tl.digest(); got != digest {
		t.Errorf("digest changed by a refused rebuild: %s, want %s", got, digest)
	}
	tl.must(200, "POST", "/v1/accounts/acme/licenses/P1/assign", map[string]any{"email": "a@x.example"})
	tl.checkStream()
}

func TestDeletedStoreIsRebuiltOnStart(t *testing.T) {
	clk := newClock(T0)
	tl := startLedger(t, "", clk)
	paths := durState(tl, 4)
	digest := tl.digest()
	answers := durAnswers(tl, paths)
	dir := tl.dir
	tl.stop()

	if err := os.RemoveAll(server.ProjectionsDir(dir)); err != nil {
		t.Fatal(err)
	}
	tl = startLedger(t, dir, clk)
	if got := tl.digest(); got != digest {
		t.Errorf("digest of the store replayed on start %s, want %s", got, digest)
	}
	sameAnswers(t, "deleted store", answers, durAnswers(tl, paths))
}

// rule H3: messages published to ledger subjects by anything but the ledger
// are breaks: not applied, listed with a reason, and they do not stop the
// ledger from writing to those aggregates.
func TestForeignEventsAreBreaks(t *testing.T) {
	clk := newClock(T0)
	tl := startLedger(t, "", clk)
	tl.setup()
	tl.must(201, "POST", "/v1/accounts/acme/licenses", map[string]any{
		"id": "P2", "kind": "practitioner", "products": []string{"microstation"},
		"valid_from": "2025-01-01T00:00:00Z", "valid_until": "2028-01-01T00:00:00Z"})
	tl.must(200, "POST", "/v1/accounts/acme/licenses/P1/assign", map[string]any{"email": "a@x.example"})
	p1Before := tl.must(200, "GET", "/v1/accounts/acme/licenses/P1", nil).Raw
	p2Before := tl.must(200, "GET", "/v1/accounts/acme/licenses/P2", nil).Raw
	p1Hist := len(tl.must(200, "GET", "/v1/accounts/acme/licenses/P1/history", nil).Body["events"].([]any))

	// A well-formed event (it passes the strict decoder and its schema) that
	// would extend P1's term, but whose prevhash is not P1's last event's.
	forged := events.Event{
		ID: events.NewID(), Account: "acme", AggregateID: "P1", OccurredAt: T0, RecordedAt: T0,
		Actor: "intruder", CommandID: events.NewID(), CorrelationID: "forged",
		PrevHash: strings.Repeat("ab", 32),
		Data: events.LicenseRenewed{ID: "P1", ValidUntil: time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC),
			PreviousValidUntil: time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	data, err := events.Marshal(forged)
	if err != nil {
		t.Fatal(err)
	}
	if err := events.CheckSchema(data); err != nil {
		t.Fatalf("the forged event is not well-formed: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	js := tl.srv.Conn().JS
	p1Subject := events.Subject("acme", events.AggregateLicense, "P1")
	p2Subject := events.Subject("acme", events.AggregateLicense, "P2")
	ack1, err := js.Publish(ctx, p1Subject, data)
	if err != nil {
		t.Fatalf("publish forged event: %v", err)
	}
	ack2, err := js.Publish(ctx, p2Subject, []byte("\x00\xffnot an event{"))
	if err != nil {
		t.Fatalf("publish garbage: %v", err)
	}
	if err := tl.srv.Store().WaitFor(ctx, ack2.Sequence); err != nil {
		t.Fatal(err)
	}

	if got := tl.must(200, "GET", "/v1/accounts/acme/licenses/P1", nil).Raw; string(got) != string(p1Before) {
		t.Errorf("forged event changed P1:\nbefore %s\nafter  %s", p1Before, got)
	}
	if got := tl.must(200, "GET", "/v1/accounts/acme/licenses/P2", nil).Raw; string(got) != string(p2Before) {
		t.Errorf("garbage changed P2:\nbefore %s\nafter  %s", p2Before, got)
	}
	if n := len(tl.must(200, "GET", "/v1/accounts/acme/licenses/P1/history", nil).Body["events"].([]any)); n != p1Hist {
		t.Errorf("P1's history has %d events after a forged one, want %d", n, p1Hist)
	}
	breaks, err := tl.srv.Store().Breaks()
	if err != nil {
		t.Fatal(err)
	}
	if len(breaks) != 2 {
		t.Fatalf("breaks %+v, want the forged event and the garbage", breaks)
	}
	for i, want := range []struct {
		seq     uint64
		subject string
		reason  string
	}{{ack1.Sequence, p1Subject, "not written by the ledger"}, {ack2.Sequence, p2Subject, "not written by the ledger"}} {
		b := breaks[i]
		if b.Seq != want.seq || b.Subject != want.subject || !strings.Contains(b.Reason, want.reason) {
			t.Errorf("break %d: %+v, want sequence %d on %s with a reason mentioning %q", i, b, want.seq, want.subject, want.reason)
		}
	}

	// The write side appends after the foreign messages (their sequences
	// are the subjects' last) and chains to the last valid event.
	tl.must(200, "POST", "/v1/accounts/acme/licenses/P1/reassign", map[string]any{"email": "b@x.example"})
	tl.must(200, "POST", "/v1/accounts/acme/licenses/P2/assign", map[string]any{"email": "c@x.example"})
	if got := tl.must(200, "GET", "/v1/accounts/acme/licenses/P1", nil).Body["valid_until"]; got != "2028-01-01T00:00:00Z" {
		t.Errorf("P1 valid_until %v: the forged renewal took effect", got)
	}
	if breaks, _ := tl.srv.Store().Breaks(); len(breaks) != 2 {
		t.Errorf("after two ledger commands: breaks %+v, want still the two foreign messages", breaks)
	}
	chainSkipping(tl, map[uint64]bool{ack1.Sequence: true, ack2.Sequence: true})

	// A rebuild refuses the same messages and reaches the same store.
	digest := tl.digest()
	dir := tl.dir
	tl.stop()
	rep, err := server.RebuildProjections(context.Background(), server.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Digest != digest {
		t.Errorf("rebuilt digest %s, want the live %s", rep.Digest, digest)
	}
	tl = startLedger(t, dir, clk)
	if breaks, _ := tl.srv.Store().Breaks(); len(breaks) != 2 {
		t.Errorf("after rebuild: breaks %+v, want the two foreign messages", breaks)
	}
}

// chainSkipping checks every stored message except the skipped sequences
// with the strict decoder, and the hash chain of each subject over them.
func chainSkipping(tl *testLedger, skip map[uint64]bool) {
	tl.tb.Helper()
	last := map[string]string{}
	for _, m := range tl.streamEvents() {
		if skip[m.Sequence] {
			continue
		}
		e, err := events.Unmarshal(m.Data)
		if err != nil {
			tl.tb.Errorf("sequence %d: %v", m.Sequence, err)
			continue
		}
		if e.PrevHash != last[m.Subject] {
			tl.tb.Errorf("sequence %d on %s: prevhash %q, want %q", m.Sequence, m.Subject, e.PrevHash, last[m.Subject])
		}
		last[m.Subject] = events.Hash(m.Data)
	}
}

// rule H1: the stream denies delete and purge, and cannot be reconfigured
// to allow them or to drop messages by rollup or TTL.
func TestStreamDeniesDeleteAndPurge(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st := tl.srv.Conn().Stream
	js := tl.srv.Conn().JS
	before := tl.streamEvents()
	subj := before[0].Subject

	attempts := []struct {
		name string
		do   func() error
	}{
		{"delete message", func() error { return st.DeleteMsg(ctx, 1) }},
		{"secure delete message", func() error { return st.SecureDeleteMsg(ctx, 2) }},
		{"purge", func() error { return st.Purge(ctx) }},
		{"purge subject", func() error { return st.Purge(ctx, jetstream.WithPurgeSubject(subj)) }},
		{"purge up to sequence", func() error { return st.Purge(ctx, jetstream.WithPurgeSequence(3)) }},
		{"purge keeping one", func() error { return st.Purge(ctx, jetstream.WithPurgeKeep(1)) }},
		{"update to allow delete", func() error {
			cfg := server.StreamConfig(1)
			cfg.DenyDelete = false
			_, err := js.UpdateStream(ctx, cfg)
			return err
		}},
		{"update to allow purge", func() error {
			cfg := server.StreamConfig(1)
			cfg.DenyPurge = false
			_, err := js.UpdateStream(ctx, cfg)
			return err
		}},
		{"rollup publish", func() error {
			_, err := js.PublishMsg(ctx, &nats.Msg{Subject: subj, Data: []byte("{}"),
				Header: nats.Header{"Nats-Rollup": []string{"sub"}}})
			return err
		}},
		{"publish with a TTL", func() error {
			_, err := js.PublishMsg(ctx, &nats.Msg{Subject: subj, Data: []byte("{}"),
				Header: nats.Header{"Nats-TTL": []string{"1s"}}})
			return err
		}},
	}
	for _, a := range attempts {
		if err := a.do(); err == nil {
			t.Errorf("%s: succeeded, want an error", a.name)
		} else {
			t.Logf("%s: %v", a.name, err)
		}
	}

	after := tl.streamEvents()
	if len(after) != len(before) {
		t.Fatalf("stream holds %d messages, had %d", len(after), len(before))
	}
	for i := range before {
		if before[i].Sequence != after[i].Sequence || string(before[i].Data) != string(after[i].Data) {
			t.Errorf("message %d changed", before[i].Sequence)
		}
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !info.Config.DenyDelete || !info.Config.DenyPurge {
		t.Errorf("stream config deny_delete=%v deny_purge=%v after the attempts", info.Config.DenyDelete, info.Config.DenyPurge)
	}
	tl.checkStream()
}

// rule H1: EnsureStream never accepts (or silently "fixes") an existing
// stream that could lose or rewrite events; the error names the setting.
func TestEnsureStreamRefusesWeakStream(t *testing.T) {
	cases := []struct {
		name   string
		weaken func(*jetstream.StreamConfig)
		want   string // in the error; "" means EnsureStream accepts it
	}{
		{"deny delete off", func(c *jetstream.StreamConfig) { c.DenyDelete = false }, "deny_delete"},
		{"deny purge off", func(c *jetstream.StreamConfig) { c.DenyPurge = false }, "deny_purge"},
		{"max age", func(c *jetstream.StreamConfig) { c.MaxAge = time.Hour }, "max_age"},
		{"max messages per subject", func(c *jetstream.StreamConfig) { c.MaxMsgsPerSubject = 100 }, "max_msgs_per_subject"},
		{"memory storage", func(c *jetstream.StreamConfig) { c.Storage = jetstream.MemoryStorage }, "storage"},
		{"atomic publish off (turned on)", func(c *jetstream.StreamConfig) { c.AllowAtomicPublish = false }, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			js := embeddedJS(t)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			cfg := server.StreamConfig(1)
			tc.weaken(&cfg)
			if _, err := js.CreateStream(ctx, cfg); err != nil {
				t.Fatalf("create the weakened stream: %v", err)
			}
			_, err := server.EnsureStream(ctx, js, 1)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("EnsureStream: %v", err)
			case tc.want != "" && err == nil:
				t.Fatalf("EnsureStream accepted a stream with %s", tc.name)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Errorf("EnsureStream error %q does not name %s", err, tc.want)
			}
			s, err := js.Stream(ctx, server.StreamName)
			if err != nil {
				t.Fatal(err)
			}
			got := s.CachedInfo().Config
			if tc.want == "" {
				if !got.AllowAtomicPublish {
					t.Error("EnsureStream did not turn on atomic publish")
				}
				return
			}
			// Refused, not "fixed": the operator's stream is as it was.
			if got.DenyDelete != cfg.DenyDelete || got.DenyPurge != cfg.DenyPurge || got.MaxAge != cfg.MaxAge ||
				got.MaxMsgsPerSubject != cfg.MaxMsgsPerSubject || got.Storage != cfg.Storage {
				t.Errorf("EnsureStream changed the refused stream: %+v", got)
			}
		})
	}
}

// embeddedJS starts a separate embedded JetStream in a temporary directory.
func embeddedJS(tb testing.TB) jetstream.JetStream {
	tb.Helper()
	ns, err := server.StartEmbedded(server.EmbeddedOptions{StoreDir: tb.TempDir()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	nc, err := nats.Connect("", nats.InProcessServer(ns))
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

// rule H3: "an event published to a ledger subject by anything but the
// ledger is a break" — also when the forger gets the hash chain right,
// which needs nothing secret: the first event of a new aggregate carries no
// prevhash, and any subscriber can hash an aggregate's last message.
func TestForeignEventWithValidChainIsBreak(t *testing.T) {
	tl := startLedger(t, "", nil)
	tl.setup()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	js := tl.srv.Conn().JS

	// P1's last message, as any subscriber sees it.
	p1Subject := events.Subject("acme", events.AggregateLicense, "P1")
	last, err := tl.srv.Conn().Stream.GetLastMsgForSubject(ctx, p1Subject)
	if err != nil {
		t.Fatal(err)
	}
	forgeries := []struct {
		name string
		e    events.Event
	}{
		{"new licence out of nothing", events.Event{AggregateID: "P99",
			Data: events.LicenseCreated{ID: "P99", Kind: events.KindPractitioner, Products: []string{"microstation"},
				ValidFrom: T0, ValidUntil: T0.AddDate(5, 0, 0)}}},
		{"renewal chained to P1's last event", events.Event{AggregateID: "P1", PrevHash: events.Hash(last.Data),
			Data: events.LicenseRenewed{ID: "P1", ValidUntil: T0.AddDate(70, 0, 0),
				PreviousValidUntil: time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC)}}},
	}
	p1Before := tl.must(200, "GET", "/v1/accounts/acme/licenses/P1", nil).Raw
	var seqs []uint64
	for _, f := range forgeries {
		e := f.e
		e.ID, e.Account, e.OccurredAt, e.RecordedAt = events.NewID(), "acme", T0, T0
		e.Actor, e.CommandID, e.CorrelationID = "intruder", events.NewID(), "forged"
		data, err := events.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		ack, err := js.Publish(ctx, e.Subject(), data)
		if err != nil {
			t.Fatalf("%s: publish: %v", f.name, err)
		}
		seqs = append(seqs, ack.Sequence)
	}
	if err := tl.srv.Store().WaitFor(ctx, seqs[len(seqs)-1]); err != nil {
		t.Fatal(err)
	}

	if r := tl.do("GET", "/v1/accounts/acme/licenses/P99", nil); r.Status != 404 {
		t.Errorf("%s: GET P99 answered %d, want 404 (the forged licence must not exist): %s", forgeries[0].name, r.Status, r.Raw)
	}
	if got := tl.must(200, "GET", "/v1/accounts/acme/licenses/P1", nil).Raw; string(got) != string(p1Before) {
		t.Errorf("%s: P1 changed:\nbefore %s\nafter  %s", forgeries[1].name, p1Before, got)
	}
	breaks, err := tl.srv.Store().Breaks()
	if err != nil {
		t.Fatal(err)
	}
	if len(breaks) != len(forgeries) {
		t.Errorf("breaks %+v, want one per forged event at sequences %v", breaks, seqs)
	}
}

// A crash after an append and before the projections applied it leaves the
// store behind the stream; the next start applies the missing events and
// reaches the same store as a rebuild.
func TestStartCatchesUpWithUnprojectedEvents(t *testing.T) {
	clk := newClock(T0)
	tl := startLedger(t, "", clk)
	tl.setup()
	dir := tl.dir
	tl.stop()

	// A write side without projections following: the append lands, the
	// wait for the projections times out.
	ctx := context.Background()
	conn, err := server.Dial(ctx, server.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	store, err := projections.Open(server.ProjectionsDir(dir), projections.Options{})
	if err != nil {
		conn.Close()
		t.Fatal(err)
	}
	key, err := events.LoadKey(filepath.Join(dir, "keys", "events.ed25519"))
	if err != nil {
		t.Fatal(err)
	}
	l := ledger.New(conn.NC, conn.JS, conn.Stream, store, ledger.Options{Key: key, Now: clk.Now})
	behind := store.Checkpoint()
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := l.Assign(wctx, ledger.Meta{}, commands.Assign{Account: "acme", LicenseID: "P1", Email: "a@x.example"})
		done <- err
	}()
	// Once the append has landed, give up waiting for the projections: the
	// "crash" comes between the two.
	var info *jetstream.StreamInfo
	for deadline := time.Now().Add(10 * time.Second); ; {
		if info, err = conn.Stream.Info(ctx); err != nil {
			t.Fatal(err)
		}
		if info.State.LastSeq > behind {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the append did not land within 10s (stream at %d)", info.State.LastSeq)
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("assign without projections: %v, want it cancelled while waiting for them", err)
	}
	if store.Checkpoint() != behind {
		t.Fatalf("the store moved to %d without a follower", store.Checkpoint())
	}
	store.Close()
	conn.Close()

	tl = startLedger(t, dir, clk)
	if got := tl.srv.Store().Checkpoint(); got != info.State.LastSeq {
		t.Errorf("checkpoint %d after start, want the stream's last sequence %d", got, info.State.LastSeq)
	}
	if got := tl.must(200, "GET", "/v1/accounts/acme/licenses/P1", nil).Body["assignee"]; got != "a@x.example" {
		t.Errorf("P1 assignee %v after start, want a@x.example", got)
	}
	if got := tl.must(200, "GET", "/v1/accounts/acme/users/a@x.example", nil).Body["license_id"]; got != "P1" {
		t.Errorf("a@x.example license_id %v after start, want P1", got)
	}
	tl.checkStream()
	digest := tl.digest()
	tl.stop()
	rep, err := server.RebuildProjections(ctx, server.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Digest != digest {
		t.Errorf("rebuilt digest %s, want the caught-up store's %s", rep.Digest, digest)
	}
}
