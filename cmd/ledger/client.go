package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/server"
)

// The client subcommands talk to a running ledger over its HTTP API, for
// administrators and scripts: people get readable lines, scripts --json.

// clientFlags are the flags every client subcommand takes.
type clientFlags struct {
	url     string
	account string
	json    bool
	token   string
	data    string
}

func (c *clientFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.url, "url", "http://127.0.0.1:8080", "the ledger's HTTP address")
	fs.StringVar(&c.account, "account", "", "the account id")
	fs.BoolVar(&c.json, "json", false, "print the ledger's JSON answer, for scripts")
	fs.StringVar(&c.token, "token", "", "the API token (default: $LEDGER_TOKEN, else the admin token in --data)")
	fs.StringVar(&c.data, "data", "./data", "the data directory of a ledger running beside the CLI, whose admin.token it falls back to")
}

// bearer is the token the client sends: --token (or LEDGER_TOKEN), or the
// admin token the ledger wrote into its data directory (when the CLI runs
// beside it). It is never printed.
func (c *clientFlags) bearer() (string, error) {
	if c.token != "" {
		return c.token, nil
	}
	raw, err := os.ReadFile(server.AdminTokenFile(c.data))
	if err != nil {
		return "", fmt.Errorf("no API token: pass --token or set LEDGER_TOKEN (or run beside the ledger, whose %s the CLI reads)",
			server.AdminTokenFile(c.data))
	}
	return strings.TrimSpace(string(raw)), nil
}

