package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/ledger"
	"github.com/entledger/ledger/server"
)

// cliServer starts a ledger with an account, two users and a practitioner
// licence assigned to a@x.example, and returns its URL.
func cliServer(t *testing.T) (string, *server.Server) {
	t.Helper()
	srv, err := server.Start(context.Background(), server.Config{DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0",
		Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close(context.Background()) })
	// The CLI's --token from the environment, as an operator sets it.
	t.Setenv("LEDGER_TOKEN", adminToken(t, srv))
	ctx, l, m := context.Background(), srv.Ledger(), ledger.Meta{}
	now := time.Now().UTC()
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(l.CreateAccount(ctx, m, commands.CreateAccount{ID: "acme", Name: "Acme", FulfillmentContact: "o@acme.example"}))
	for _, u := range []string{"a@x.example", "b@x.example"} {
		must(l.RegisterUser(ctx, m, commands.RegisterUser{Account: "acme", Email: u, EntitlementCountry: "DE", At: now.Add(-3 * time.Hour)}))
	}
	must(l.CreateLicense(ctx, m, commands.CreateLicense{Account: "acme", ID: "P1", Kind: "practitioner", Products: []string{"ms"},
		ValidFrom: now.Add(-24 * time.Hour), ValidUntil: now.Add(365 * 24 * time.Hour), At: now.Add(-3 * time.Hour)}))
	must(l.Assign(ctx, m, commands.Assign{Account: "acme", LicenseID: "P1", Email: "a@x.example", At: now.Add(-2 * time.Hour)}))
	return "http://" + srv.Addr(), srv
}

// adminToken reads the admin token srv's first start wrote.
func adminToken(t *testing.T, srv *server.Server) string {
	t.Helper()
	raw, err := os.ReadFile(server.AdminTokenFile(srv.DataDir()))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(raw))
}

func cli(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := Run(context.Background(), args, &out, &errOut)
	return out.String(), err
}

// The client commands an administrator uses against a running ledger:
// sign in and out, check, import a usage file (NDJSON and CSV) and read the
// summary that splits pooled from practitioner use.
func TestClientCommands(t *testing.T) {
	url, _ := cliServer(t)
	base := []string{"--url", url, "--account", "acme"}
	out, err := cli(t, append([]string{"signin", "--email", "a@x.example", "--machine", "m1", "--client-version", "10.00.18"}, base...)...)
	if err != nil || !strings.Contains(out, "a@x.example signed in on m1") {
		t.Fatalf("signin: %q, %v", out, err)
	}
	if _, err := cli(t, append([]string{"signin", "--email", "a@x.example", "--machine", "m2", "--client-version", "10.00.18"}, base...)...); err == nil ||
		!strings.Contains(err.Error(), "signed_in_elsewhere") {
		t.Errorf("signin elsewhere: %v, want signed_in_elsewhere", err)
	}
	out, err = cli(t, append([]string{"check", "--email", "a@x.example", "--product", "ms", "--machine", "m1", "--client-version", "10.00.18"}, base...)...)
	if err != nil || !strings.Contains(out, "granted: practitioner") {
		t.Errorf("check: %q, %v", out, err)
	}
	out, err = cli(t, append([]string{"check", "--email", "b@x.example", "--product", "ms", "--machine", "m3", "--client-version", "10.00.18", "--json"}, base...)...)
	if !errors.Is(err, errDenied) || !strings.Contains(out, `"reason":"no_entitlement"`) {
		t.Errorf("check --json: %q, %v; want the denial and errDenied", out, err)
	}
	if out, err := cli(t, append([]string{"signout", "--email", "a@x.example"}, base...)...); err != nil || !strings.Contains(out, "signed out") {
		t.Errorf("signout: %q, %v", out, err)
	}

	// An NDJSON file of 1200 records goes in 3 batches of 500; a second run
	// counts every record as a duplicate.
	dir := t.TempDir()
	began := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	var nd bytes.Buffer
	for i := 0; i < 1200; i++ {
		email := "a@x.example"
		if i%2 == 1 {
			email = "b@x.example"
		}
		line, _ := json.Marshal(map[string]any{"usage_id": fmt.Sprintf("n-%d", i), "email": email, "product": "ms",
			"machine_id": fmt.Sprintf("m%d", i%7), "client_version": "10.00.18", "offline": false,
			"started_at": began.Format(time.RFC3339), "ended_at": began.Add(30 * time.Minute).Format(time.RFC3339)})
		nd.Write(append(line, '\n'))
	}
	ndPath := filepath.Join(dir, "usage.ndjson")
	os.WriteFile(ndPath, nd.Bytes(), 0o600)
	out, err = cli(t, append([]string{"usage", "import", ndPath}, base...)...)
	if err != nil || !strings.Contains(out, "1200 records: 1200 accepted, 0 duplicates") {
		t.Fatalf("usage import: %q, %v", out, err)
	}
	out, err = cli(t, append([]string{"usage", "import", ndPath, "--json"}, base...)...)
	if err != nil || !strings.Contains(out, `"duplicates":1200`) {
		t.Errorf("usage import again: %q, %v", out, err)
	}

	// A CSV file; a bad record fails its batch and names it.
	csvPath := filepath.Join(dir, "usage.csv")
	os.WriteFile(csvPath, []byte("usage_id,email,product,machine_id,client_version,started_at,ended_at,offline\n"+
		"c-1,b@x.example,ms,m9,10.00.18,"+began.Format(time.RFC3339)+","+began.Add(45*time.Minute).Format(time.RFC3339)+",true\n"), 0o600)
	out, err = cli(t, append([]string{"usage", "import", csvPath}, base...)...)
	if err != nil || out != "1 record: 1 accepted, 0 duplicates\n" {
		t.Errorf("usage import csv: %q, %v; want 1 record: 1 accepted, 0 duplicates", out, err)
	}
	out, err = cli(t, append([]string{"usage", "import", csvPath}, base...)...)
	if err != nil || out != "1 record: 0 accepted, 1 duplicate\n" {
		t.Errorf("usage import csv again: %q, %v; want 1 record: 0 accepted, 1 duplicate", out, err)
	}
	badPath := filepath.Join(dir, "bad.ndjson")
	os.WriteFile(badPath, []byte(`{"usage_id":"x","email":"nobody","product":"ms","machine_id":"m","client_version":"1","started_at":"`+
		began.Format(time.RFC3339)+`","ended_at":"`+began.Format(time.RFC3339)+`","offline":false}`+"\n"), 0o600)
	if _, err := cli(t, append([]string{"usage", "import", badPath}, base...)...); err == nil || !strings.Contains(err.Error(), `"index":0`) ||
		!strings.HasPrefix(err.Error(), "record 0 of the file (from 0): ") || !strings.HasSuffix(err.Error(), "; none sent before") {
		t.Errorf("bad usage file: %v, want the bad record named", err)
	}
	// Item 8: an NDJSON line goes to the ledger as written, so a key given
	// twice (here the email) is refused there, not resolved to the last.
	twicePath := filepath.Join(dir, "twice.ndjson")
	os.WriteFile(twicePath, []byte(`{"usage_id":"t-1","email":"a@x.example","email":"b@x.example","product":"ms","machine_id":"m1","client_version":"10.00.18","started_at":"`+
		began.Format(time.RFC3339)+`","ended_at":"`+began.Add(time.Minute).Format(time.RFC3339)+`","offline":false}`+"\n"), 0o600)
	if _, err := cli(t, append([]string{"usage", "import", twicePath}, base...)...); err == nil ||
		!strings.Contains(err.Error(), `"code":"invalid_argument","field":"email"`) {
		t.Errorf("usage file with a key twice: %v, want the record refused naming email", err)
	}

	// The summary splits practitioner (a's) from pooled (b's) use.
	out, err = cli(t, append([]string{"usage", "summary", "--json"}, base...)...)
	if err != nil {
		t.Fatal(err)
	}
	var sum struct {
		Days []struct {
			P map[string]any `json:"practitioner"`
			Q map[string]any `json:"pooled"`
		} `json:"days"`
	}
	if err := json.Unmarshal([]byte(out), &sum); err != nil || len(sum.Days) != 1 {
		t.Fatalf("summary: %q, %v", out, err)
	}
	if sum.Days[0].P["sessions"] != float64(600) || sum.Days[0].Q["sessions"] != float64(601) {
		t.Errorf("summary: practitioner %v, pooled %v; want 600 and 601 sessions", sum.Days[0].P, sum.Days[0].Q)
	}
	out, err = cli(t, append([]string{"usage", "summary"}, base...)...)
	if err != nil || !strings.Contains(out, "ms") {
		t.Errorf("summary table: %q, %v", out, err)
	}
}

// A denied check exits 3 and a granted one 0, with --json too; a
// practitioner whose client is older than 10.00.18 is told so (rule E1).
func TestCheckExitCode(t *testing.T) {
	url, _ := cliServer(t)
	check := func(email, version string, asJSON bool) (int, string) {
		t.Helper()
		args := []string{"check", "--url", url, "--account", "acme", "--email", email, "--product", "ms", "--machine", "m1",
			"--client-version", version}
		if asJSON {
			args = append(args, "--json")
		}
		code, out, stderr := run(args...)
		if stderr != "" {
			t.Errorf("%q: stderr %q, want nothing", args, stderr)
		}
		return code, out
	}
	for _, asJSON := range []bool{false, true} {
		if code, out := check("a@x.example", "10.00.18", asJSON); code != 0 || !strings.Contains(out, "practitioner") {
			t.Errorf("granted check (--json %v): exit %d, %q; want 0", asJSON, code, out)
		}
		if code, out := check("b@x.example", "10.00.18", asJSON); code != 3 || !strings.Contains(out, "no_entitlement") {
			t.Errorf("denied check (--json %v): exit %d, %q; want 3", asJSON, code, out)
		}
	}
	// rule E1: a holds practitioner licence P1 for ms, and nothing else grants ms.
	code, out := check("a@x.example", "10.00.17.99", false)
	if want := "denied: client_too_old_for_practitioner: the user's practitioner licence needs client 10.00.18 or later; " +
		"this client is 10.00.17.99\n"; code != 3 || out != want {
		t.Errorf("practitioner on 10.00.17.99: exit %d, %q; want 3, %q", code, out, want)
	}
	if code, out := check("a@x.example", "10.00.17.99", true); code != 3 || !strings.Contains(out, `"reason":"client_too_old_for_practitioner"`) {
		t.Errorf("practitioner on 10.00.17.99 --json: exit %d, %q", code, out)
	}
	if v, err := commands.ParseVersion("v", minPractitionerVersion); err != nil || v.Compare(commands.MinPractitionerVersion) != 0 {
		t.Errorf("minPractitionerVersion %s is not commands.MinPractitionerVersion", minPractitionerVersion)
	}
}
