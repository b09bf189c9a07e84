package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/entledger/ledger/server"
	"github.com/nats-io/nats.go"
)

// ledger tail --from-seq N prints exactly the account's events from N on,
// in order, verified, as a subscriber with scoped credentials; without
// --follow it stops at the last one; --type filters; from the end it
// prints nothing.
func TestTailFromSeq(t *testing.T) {
	dir := t.TempDir()
	srv, err := server.Start(context.Background(), server.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", NATSListen: "127.0.0.1:0",
		NoReminders: true, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close(context.Background()) })
	token := adminToken(t, srv)
	post := func(path, body string) []byte {
		t.Helper()
		req, _ := http.NewRequest("POST", "http://"+srv.Addr()+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode/100 != 2 {
			t.Fatalf("POST %s: %d %s", path, resp.StatusCode, raw)
		}
		return raw
	}
	post("/v1/accounts", `{"id":"acme","name":"Acme","fulfillment_contact":"it@acme.example"}`)
	post("/v1/accounts", `{"id":"globex","name":"Globex","fulfillment_contact":"it@globex.example"}`)
	for _, u := range []string{"a", "b", "c", "d"} {
		post("/v1/accounts/acme/users", `{"email":"`+u+`@x.example","entitlement_country":"DE"}`)
		post("/v1/accounts/globex/users", `{"email":"`+u+`@g.example","entitlement_country":"DE"}`)
	}
	creds := filepath.Join(t.TempDir(), "feed.json")
	os.WriteFile(creds, post("/v1/accounts/acme/subscribers", `{"name":"tail"}`), 0o600)

	// The account's events on the stream, by sequence.
	var acme []uint64
	info, _ := srv.Conn().Stream.Info(context.Background())
	for seq := uint64(1); seq <= info.State.LastSeq; seq++ {
		m, err := srv.Conn().Stream.GetMsg(context.Background(), seq)
		if err == nil && strings.HasPrefix(m.Subject, "ledger.events.acme.") {
			acme = append(acme, seq)
		}
	}
	from := acme[2]
	tail := func(extra ...string) ([]uint64, string) {
		t.Helper()
		var out, errOut bytes.Buffer
		args := append([]string{"tail", "--creds", creds, "--nats-url", srv.NATSURL(), "--url", "http://" + srv.Addr(), "--json"}, extra...)
		if err := Run(context.Background(), args, &out, &errOut); err != nil {
			t.Fatalf("tail %v: %v %s", extra, err, errOut.String())
		}
		var got []uint64
		sc := bufio.NewScanner(&out)
		for sc.Scan() {
			var line struct {
				Seq uint64 `json:"seq"`
			}
			if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
				t.Fatalf("line %q: %v", sc.Text(), err)
			}
			got = append(got, line.Seq)
		}
		return got, errOut.String()
	}
	got, _ := tail("--from-seq", itoa(from))
	if want := acme[2:]; !equalSeqs(got, want) {
		t.Errorf("--from-seq %d: %v, want %v", from, got, want)
	}
	if got, _ := tail("--from-seq", "1", "--type", "account.created"); len(got) != 1 || got[0] != acme[0] {
		t.Errorf("--type account.created: %v, want [%d]", got, acme[0])
	}
	if got, _ := tail(); len(got) != 0 {
		t.Errorf("from the end, without --follow: %v, want nothing", got)
	}

	// H3: verify runs beside the ledger as a read-all subscriber; a forged
	// event makes it exit 1 naming it.
	all := filepath.Join(t.TempDir(), "all.json")
	os.WriteFile(all, post("/v1/subscribers", `{"name":"verify"}`), 0o600)
	verify := func() (string, error) {
		var out bytes.Buffer
		err := Run(context.Background(), []string{"verify", "--creds", all, "--nats-url", srv.NATSURL(), "--url", "http://" + srv.Addr()},
			&out, io.Discard)
		return out.String(), err
	}
	if out, err := verify(); err != nil || !strings.Contains(out, "ok:") {
		t.Fatalf("verify as a subscriber: %v\n%s", err, out)
	}
	pw, _ := server.LedgerNATSPassword(dir)
	nc, err := nats.Connect(srv.NATSURL(), nats.UserInfo(server.LedgerNATSUser, pw))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.Publish("ledger.events.acme.user.a@x%2Eexample", []byte(`{"specversion":"1.0"}`))
	nc.Flush()
	if out, err := verify(); !errors.Is(err, errBroken) || !strings.Contains(out, "1 break") {
		t.Errorf("verify after a forged event: %v\n%s", err, out)
	}
}

func equalSeqs(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }
