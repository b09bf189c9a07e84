package ledger_test

import (
	"path/filepath"
	"time"

	"context"
	"github.com/nats-io/nats.go"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/internal/injection"
	"github.com/entledger/ledger/server"
)

// rule S6: a subscriber of acme sends every JetStream API request and
// acknowledgement it can address, each with reply subjects on globex's
// ledger subjects, on _global, on a usage shard, on the ledger's bucket
// and on the stream's own API, plus plain publishes to them. The server
// answers each request in the subscriber's account (or refuses it), so
// nothing lands: the stream holds only what the ledger wrote, verify finds
// no break, the stream and its bucket are as they were.
func TestRuleS6NothingLandsThroughReplySubjects(t *testing.T) {
	tl := startListening(t)
	tl.must(201, "POST", "/v1/accounts/globex/users", map[string]any{"email": "g@x.example", "entitlement_country": "DE"})
	nc, creds, _ := subscriberConn(t, tl, "/v1/accounts/acme/subscribers", "probe")
	// A subscriber of every account may also ask for the stream's info.
	all, allCreds, _ := subscriberConn(t, tl, "/v1/subscribers", "audit")
	ctx := context.Background()
	stream := tl.srv.Conn().Stream
	before, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tried, err := injection.Probe(nc, creds["durable"].(string), creds["js_api_prefix"].(string), "globex")
	if err != nil {
		t.Fatal(err)
	}
	more, err := injection.Probe(all, allCreds["durable"].(string), allCreds["js_api_prefix"].(string), "globex")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := all.Request(allCreds["consumer_service"].(string), []byte(`{}`), 10*time.Second); err != nil {
		t.Fatalf("the read-all subscriber's consumer service after the probe: %v", err)
	}
	t.Logf("tried %d requests and publishes", len(tried)+len(more))
	// A request of the subscriber's own answered after all of them (the
	// ledger's consumer service handles its requests in order: the probe
	// asked it to make the consumer anew, with its replies sent elsewhere),
	// then a command of the ledger's applied: the server has handled every
	// probe.
	if _, err := nc.Request(creds["consumer_service"].(string), []byte(`{}`), 10*time.Second); err != nil {
		t.Fatalf("the consumer service after the probe: %v", err)
	}
	js, err := jetstream.NewWithAPIPrefix(nc, creds["js_api_prefix"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Consumer(ctx, "LEDGER", creds["durable"].(string)); err != nil {
		t.Fatalf("its own consumer after the probe: %v", err)
	}
	tl.must(201, "POST", "/v1/accounts/globex/users", map[string]any{"email": "after@x.example", "entitlement_country": "DE"})
	tl.waitReady()

	after, err := stream.Info(ctx)
	if err != nil {
		t.Fatalf("the stream after the probe: %v", err)
	}
	if !after.Created.Equal(before.Created) {
		t.Fatalf("the stream was replaced: created %s, was %s", after.Created, before.Created)
	}
	rep, err := server.VerifyStream(ctx, stream, events.NewVerifier(tl.srv.Ledger().EventKey()))
	if err != nil || !rep.OK() || rep.Breaks != 0 {
		t.Fatalf("verify after the probe: %+v %v", rep, err)
	}
	// Only the ledger's events were added: the user created after it.
	if got := after.State.Msgs - before.State.Msgs; got != 2 && got != 1 {
		t.Errorf("the stream grew by %d messages; the one command after the probe appends 1 or 2", got)
	}
	integrity := tl.must(200, "GET", "/v1/integrity", nil).Body
	if integrity["breaks"] != float64(0) {
		t.Errorf("GET /v1/integrity after the probe: %v", integrity)
	}
	kv, err := tl.srv.Conn().JS.KeyValue(ctx, "LEDGER_ANSWERS")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Get(ctx, "probe"); err == nil {
		t.Error("the probe wrote into the ledger's bucket")
	}
}

// The probe can see a landing: the same requests sent by a user of the
// stream's own account (the operator's backup user, allowed only the
// stream's info and snapshots) put messages on the stream. This is why
// subscribers and the read-only user live in accounts of their own, and
// why the backup user is as trusted as the ledger (deploy/nats).
func TestRuleS6ProbeSeesALandingInTheStreamAccount(t *testing.T) {
	tl := startListening(t)
	ctx := context.Background()
	stream := tl.srv.Conn().Stream
	before, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pw, err := server.ReadSecret(filepath.Join(tl.dir, "keys", "nats-backup.password"), "")
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(tl.srv.NATSURL(), nats.UserInfo(server.BackupNATSUser, pw), nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := injection.Probe(nc, "none", "$JS.API", "globex"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the backup user's probe landing on the stream", func() bool {
		info, err := stream.Info(ctx)
		return err == nil && info.State.Msgs > before.State.Msgs
	})
}
