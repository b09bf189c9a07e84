package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/entledger/ledger/auth"
	"github.com/entledger/ledger/events"
)

const subscriberHelp = `Usage:
  ledger subscriber permissions --user U [--account A] --name N [--json]

Prints the NATS permissions of a subscriber (S5), for an existing NATS
server or cluster (--nats-url), where the ledger cannot create NATS users:
configure user U with them. Without --account, the subscriber reads every
account's events. Against the embedded server, create subscribers with
POST /v1/accounts/{account}/subscribers (or POST /v1/subscribers) instead.
`

func runSubscriber(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || isHelp(args[0]) || args[0] != "permissions" {
		fmt.Fprint(stderr, subscriberHelp)
		if len(args) > 0 && isHelp(args[0]) {
			return flag.ErrHelp
		}
		return &usageError{errors.New("subscriber: permissions?")}
	}
	fs := newFlagSet("subscriber permissions", "Print a subscriber's NATS permissions, for a NATS server the ledger does not run.", stderr)
	user := fs.String("user", "", "the subscriber's NATS user name")
	account := fs.String("account", "", "the account whose events it reads (default: every account)")
	name := fs.String("name", "", "its name: its durable consumer is <account>_<name>")
	asJSON := fs.Bool("json", false, "print JSON instead of nats-server configuration")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if *user == "" || !events.SubscriberNamePattern.MatchString(*name) {
		return &usageError{errors.New("subscriber permissions: --user and --name (1 to 32 of a-z, 0-9, '-') are required")}
	}
	if *account != "" && !events.AccountIDPattern.MatchString(*account) {
		return &usageError{fmt.Errorf("subscriber permissions: --account %q is not an account id", *account)}
	}
	p := auth.SubscriberPermissions(*user, *account, *name)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false)
		return enc.Encode(map[string]any{"user": *user, "durable": auth.Durable(*account, *name),
			"inbox_prefix": auth.InboxPrefix(*user), "permissions": p})
	}
	quote := func(ss []string) string {
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false) // NATS subjects hold '>'
		enc.Encode(ss)
		return strings.TrimSpace(b.String())
	}
	fmt.Fprintf(stdout, "# %s reads %s through consumer %s; its connection uses inbox prefix %s\n",
		*user, auth.Subjects(*account), auth.Durable(*account, *name), auth.InboxPrefix(*user))
	fmt.Fprintf(stdout, "{ user: %q, password: \"<choose one>\", permissions: {\n  publish: { allow: %s }\n  subscribe: { allow: %s }\n} }\n",
		*user, quote(p.Publish), quote(p.Subscribe))
	return nil
}
