package ledger_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The backup and restore of docs/operations.md: with the ledger stopped,
// the stream (DATA/nats) and the keys (DATA/keys) are all a ledger is; a
// fresh directory holding only their copies starts, rebuilds its
// projections from the stream, and reaches the same digest. The tokens come
// back with the stream (the admin token file is the operator's own copy).
func TestBackupAndRestore(t *testing.T) {
	c := newClock(T0)
	tl := startLedger(t, "", c)
	tl.setup()
	tl.must(200, "POST", "/v1/accounts/acme/licenses/P1/assign", e2eAssign("a@x.example"))
	c.Advance(time.Hour)
	tl.must(201, "POST", "/v1/accounts/acme/users", map[string]any{"email": "d@x.example", "entitlement_country": "FR"})
	want := tl.digest()
	token := tl.token
	tl.stop()

	restored := t.TempDir()
	for _, part := range []string{"nats", "keys"} {
		copyDir(t, filepath.Join(tl.dir, part), filepath.Join(restored, part))
	}
	if err := os.WriteFile(filepath.Join(restored, "admin.token"), []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	back := startLedger(t, restored, c)
	if got := back.digest(); got != want {
		t.Errorf("restored digest %s, want the original's %s", got, want)
	}
	back.must(200, "GET", "/v1/accounts/acme/licenses/P1", nil)
	if r := back.must(200, "GET", "/v1/accounts/acme/users/d@x.example", nil); r.Body["entitlement_country"] != "FR" {
		t.Errorf("restored user: %s", r.Raw)
	}
}
