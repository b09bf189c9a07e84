package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

const licensesHelp = `Usage:
  ledger licenses list --account A [--kind K] [--assigned true|false] [--product P] [--limit N] [--json]

  list   every licence of the account, in id order, following all pages;
         --json prints one licence per line, as the API shows it

Run 'ledger licenses list -h' for its flags.
`

const usersHelp = `Usage:
  ledger users list --account A [--limit N] [--json]

  list   every registered user of the account, in email order, following all pages;
         --json prints one user per line, as the API shows it

Run 'ledger users list -h' for its flags.
`

// runLicenses handles `ledger licenses list`.
func runLicenses(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runListCommand(ctx, "licenses", licensesHelp, runLicensesList, args, stdout, stderr)
}

// runUsers handles `ledger users list`.
func runUsers(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runListCommand(ctx, "users", usersHelp, runUsersList, args, stdout, stderr)
}

// runListCommand runs the list subcommand of name, the only one it has.
func runListCommand(ctx context.Context, name, help string, list func(context.Context, []string, io.Writer, io.Writer) error,
	args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || isHelp(args[0]) {
		fmt.Fprint(stderr, help)
		if len(args) == 0 {
			return &usageError{fmt.Errorf("%s: list?", name)}
		}
		return flag.ErrHelp
	}
	if args[0] != "list" {
		fmt.Fprint(stderr, help)
		return &usageError{fmt.Errorf("%s: unknown subcommand %q; want list", name, args[0])}
	}
	return list(ctx, args[1:], stdout, stderr)
}

// licenceLine is what the licence table shows of a licence.
type licenceLine struct {
	ID         string    `json:"id"`
	Kind       string    `json:"kind"`
	Products   []string  `json:"products"`
	Seats      int       `json:"seats"`
	ValidUntil time.Time `json:"valid_until"`
	Assignee   *string   `json:"assignee"`
	LockState  string    `json:"lock_state"`
}

func runLicensesList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("licenses list", "List the account's licences, in id order, following every page.", stderr)
	var cf clientFlags
	cf.register(fs)
	kind := fs.String("kind", "", "only practitioner, commercial or trial licences")
	assigned := fs.String("assigned", "", "true: only licences with an assignee; false: only those without")
	product := fs.String("product", "", "only licences covering this product")
	limit := fs.Int("limit", 1000, "licences per request (1 to 1000)")
	if err := parse(fs, args); err != nil {
		return err
	}
	q := url.Values{}
	for k, v := range map[string]string{"kind": *kind, "assigned": *assigned, "product": *product} {
		if v != "" {
			q.Set(k, v)
		}
	}
	out := newListOutput(stdout, cf.json, "ID\tKIND\tPRODUCTS\tSEATS\tVALID UNTIL\tASSIGNEE\tLOCK")
	err := eachListItem(ctx, &cf, cf.accountPath("/licenses"), q, *limit, func(raw json.RawMessage) error {
		return out.item(raw, func() (string, error) {
			var l licenceLine
			if err := json.Unmarshal(raw, &l); err != nil {
				return "", err
			}
			return strings.Join([]string{l.ID, l.Kind, strings.Join(l.Products, ","), strconv.Itoa(l.Seats),
				l.ValidUntil.Format(time.RFC3339), orDash(l.Assignee), l.LockState}, "\t"), nil
		})
	})
	if err != nil {
		return err
	}
	return out.flush()
}

// userLine is what the user table shows of a user.
type userLine struct {
	Email     string  `json:"email"`
	Country   *string `json:"entitlement_country"`
	LicenseID *string `json:"license_id"`
	Session   *struct {
		MachineID string `json:"machine_id"`
	} `json:"session"`
}

func runUsersList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("users list", "List the account's registered users, in email order, following every page.", stderr)
	var cf clientFlags
	cf.register(fs)
	limit := fs.Int("limit", 1000, "users per request (1 to 1000)")
	if err := parse(fs, args); err != nil {
		return err
	}
	out := newListOutput(stdout, cf.json, "EMAIL\tCOUNTRY\tLICENCE\tSIGNED IN ON")
	err := eachListItem(ctx, &cf, cf.accountPath("/users"), url.Values{}, *limit, func(raw json.RawMessage) error {
		return out.item(raw, func() (string, error) {
			var u userLine
			if err := json.Unmarshal(raw, &u); err != nil {
				return "", err
			}
			var machine *string
			if u.Session != nil {
				machine = &u.Session.MachineID
			}
			return strings.Join([]string{u.Email, orDash(u.Country), orDash(u.LicenseID), orDash(machine)}, "\t"), nil
		})
	})
	if err != nil {
		return err
	}
	return out.flush()
}

// eachListItem calls fn with every item of the list at path with query q,
// following next_cursor from page to page, limit items a request.
func eachListItem(ctx context.Context, cf *clientFlags, path string, q url.Values, limit int, fn func(json.RawMessage) error) error {
	q.Set("limit", strconv.Itoa(limit))
	for {
		raw, err := cf.call(ctx, http.MethodGet, path+"?"+q.Encode(), nil)
		if err != nil {
			return err
		}
		var page struct {
			Items      []json.RawMessage `json:"items"`
			NextCursor *string           `json:"next_cursor"`
		}
		if err := json.Unmarshal(raw, &page); err != nil {
			return fmt.Errorf("ledger answered a list that does not decode: %w", err)
		}
		for _, it := range page.Items {
			if err := fn(it); err != nil {
				return err
			}
		}
		if page.NextCursor == nil {
			return nil
		}
		if *page.NextCursor == "" {
			return errors.New("ledger answered an empty next_cursor")
		}
		q.Set("cursor", *page.NextCursor)
	}
}

// listOutput prints a list's items: a table for people, or one JSON
// document a line for scripts.
type listOutput struct {
	w    io.Writer
	json bool
	tw   *tabwriter.Writer
}

func newListOutput(w io.Writer, asJSON bool, header string) *listOutput {
	o := &listOutput{w: w, json: asJSON}
	if !asJSON {
		o.tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(o.tw, header)
	}
	return o
}

// item prints one item: its JSON, or the table row row makes of it.
func (o *listOutput) item(raw json.RawMessage, row func() (string, error)) error {
	if o.json {
		var b bytes.Buffer
		if err := json.Compact(&b, raw); err != nil {
			return err
		}
		b.WriteByte('\n')
		_, err := o.w.Write(b.Bytes())
		return err
	}
	line, err := row()
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(o.tw, line)
	return err
}

// flush writes out the table.
func (o *listOutput) flush() error {
	if o.tw == nil {
		return nil
	}
	return o.tw.Flush()
}

// orDash is *s, or "-" for null.
func orDash(s *string) string {
	if s == nil {
		return "-"
	}
	return *s
}
