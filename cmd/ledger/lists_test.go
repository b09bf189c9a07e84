package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/ledger"
)

// jsonLines decodes one JSON object a line and returns the field key of
// each.
func jsonLines(t *testing.T, out, key string) []string {
	t.Helper()
	var got []string
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %q is not a JSON object: %v", line, err)
		}
		v, _ := m[key].(string)
		got = append(got, v)
	}
	return got
}

// item 10.4: `ledger licenses list` and `ledger users list` follow every
// page; --json prints one item a line, the table is for people; a filter
// the ledger refuses names its parameter.
func TestListCommands(t *testing.T) {
	url, srv := cliServer(t) // acme: a@ (holding P1) and b@
	now := time.Now().UTC()
	for _, c := range []commands.CreateLicense{
		{Account: "acme", ID: "C1", Kind: "commercial", Seats: 3, Products: []string{"ms"}},
		{Account: "acme", ID: "T1", Kind: "trial", Products: []string{"or"}},
	} {
		c.ValidFrom, c.ValidUntil = now.Add(-time.Hour), now.Add(24*time.Hour)
		if _, err := srv.Ledger().CreateLicense(context.Background(), ledger.Meta{}, c); err != nil {
			t.Fatal(err)
		}
	}
	base := []string{"--url", url, "--account", "acme", "--limit", "1"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"licenses", "list", "--json"}, "C1 P1 T1"},
		{[]string{"licenses", "list", "--json", "--kind", "practitioner"}, "P1"},
		{[]string{"licenses", "list", "--json", "--assigned", "false"}, "C1 T1"},
		{[]string{"licenses", "list", "--json", "--product", "ms", "--assigned", "true"}, "P1"},
	} {
		out, err := cli(t, append(tc.args, base...)...)
		if got := jsonLines(t, out, "id"); err != nil || strings.Join(got, " ") != tc.want {
			t.Errorf("%s: %v, %v; want %s", strings.Join(tc.args, " "), got, err, tc.want)
		}
	}
	out, err := cli(t, append([]string{"users", "list", "--json"}, base...)...)
	if got := jsonLines(t, out, "email"); err != nil || strings.Join(got, " ") != "a@x.example b@x.example" {
		t.Errorf("users list --json: %v, %v", got, err)
	}

	out, err = cli(t, append([]string{"licenses", "list"}, base...)...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err != nil || len(lines) != 4 || !strings.HasPrefix(lines[0], "ID") ||
		!strings.Contains(lines[2], "P1") || !strings.Contains(lines[2], "a@x.example") || !strings.Contains(lines[1], "commercial") {
		t.Errorf("licenses list table:\n%s\n%v", out, err)
	}
	out, err = cli(t, append([]string{"users", "list"}, base...)...)
	if lines := strings.Split(strings.TrimSpace(out), "\n"); err != nil || len(lines) != 3 || !strings.Contains(lines[1], "P1") ||
		!strings.Contains(lines[2], "b@x.example") {
		t.Errorf("users list table:\n%s\n%v", out, err)
	}

	var ae *apiError
	if _, err := cli(t, append([]string{"licenses", "list", "--assigned", "maybe"}, base...)...); !errors.As(err, &ae) ||
		ae.Code != commands.CodeInvalidArgument || !strings.Contains(string(ae.Details), "assigned") {
		t.Errorf("--assigned maybe: %v, want invalid_argument naming assigned", err)
	}
	if _, err := cli(t, "licenses", "list", "--url", url); err == nil || !strings.Contains(err.Error(), "--account") {
		t.Errorf("without --account: %v", err)
	}
	var ue *usageError
	if _, err := cli(t, "licenses"); !errors.As(err, &ue) {
		t.Errorf("licenses without a subcommand: %v, want a usage error", err)
	}
	if _, err := cli(t, "users", "show"); !errors.As(err, &ue) {
		t.Errorf("users show: %v, want a usage error", err)
	}
	for _, cmd := range [][]string{{"licenses"}, {"licenses", "list"}, {"users"}, {"users", "list"}} {
		_, help, _ := run(append([]string{"help"}, cmd...)...)
		_, _, dashH := run(append(cmd, "-h")...)
		if help == "" || help != dashH {
			t.Errorf("ledger help %s printed %q; -h printed %q", strings.Join(cmd, " "), help, dashH)
		}
	}
	if err := Run(context.Background(), []string{"licenses", "list", "-h"}, &strings.Builder{}, &strings.Builder{}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("licenses list -h: %v, want flag.ErrHelp", err)
	}
}
