package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"text/tabwriter"
	"time"

	"github.com/entledger/ledger/ledger"
	"github.com/entledger/ledger/server"
)

const tokenHelp = `Usage:
  ledger token create --name NAME --role ROLE [--account A]   issue a token; it is printed once
  ledger token list                                           every token, revoked ones too (never a secret)
  ledger token revoke ID [--reason TEXT]                      revoke a token at once

Roles: admin (every account), account_admin (one account), auditor (one
account or, without --account, every account; read-only), ingest (one
account: sessions, checks, usage).

They talk to a running ledger (--url, --token). A lost admin token is
recovered with the ledger stopped: ledger token create --role admin --data DIR
`

func runToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || isHelp(args[0]) {
		fmt.Fprint(stderr, tokenHelp)
		if len(args) == 0 {
			return &usageError{errors.New("token: create, list or revoke?")}
		}
		return flag.ErrHelp
	}
	switch args[0] {
	case "create":
		return runTokenCreate(ctx, args[1:], stdout, stderr)
	case "list":
		return runTokenList(ctx, args[1:], stdout, stderr)
	case "revoke":
		return runTokenRevoke(ctx, args[1:], stdout, stderr)
	}
	fmt.Fprint(stderr, tokenHelp)
	return &usageError{fmt.Errorf("token: unknown subcommand %q", args[0])}
}

// tokenAnswer is a token as the API answers it.
type tokenAnswer struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Role      string     `json:"role"`
	Account   *string    `json:"account"`
	CreatedAt time.Time  `json:"created_at"`
	CreatedBy string     `json:"created_by"`
	Revoked   bool       `json:"revoked"`
	RevokedAt *time.Time `json:"revoked_at"`
	Token     *string    `json:"token"`
}

func runTokenCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("token create", "Issue an API token and print it once. With --data and no --url, work on a stopped ledger's data directory.", stderr)
	var cf clientFlags
	cf.register(fs)
	name := fs.String("name", "", "who or what uses the token, e.g. \"billing export\"")
	role := fs.String("role", "", "admin, account_admin, auditor or ingest")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *name == "" {
		*name = *role + " token"
	}
	var tok tokenAnswer
	if flagSet(fs, "data") && !flagSet(fs, "url") {
		t, err := createTokenOffline(ctx, cf.data, *name, *role, cf.account)
		if err != nil {
			return err
		}
		tok = t
	} else {
		body := map[string]string{"name": *name, "role": *role}
		if cf.account != "" {
			body["account"] = cf.account
		}
		raw, err := cf.call(ctx, http.MethodPost, "/v1/tokens", body)
		if err != nil {
			return err
		}
		if cf.json {
			_, err := stdout.Write(raw)
			return err
		}
		if err := json.Unmarshal(raw, &tok); err != nil {
			return err
		}
	}
	if tok.Token == nil {
		return errors.New("token create: the ledger answered no token (an Idempotency-Key replay shows a token once only)")
	}
	fmt.Fprintln(stdout, *tok.Token)
	fmt.Fprintf(stderr, "token %s (%s, %s%s): shown once; keep it secret\n", tok.ID, tok.Name, tok.Role, scopeText(tok.Account))
	return nil
}

// createTokenOffline opens a stopped ledger's data directory (its lock
// refuses a running one), issues the token on its stream and closes it.
func createTokenOffline(ctx context.Context, dir, name, role, account string) (tokenAnswer, error) {
	srv, err := server.Start(ctx, server.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", NoBootstrap: true, NoReminders: true,
		Logger: quietLogger()})
	if err != nil {
		return tokenAnswer{}, err
	}
	defer closeServer(srv)
	t, err := srv.Ledger().CreateToken(ctx, ledger.Meta{Actor: "ledger token create --data"}, name, role, account)
	if err != nil {
		return tokenAnswer{}, err
	}
	return tokenAnswer{ID: t.State.ID, Name: t.State.Name, Role: t.State.Role, Token: &t.Token}, nil
}

func runTokenList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("token list", "List every API token, revoked ones too; never a secret.", stderr)
	var cf clientFlags
	cf.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	raw, err := cf.call(ctx, http.MethodGet, "/v1/tokens", nil)
	if err != nil {
		return err
	}
	if cf.json {
		_, err := stdout.Write(raw)
		return err
	}
	var list struct {
		Items []tokenAnswer `json:"items"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tROLE\tACCOUNT\tCREATED\tREVOKED")
	for _, t := range list.Items {
		account, revoked := "(every)", ""
		if t.Account != nil {
			account = *t.Account
		}
		if t.RevokedAt != nil {
			revoked = t.RevokedAt.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Role, account, t.CreatedAt.Format(time.RFC3339), revoked)
	}
	return tw.Flush()
}

func runTokenRevoke(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("token revoke", "Revoke an API token: it can no longer act, on every ledger process.", stderr)
	var cf clientFlags
	cf.register(fs)
	reason := fs.String("reason", "", "why, for the auditors")
	if len(args) == 0 || isHelp(args[0]) {
		fs.Usage()
		return &usageError{errors.New("token revoke: a token id is required")}
	}
	id := args[0]
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	raw, err := cf.call(ctx, http.MethodDelete, "/v1/tokens/"+id, map[string]string{"reason": *reason})
	if err != nil {
		return err
	}
	if cf.json {
		_, err := stdout.Write(raw)
		return err
	}
	var t tokenAnswer
	if err := json.Unmarshal(raw, &t); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "token %s (%s) revoked at %s\n", t.ID, t.Name, t.RevokedAt.Format(time.RFC3339))
	return nil
}

func scopeText(account *string) string {
	if account == nil {
		return ", every account"
	}
	return ", account " + *account
}

// flagSet reports whether the command line (or the environment) set name.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
