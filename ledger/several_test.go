package ledger_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/entledger/ledger/internal/testlock"
	"github.com/entledger/ledger/server"
)

// This file holds the tests of several ledger processes answering as one
// ledger (rule H5).

// rules H5, G5: two ledgers on one stream both emit the daily reminders of
// the same unassigned licences, at once, while commands are sent to both:
// each licence gets one reminder a day, neither ledger logs a reminder it
// could not decide, and no command is answered 5xx (do fails the test on
// one).
func TestRemindersOfTwoLedgersOnce(t *testing.T) {
	c := newClock(T0.Add(9 * time.Hour))
	warnings := make(chan string, 1000)
	a, b := startPairWith(t, c, server.Config{ReminderPoll: 5 * time.Millisecond, Logger: warningLogger(warnings)})
	checkRemindersOnce(t, c, a, b, warnings)
}

// rules H5, G5: TestRemindersOfTwoLedgersOnce on an R3 stream of a
// three-node cluster, where the second publish of a message id being
// stored is refused with 10158 ("duplicate message id is in process"),
// which failed every command grouped with the reminder.
func TestClusterRemindersOfTwoLedgersOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("a three-node NATS cluster: not with -short")
	}
	testlock.Heavy(t)
	nodes := startNATSCluster(t)
	httpPorts := freePorts(t, 2)
	c := newClock(T0.Add(9 * time.Hour))
	warnings := make(chan string, 1000)
	cfgA := server.Config{DataDir: t.TempDir(), HTTPAddr: fmt.Sprintf("127.0.0.1:%d", httpPorts[0]),
		NATSURLs: []string{nodes[0].url(), nodes[1].url(), nodes[2].url()}, Replicas: 3,
		ReminderPoll: 5 * time.Millisecond, Logger: warningLogger(warnings)}
	a := startClusterLedger(t, cfgA, c, "")
	cfgB := cfgA
	cfgB.DataDir, cfgB.HTTPAddr = t.TempDir(), fmt.Sprintf("127.0.0.1:%d", httpPorts[1])
	cfgB.SigningKey = filepath.Join(cfgA.DataDir, "keys", "events.ed25519")
	b := startClusterLedger(t, cfgB, c, a.token)
	checkRemindersOnce(t, c, a, b, warnings)
}

// checkRemindersOnce creates unassigned licences on a and b (both
// reminding, on clock c), lets three UTC days begin while users are
// registered on both, and checks that every licence got exactly one
// reminder each day and that no warning names a reminder not decided or a
// request that failed.
func checkRemindersOnce(t *testing.T, c *clock, a, b *testLedger, warnings <-chan string) {
	t.Helper()
	a.must(201, "POST", "/v1/accounts", map[string]any{"id": "acme", "name": "Acme", "fulfillment_contact": "ops@acme.example"})
	b.waitReady()
	const n, days = 16, 3
	ledgers := []*testLedger{a, b}
	for i := range n {
		ledgers[i%2].must(201, "POST", useAcme+"/licenses",
			e2eLicense(fmt.Sprintf("L%d", i), "practitioner", 0, T0.Add(-24*time.Hour), T0.Add(365*24*time.Hour), "microstation"))
	}
	var want []string
	for d := range days {
		if d > 0 {
			c.Set(c.Now().Truncate(24 * time.Hour).Add(24 * time.Hour)) // the next midnight
		}
		day := c.Now().Format(time.DateOnly)
		// Commands to both while the day's reminders race: grouped with
		// them, they must not fail with them.
		for i := range n {
			email := fmt.Sprintf("d%d-u%d@x.example", d, i)
			ledgers[i%2].must(201, "POST", useAcme+"/users", map[string]any{"email": email, "entitlement_country": "DE"})
		}
		for i := range n {
			want = append(want, fmt.Sprintf("L%d@%s", i, day))
		}
		waitReminders(t, a, len(want))
	}
	a.waitReady()
	b.waitReady()
	count := map[string]int{}
	for _, r := range reminderEvents(a) {
		count[r.LicenseID+"@"+r.Day]++
	}
	for _, k := range want {
		if count[k] != 1 {
			t.Errorf("reminder %s appended %d times, want once", k, count[k])
		}
		delete(count, k)
	}
	for k, n := range count {
		t.Errorf("reminder %s appended %d times, want none", k, n)
	}
	for {
		select {
		case w := <-warnings:
			if strings.Contains(w, "reminder") || strings.Contains(w, "request failed") {
				t.Errorf("warning: %s", w)
			}
		default:
			return
		}
	}
}

// waitReminders waits until the stream holds n reminders.
func waitReminders(t *testing.T, tl *testLedger, n int) {
	t.Helper()
	eventually(t, 20*time.Second, fmt.Sprintf("%d reminders", n), func() bool { return len(reminderEvents(tl)) >= n })
}
