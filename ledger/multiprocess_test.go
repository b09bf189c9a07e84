package ledger_test

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/entledger/ledger/server"
)

// startPair starts two ledgers sharing one stream: a with the embedded
// server, listening for b, which shares a's signing key. Both run on clock
// c.
func startPair(t *testing.T, c *clock) (a, b *testLedger) {
	t.Helper()
	return startPairWith(t, c, server.Config{})
}

// startPairWith is startPair with both ledgers configured as base (its
// reminders, their poll and its logger, say).
func startPairWith(t *testing.T, c *clock, base server.Config) (a, b *testLedger) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dirA, dirB := t.TempDir(), t.TempDir()
	cfgA := base
	cfgA.DataDir, cfgA.HTTPAddr, cfgA.Now, cfgA.NATSListen = dirA, "127.0.0.1:0", c.Now, addr
	srvA, err := server.Start(context.Background(), withoutLimits(cfgA))
	if err != nil {
		t.Fatal(err)
	}
	a = &testLedger{tb: t, srv: srvA, clock: c, dir: dirA, base: "http://" + srvA.Addr(), token: readAdminToken(t, dirA)}
	t.Cleanup(a.stop)
	a.waitReady()
	pw, err := server.LedgerNATSPassword(dirA)
	if err != nil {
		t.Fatal(err)
	}
	cfgB := base
	cfgB.DataDir, cfgB.HTTPAddr, cfgB.Now = dirB, "127.0.0.1:0", c.Now
	cfgB.NATSURLs, cfgB.NATSPassword, cfgB.SigningKey = []string{"nats://" + addr}, pw, filepath.Join(dirA, "keys", "events.ed25519")
	srvB, err := server.Start(context.Background(), withoutLimits(cfgB))
	if err != nil {
		t.Fatal(err)
	}
	// The stream holds a's admin token: b mints none of its own.
	b = &testLedger{tb: t, srv: srvB, clock: c, dir: dirB, base: "http://" + srvB.Addr(), token: a.token}
	t.Cleanup(b.stop) // registered last, so b stops before a's embedded server
	b.waitReady()
	return a, b
}

// rules F1, F4 across processes: usage recorded on one ledger sees every
// change another ledger sharing the stream acknowledged before it. A user
// registered on b can record usage on a at once, and usage after an
// assignment made on b is classified practitioner, with that licence.
func TestUsageSeesChangesOfAnotherLedger(t *testing.T) {
	c := newClock(T0)
	a, b := startPair(t, c)
	useWorld(a)
	from, until := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC)
	const n = 25
	for i := range n {
		a.must(201, "POST", useAcme+"/licenses", e2eLicense(fmt.Sprintf("PX%d", i), "practitioner", 0, from, until, "microstation"))
	}
	c.Set(useNow)
	b.waitReady()
	for i := range n {
		email := fmt.Sprintf("n%d@x.example", i)
		b.must(201, "POST", useAcme+"/users", map[string]any{"email": email, "entitlement_country": "DE"})
		rec := useR(fmt.Sprintf("mp-%d", i), c.Now().Add(-3*time.Hour), time.Minute).set("email", email)
		r := a.must(200, "POST", usePath, useBatch(rec))
		useClass(t, useCheckAnswer(t, r.Body, 1, 0, rec)[0], "pooled", "C1", false)

		lic := fmt.Sprintf("PX%d", i)
		c.Advance(time.Hour)
		b.must(200, "POST", useAcme+"/licenses/"+lic+"/assign", e2eAssign(email))
		c.Advance(2 * time.Hour)
		rec = useR(fmt.Sprintf("mq-%d", i), c.Now().Add(-time.Hour), time.Minute).set("email", email)
		r = a.must(200, "POST", usePath, useBatch(rec))
		useClass(t, useCheckAnswer(t, r.Body, 1, 0, rec)[0], "practitioner", lic, false)
	}
}