// request builds a request to the ledger with the client's token.
func (c *clientFlags) request(ctx context.Context, method, path string, body io.Reader) (*http.Request, error) {
	token, err := c.bearer()
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.url, "/")+path, body)
	if err != nil {
		return nil, fmt.Errorf("--url: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// apiError is an error answer of the API.
type apiError struct {
	Status  int
	Code    string          `json:"code"`
	Message string          `json:"message"`
	Details json.RawMessage `json:"details"`
}

func (e *apiError) Error() string {
	s := fmt.Sprintf("%s: %s", e.Code, e.Message)
	if len(e.Details) > 0 && string(e.Details) != "null" {
		s += " " + string(e.Details)
	}
	return s
}

// call sends one request and returns the answer's body; an error answer is
// an *apiError.
func (c *clientFlags) call(ctx context.Context, method, path string, body any, headers ...string) ([]byte, error) {
	if c.account == "" && strings.HasPrefix(path, "/v1/accounts/") {
		return nil, badUsage("--account: an account id is required")
	}
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := c.request(ctx, method, path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("ledger at %s: %w", c.url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		return nil, answerError(resp.StatusCode, raw)
	}
	return raw, nil
}

// answerError is the error of an answer with a status of 300 or more: the
// API's error, or the raw answer when it is not one.
func answerError(status int, raw []byte) error {
	var e struct {
		Error apiError `json:"error"`
	}
	if json.Unmarshal(raw, &e) != nil || e.Error.Code == "" {
		return fmt.Errorf("ledger answered %d: %s", status, bytes.TrimSpace(raw))
	}
	e.Error.Status = status
	return &e.Error
}

func (c *clientFlags) accountPath(rest string) string { return "/v1/accounts/" + c.account + rest }

func runSignIn(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("signin", "Sign a user in on a machine (D1-D4).", stderr)
	var cf clientFlags
	cf.register(fs)
	email := fs.String("email", "", "the user's email")
	machine := fs.String("machine", "", "the machine id")
	version := fs.String("client-version", "", "the client version, e.g. 10.00.18.25")
	if err := parse(fs, args); err != nil {
		return err
	}
	raw, err := cf.call(ctx, http.MethodPost, cf.accountPath("/sessions"), map[string]string{
		"email": *email, "machine_id": *machine, "client_version": *version,
		"client_time": time.Now().UTC().Format(time.RFC3339Nano)})
	if err != nil {
		return err
	}
	if cf.json {
		_, err := stdout.Write(raw)
		return err
	}
	var s struct {
		Email     string `json:"email"`
		MachineID string `json:"machine_id"`
		ExpiresAt string `json:"expires_at"`
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s signed in on %s until %s\n", s.Email, s.MachineID, s.ExpiresAt)
	return nil
}

func runSignOut(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("signout", "Sign a user out (D3).", stderr)
	var cf clientFlags
	cf.register(fs)
	email := fs.String("email", "", "the user's email")
	if err := parse(fs, args); err != nil {
		return err
	}
	if _, err := cf.call(ctx, http.MethodDelete, cf.accountPath("/sessions/"+*email), nil); err != nil {
		return err
	}
	if !cf.json {
		fmt.Fprintf(stdout, "%s signed out\n", *email)
	}
	return nil
}

func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("check", "Check whether a user may use a product now (E1-E3). Exit code 0 when granted,\n"+
		"3 when denied (the answer is printed, with --json too), 1 on an error.", stderr)
	var cf clientFlags
	cf.register(fs)
	email := fs.String("email", "", "the user's email")
	product := fs.String("product", "", "the product id")
	machine := fs.String("machine", "", "the machine id")
	version := fs.String("client-version", "", "the client version")
	if err := parse(fs, args); err != nil {
		return err
	}
	raw, err := cf.call(ctx, http.MethodPost, cf.accountPath("/checks"), map[string]string{
		"email": *email, "product": *product, "machine_id": *machine, "client_version": *version})
	if err != nil {
		return err
	}
	var ans struct {
		Granted     bool    `json:"granted"`
		LicenseType *string `json:"license_type"`
		LicenseID   *string `json:"license_id"`
		Reason      string  `json:"reason"`
	}
	if err := json.Unmarshal(raw, &ans); err != nil {
		return err
	}
	if cf.json {
		if _, err := stdout.Write(raw); err != nil || ans.Granted {
			return err
		}
		return errDenied
	}
	if ans.Granted {
		fmt.Fprintf(stdout, "granted: %s use of %s (licence %s)\n", *ans.LicenseType, *product, *ans.LicenseID)
		return nil
	}
	if ans.Reason == events.ReasonClientTooOld {
		fmt.Fprintf(stdout, "denied: %s: the user's practitioner licence needs client %s or later; this client is %s\n",
			ans.Reason, minPractitionerVersion, *version)
		return errDenied
	}
	fmt.Fprintf(stdout, "denied: %s\n", ans.Reason)
	return errDenied
}

// minPractitionerVersion is commands.MinPractitionerVersion as people write it.
const minPractitionerVersion = "10.00.18"

const usageHelp = `Usage: ledger usage import FILE [flags] | ledger usage summary [flags] | ledger usage export [flags]

  import   send a usage file (NDJSON or CSV) in batches (F1-F5)
  summary  print usage per product and UTC day (F)
  export   print the account's usage events in stream order, one {seq, event} per line

Run 'ledger usage import -h', 'ledger usage summary -h' or 'ledger usage export -h' for their flags.
`

// runUsage handles `ledger usage import FILE` and `ledger usage summary`.
func runUsage(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && isHelp(args[0]) {
		fmt.Fprint(stderr, usageHelp)
		return flag.ErrHelp
	}
	if len(args) == 0 || (args[0] != "import" && args[0] != "summary" && args[0] != "export") {
		fmt.Fprint(stderr, usageHelp)
		if len(args) == 0 {
			return &usageError{errors.New("usage: want import, summary or export")}
		}
		return &usageError{fmt.Errorf("usage: unknown subcommand %q; want import, summary or export", args[0])}
	}
	switch args[0] {
	case "summary":
		return runUsageSummary(ctx, args[1:], stdout, stderr)
	case "export":
		return runUsageExport(ctx, args[1:], stdout, stderr)
	}
	return runUsageImport(ctx, args[1:], stdout, stderr)
}

// usageLine is one record of an import file, NDJSON or CSV, named as in the
// API, as JSON. An NDJSON line is sent as written, so that the ledger judges
// it (a repeated key or a null is an error there, not quietly dropped here).
type usageLine = json.RawMessage

func runUsageImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("usage import", "Send a usage file (NDJSON, or CSV with a header row of the API's field names) in batches (F1-F5).", stderr)
	var cf clientFlags
	cf.register(fs)
	batch := fs.Int("batch", 500, "records per request (1 to 1000)")
	format := fs.String("format", "", "ndjson or csv (default: by the file's extension)")
	file, err := parseWithArg(fs, args)
	if err != nil {
		return err
	}
	if file == "" {
		return badUsage("usage import: a FILE is required")
	}
	if *batch < 1 || *batch > 1000 {
		return badUsage("--batch: %d; want 1 to 1000", *batch)
	}
	if *format == "" {
		*format = "ndjson"
		if strings.HasSuffix(strings.ToLower(file), ".csv") {
			*format = "csv"
		}
	}
	total, err := countRecords(file, *format)
	if err != nil {
		return err
	}
	progress := isTerminal(stderr)
	var sent, accepted, duplicates int
	err = eachUsageBatch(file, *format, *batch, func(records []usageLine) error {
		// No Idempotency-Key: usage ids make a re-run idempotent record by
		// record (F2), and its answer then says which records were duplicates.
		raw, err := cf.call(ctx, http.MethodPost, cf.accountPath("/usage"), map[string]any{"records": records})
		if err != nil {
			if progress {
				fmt.Fprintln(stderr)
			}
			which := fmt.Sprintf("records %d to %d", sent, sent+len(records)-1)
			if len(records) == 1 {
				which = fmt.Sprintf("record %d", sent)
			}
			before := "none sent before"
			if sent > 0 {
				before = plural(sent, "record") + " sent before"
			}
			return fmt.Errorf("%s of the file (from 0): %w; %s", which, err, before)
		}
		var ans struct {
			Accepted   int `json:"accepted"`
			Duplicates int `json:"duplicates"`
		}
		if err := json.Unmarshal(raw, &ans); err != nil {
			return err
		}
		sent += len(records)
		accepted += ans.Accepted
		duplicates += ans.Duplicates
		if progress && total > 0 {
			fmt.Fprintf(stderr, "\r%d/%s sent (%d%%)", sent, plural(total, "record"), sent*100/total)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if progress {
		fmt.Fprintln(stderr)
	}
	if cf.json {
		return json.NewEncoder(stdout).Encode(map[string]int{"records": sent, "accepted": accepted, "duplicates": duplicates})
	}
	fmt.Fprintf(stdout, "%s: %d accepted, %s\n", plural(sent, "record"), accepted, plural(duplicates, "duplicate"))
	return nil
}

// eachUsageBatch reads an NDJSON or CSV usage file and calls fn with each
// run of up to n records, reading no more of the file than one batch ahead.
func eachUsageBatch(path, format string, n int, fn func([]usageLine) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	batch := make([]usageLine, 0, n)
	emit := func(rec usageLine) error {
		batch = append(batch, rec)
		if len(batch) < n {
			return nil
		}
		err := fn(batch)
		batch = batch[:0]
		return err
	}
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		return fn(batch)
	}
	switch format {
	case "ndjson":
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for line := 1; sc.Scan(); line++ {
			text := bytes.TrimSpace(sc.Bytes())
			if len(text) == 0 {
				continue
			}
			var object map[string]json.RawMessage
			if err := json.Unmarshal(text, &object); err != nil {
				return fmt.Errorf("%s line %d: %w", path, line, err)
			}
			if err := emit(bytes.Clone(text)); err != nil {
				return err
			}
		}
		if err := sc.Err(); err != nil {
			return err
		}
		return flush()
	case "csv":
		r := csv.NewReader(f)
		header, err := r.Read()
		if err != nil {
			return fmt.Errorf("%s: header row: %w", path, err)
		}
		for line := 2; ; line++ {
			row, err := r.Read()
			if errors.Is(err, io.EOF) {
				return flush()
			}
			if err != nil {
				return fmt.Errorf("%s line %d: %w", path, line, err)
			}
			rec := map[string]any{}
			for i, h := range header {
				if h == "offline" {
					b, err := strconv.ParseBool(row[i])
					if err != nil {
						return fmt.Errorf("%s line %d: offline %q is not true or false", path, line, row[i])
					}
					rec[h] = b
					continue
				}
				rec[h] = row[i]
			}
			raw, err := json.Marshal(rec)
			if err != nil {
				return err
			}
			if err := emit(raw); err != nil {
				return err
			}
		}
	}
	return badUsage("--format: %q; want ndjson or csv", format)
}

// countRecords counts a usage file's records, for the progress line.
func countRecords(path, format string) (int, error) {
	n := 0
	err := eachUsageBatch(path, format, 1000, func(b []usageLine) error { n += len(b); return nil })
	return n, err
}

// isTerminal reports whether w is a terminal, where progress is shown.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func runUsageSummary(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("usage summary", "Print usage per product and UTC day, pooled beside practitioner and trial (F).", stderr)
	var cf clientFlags
	cf.register(fs)
	from := fs.String("from", "", "first UTC day, YYYY-MM-DD (default: 30 days ago)")
	to := fs.String("to", "", "last UTC day, YYYY-MM-DD (default: today)")
	if err := parse(fs, args); err != nil {
		return err
	}
	q := "?from=" + *from + "&to=" + *to
	raw, err := cf.call(ctx, http.MethodGet, cf.accountPath("/usage/summary"+q), nil)
	if err != nil {
		return err
	}
	if cf.json {
		_, err := stdout.Write(raw)
		return err
	}
	type totals struct {
		Sessions int     `json:"sessions"`
		Hours    float64 `json:"hours"`
		Users    int     `json:"users"`
		Machines int     `json:"machines"`
	}
	var ans struct {
		Days []struct {
			Product      string `json:"product"`
			Day          string `json:"day"`
			Pooled       totals `json:"pooled"`
			Practitioner totals `json:"practitioner"`
			Trial        totals `json:"trial"`
		} `json:"days"`
	}
	if err := json.Unmarshal(raw, &ans); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%-20s %-10s  %-28s  %-28s  %s\n", "PRODUCT", "DAY", "POOLED sess/hours/users/mach",
		"PRACTITIONER sess/hours/users", "TRIAL sess/hours")
	for _, d := range ans.Days {
		fmt.Fprintf(stdout, "%-20s %-10s  %5d %8.1f %5d %5d    %5d %8.1f %5d          %5d %8.1f\n", d.Product, d.Day,
			d.Pooled.Sessions, d.Pooled.Hours, d.Pooled.Users, d.Pooled.Machines,
			d.Practitioner.Sessions, d.Practitioner.Hours, d.Practitioner.Users,
			d.Trial.Sessions, d.Trial.Hours)
	}
	return nil
}
