// Command billing-replay is what an outside billing team writes to compute
// the term licence (QTL) report of an account, for a quarter or a month,
// from the ledger's events alone: it reads stream LEDGER with a plain NATS client, decodes the
// CloudEvents with encoding/json, and prints the report in the shape of
// GET /v1/accounts/{account}/qtl. It uses no package of the ledger, on
// purpose: if the report cannot be computed from the stream, the events are
// missing something. docs/billing.md explains every step.
//
//	billing-replay --nats-url nats://127.0.0.1:4222 --account acme --quarter 2026-Q4 [--as-of-seq N] \
//	  --nats-user U --nats-password P --inbox-prefix I --durable D
//	billing-replay --nats-url nats://127.0.0.1:4222 --account acme --month 2026-11 [--as-of-seq N] \
//	  --nats-user U --nats-password P --inbox-prefix I --durable D
//
// with read-all subscriber credentials (POST /v1/subscribers: nats_user,
// nats_password, inbox_prefix, durable).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "billing-replay:", err)
		os.Exit(1)
	}
}

// interval is the length of the intervals peaks are counted in (rule G1).
const interval = 10 * time.Minute

// cloudEvent is the part of the CloudEvents envelope billing reads.
type cloudEvent struct {
	Type          string          `json:"type"`
	SchemaVersion int             `json:"schemaversion"`
	Data          json.RawMessage `json:"data"`
}

// usageRecorded is the data of a usage.recorded event. Version 2 added
// country, the user's entitlement country when the record was recorded
// (null: none); a version 1 event has none.
type usageRecorded struct {
	UsageID        string    `json:"usage_id"`
	Product        string    `json:"product"`
	MachineID      string    `json:"machine_id"`
	StartedAt      time.Time `json:"started_at"`
	EndedAt        time.Time `json:"ended_at"`
	Classification string    `json:"classification"`
	Country        *string   `json:"country"`
}

// licenseEvent is the data of license.created and license.renewed; a
// renewal carries only id, valid_until and previous_valid_until, so the
// rest is remembered from the creation. license.created version 2 added
// country: the pool a commercial licence's seats serve (null, and in
// version 1: every country).
type licenseEvent struct {
	ID         string    `json:"id"`
	Kind       string    `json:"kind"`
	Products   []string  `json:"products"`
	Seats      int       `json:"seats"`
	ValidFrom  time.Time `json:"valid_from"`
	ValidUntil time.Time `json:"valid_until"`
	Country    *string   `json:"country"`
	// EffectiveAt is set by license.cancelled: the term ends there.
	EffectiveAt time.Time `json:"effective_at"`
}

// versions are the schema versions this program reads, by event type.
var versions = map[string][]int{
	"usage.recorded": {1, 2}, "usage.voided": {1}, "license.created": {1, 2}, "license.renewed": {1}, "license.cancelled": {1},
}

// record is one pooled usage record and the stream sequence of its event.
type record struct {
	usageRecorded
	seq uint64
}

// licence is a commercial licence as its events up to now made it.
type licence struct {
	products    []string
	seats       int
	country     string // "": global seats, serving every country
	from, until time.Time
	seq         uint64 // of its newest event
}

func (l *licence) activeAt(t time.Time) bool { return !t.Before(l.from) && t.Before(l.until) }

// The report, field for field in the order GET .../qtl writes it.
type report struct {
	Account  string          `json:"account"`
	Quarter  string          `json:"quarter,omitempty"`
	Month    string          `json:"month,omitempty"`
	AsOfSeq  uint64          `json:"as_of_seq"`
	Products []productReport `json:"products"`
}

type productReport struct {
	Product      string        `json:"product"`
	PeakInterval *string       `json:"peak_interval"`
	PeakCount    int           `json:"peak_count"`
	Seats        int           `json:"seats"`
	Units        int           `json:"units"`
	Machines     []string      `json:"machines"`
	Countries    []countryPool `json:"countries,omitempty"`
}

// countryPool is one country's pool at the peak (rule G9).
type countryPool struct {
	Country *string `json:"country"`
	Count   int     `json:"count"`
	Seats   int     `json:"seats"`
	Over    int     `json:"over"`
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("billing-replay", flag.ContinueOnError)
	natsURL := fs.String("nats-url", "", "NATS server holding stream LEDGER (required)")
	account := fs.String("account", "", "account id (required)")
	quarterFlag := fs.String("quarter", "", "calendar quarter, YYYY-Qn (this or --month)")
	monthFlag := fs.String("month", "", "calendar month, YYYY-MM, for monthly terms (this or --quarter)")
	asOfSeq := fs.Uint64("as-of-seq", 0, "use only the events at or below this stream sequence (default: the stream's last)")
	user := fs.String("nats-user", "", "NATS user of read-all subscriber credentials (POST /v1/subscribers: nats_user)")
	password := fs.String("nats-password", "", "their password (nats_password)")
	inbox := fs.String("inbox-prefix", "", "their reply prefix (inbox_prefix)")
	durable := fs.String("durable", "", "the consumer name they may use (durable)")
	apiPrefix := fs.String("js-api-prefix", "$LEDGER.API", "their JetStream API prefix (js_api_prefix)")
	service := fs.String("consumer-service", "", "the ledger's service that starts their consumer over (consumer_service; default ledger.consumers.DURABLE)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *natsURL == "" || *account == "" || *durable == "" || (*quarterFlag == "") == (*monthFlag == "") {
		return errors.New("--nats-url, --account, --durable and one of --quarter and --month are required")
	}
	var qStart, qEnd time.Time
	var err error
	if *quarterFlag != "" {
		qStart, err = parseQuarter(*quarterFlag)
		qEnd = qStart.AddDate(0, 3, 0)
	} else {
		qStart, err = time.Parse("2006-01", *monthFlag)
		if err != nil || *monthFlag != qStart.Format("2006-01") || qStart.Year() < 1970 {
			err = fmt.Errorf("--month %q: want YYYY-MM, e.g. 2026-11", *monthFlag)
		}
		qEnd = qStart.AddDate(0, 1, 0)
	}
	if err != nil {
		return err
	}

	opts := []nats.Option{nats.Name("billing-replay")}
	if *user != "" {
		opts = append(opts, nats.UserInfo(*user, *password))
	}
	if *inbox != "" {
		opts = append(opts, nats.CustomInboxPrefix(*inbox))
	}
	nc, err := nats.Connect(*natsURL, opts...)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.NewWithAPIPrefix(nc, *apiPrefix)
	if err != nil {
		return err
	}
	if *service == "" {
		*service = "ledger.consumers." + *durable
	}
	stream, err := js.Stream(ctx, "LEDGER")
	if err != nil {
		return err
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return err
	}
	last := info.State.LastSeq
	if *asOfSeq > last {
		return fmt.Errorf("--as-of-seq %d is beyond the stream, whose last sequence is %d", *asOfSeq, last)
	}
	if *asOfSeq > 0 {
		last = *asOfSeq
	}

	records, licences, err := readEvents(ctx, nc, js, *service, *durable, *account, last)
	if err != nil {
		return err
	}
	rep := qtl(records, licences, qStart, qEnd)
	rep.Account, rep.Quarter, rep.Month = *account, *quarterFlag, *monthFlag
	if *asOfSeq > 0 {
		rep.AsOfSeq = *asOfSeq
	}
	out, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	_, err = stdout.Write(append(out, '\n'))
	return err
}

// readEvents reads the account's events up to stream sequence last and
// keeps what billing needs: the pooled usage records, each usage_id once
// (the first one wins), and the commercial licences. It reads through the
// one consumer its credentials may use, which the ledger makes afresh from
// the stream's start, filtered to the account, when asked on its consumer
// service (a subscriber never configures a consumer itself).
func readEvents(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, service, durable, account string, last uint64) ([]record, map[string]*licence, error) {
	req, _ := json.Marshal(map[string]string{"deliver": "all", "filter": "ledger.events." + account + ".>"})
	answer, err := nc.RequestWithContext(ctx, service, req)
	if err != nil {
		return nil, nil, fmt.Errorf("the ledger's consumer service %s: %w", service, err)
	}
	var opened struct {
		Error *struct{ Code, Message string } `json:"error"`
	}
	if err := json.Unmarshal(answer.Data, &opened); err != nil || opened.Error != nil {
		return nil, nil, fmt.Errorf("the ledger's consumer service %s answered %s", service, answer.Data)
	}
	cons, err := js.Consumer(ctx, "LEDGER", durable)
	if err != nil {
		return nil, nil, err
	}
	msgs, err := cons.Messages()
	if err != nil {
		return nil, nil, err
	}
	defer msgs.Stop()
	ci, err := cons.Info(ctx)
	if err != nil {
		return nil, nil, err
	}
	if ci.NumPending == 0 && ci.Delivered.Consumer == 0 {
		return nil, nil, fmt.Errorf("account %q has no events on stream LEDGER", account)
	}

	var records []record
	seen := map[string]bool{}
	voided := map[string]bool{} // usage.voided at or before the last sequence read (H1)
	licences := map[string]*licence{}
	for {
		msg, err := msgs.Next(jetstream.NextContext(ctx))
		if err != nil {
			return nil, nil, err
		}
		meta, err := msg.Metadata()
		if err != nil {
			return nil, nil, err
		}
		seq := meta.Sequence.Stream
		if seq > last {
			break
		}
		if meta.NumPending == 0 || meta.Sequence.Consumer%1000 == 0 {
			msg.Ack() // the consumer acknowledges all before it: it keeps delivering
		}
		var ev cloudEvent
		if err := json.Unmarshal(msg.Data(), &ev); err != nil {
			return nil, nil, fmt.Errorf("event at sequence %d: %w", seq, err)
		}
		if known, ok := versions[ev.Type]; ok && !slices.Contains(known, ev.SchemaVersion) {
			return nil, nil, fmt.Errorf("event at sequence %d: %s version %d is unknown to this program", seq, ev.Type, ev.SchemaVersion)
		}
		switch ev.Type {
		case "usage.recorded":
			var u usageRecorded
			if err := json.Unmarshal(ev.Data, &u); err != nil {
				return nil, nil, fmt.Errorf("usage.recorded at sequence %d: %w", seq, err)
			}
			if seen[u.UsageID] {
				break // a resent record counts once (F2)
			}
			seen[u.UsageID] = true
			if u.Classification == "pooled" { // practitioner and trial use is never billed (F5)
				records = append(records, record{u, seq})
			}
		case "usage.voided": // a mis-recorded record: it no longer counts
			var v struct {
				UsageID string `json:"usage_id"`
			}
			if err := json.Unmarshal(ev.Data, &v); err != nil {
				return nil, nil, fmt.Errorf("usage.voided at sequence %d: %w", seq, err)
			}
			voided[v.UsageID] = true
		case "license.created":
			var l licenseEvent
			if err := json.Unmarshal(ev.Data, &l); err != nil {
				return nil, nil, fmt.Errorf("license.created at sequence %d: %w", seq, err)
			}
			if l.Kind == "commercial" {
				licences[l.ID] = &licence{products: l.Products, seats: l.Seats, country: deref(l.Country),
					from: l.ValidFrom, until: l.ValidUntil, seq: seq}
			}
		case "license.renewed":
			var l licenseEvent
			if err := json.Unmarshal(ev.Data, &l); err != nil {
				return nil, nil, fmt.Errorf("license.renewed at sequence %d: %w", seq, err)
			}
			if lic := licences[l.ID]; lic != nil {
				lic.until, lic.seq = l.ValidUntil, seq
			}
		case "license.cancelled": // a licence sold by mistake: its term ends at effective_at
			var l licenseEvent
			if err := json.Unmarshal(ev.Data, &l); err != nil {
				return nil, nil, fmt.Errorf("license.cancelled at sequence %d: %w", seq, err)
			}
			if lic := licences[l.ID]; lic != nil {
				lic.until, lic.seq = l.EffectiveAt, seq
			}
		}
		if seq == last || meta.NumPending == 0 {
			break // nothing more of this account at or below last
		}
	}
	kept := records[:0]
	for _, r := range records {
		if !voided[r.UsageID] {
			kept = append(kept, r)
		}
	}
	return kept, licences, nil
}

// qtl computes the report of the period [qStart, qEnd), a quarter or a
// month (rules G1, G2, G9, G10).
// Its as_of_seq is the newest event the report depends on.
func qtl(records []record, licences map[string]*licence, qStart, qEnd time.Time) report {
	rep := report{Products: []productReport{}}

	// machines[product][interval start, in Unix seconds][country] holds the
	// distinct machines of the country counted in the interval ("": users
	// without a country). A record [s, e) counts in each interval starting
	// at t with s <= t < e: in the interval it starts in only if it starts
	// on its boundary (the first partial interval is not counted), and a
	// zero-length record counts nowhere.
	machines := map[string]map[int64]map[string]map[string]bool{}
	for _, r := range records {
		t := r.StartedAt.Truncate(interval)
		if t.Before(r.StartedAt) {
			t = t.Add(interval)
		}
		country := deref(r.Country)
		for ; t.Before(r.EndedAt) && t.Before(qEnd); t = t.Add(interval) {
			if t.Before(qStart) {
				continue
			}
			if machines[r.Product] == nil {
				machines[r.Product] = map[int64]map[string]map[string]bool{}
			}
			if machines[r.Product][t.Unix()] == nil {
				machines[r.Product][t.Unix()] = map[string]map[string]bool{}
			}
			if machines[r.Product][t.Unix()][country] == nil {
				machines[r.Product][t.Unix()][country] = map[string]bool{}
			}
			machines[r.Product][t.Unix()][country][r.MachineID] = true
			rep.AsOfSeq = max(rep.AsOfSeq, r.seq)
		}
	}

	// The commercial licences whose term meets the quarter; each gives its
	// full seats to every product it covers.
	byProduct := map[string][]*licence{}
	for _, l := range licences {
		if l.from.Before(qEnd) && l.until.After(qStart) {
			for _, p := range l.products {
				byProduct[p] = append(byProduct[p], l)
			}
			rep.AsOfSeq = max(rep.AsOfSeq, l.seq)
		}
	}
	// seatsAt returns the seats active at t: of every licence, of the global
	// ones, and per country.
	seatsAt := func(product string, t time.Time) (all, global int, byCountry map[string]int) {
		byCountry = map[string]int{}
		for _, l := range byProduct[product] {
			if l.activeAt(t) {
				all += l.seats
				if l.country == "" {
					global += l.seats
				} else {
					byCountry[l.country] += l.seats
				}
			}
		}
		return all, global, byCountry
	}

	// The products used in the quarter or licensed in it.
	var products []string
	for p := range machines {
		products = append(products, p)
	}
	for p := range byProduct {
		if machines[p] == nil {
			products = append(products, p)
		}
	}
	slices.Sort(products)

	for _, p := range products {
		all, _, _ := seatsAt(p, qStart)
		line := productReport{Product: p, Seats: all, Machines: []string{}}
		var starts []int64
		for t := range machines[p] {
			starts = append(starts, t)
		}
		slices.Sort(starts)
		// Per interval (G9): count = Σ count_c, over = max(0, Σ_c max(0,
		// count_c − seats_c) − global seats). The peak is the earliest
		// interval with the greatest over, then the greatest count − seats.
		var peak int64
		var peakOver, peakMargin int
		for i, t := range starts {
			all, global, seats := seatsAt(p, time.Unix(t, 0))
			count, short := 0, 0
			for c, ms := range machines[p][t] {
				count += len(ms)
				short += max(0, len(ms)-seats[c])
			}
			over := max(0, short-global)
			if i == 0 || over > peakOver || (over == peakOver && count-all > peakMargin) {
				peak, peakOver, peakMargin = t, over, count-all
				line.PeakCount, line.Seats, line.Units = count, all, over
			}
		}
		if len(starts) > 0 {
			s := time.Unix(peak, 0).UTC().Format(time.RFC3339)
			line.PeakInterval = &s
			_, _, seats := seatsAt(p, time.Unix(peak, 0))
			var countries []string
			for c, ms := range machines[p][peak] {
				countries = append(countries, c)
				for m := range ms {
					line.Machines = append(line.Machines, m)
				}
			}
			slices.Sort(line.Machines)
			line.Machines = slices.Compact(line.Machines) // a machine used from two countries is listed once
			// Each country's pool, when a licence of the product names a
			// country: by country, null last.
			if slices.ContainsFunc(byProduct[p], func(l *licence) bool { return l.country != "" }) {
				slices.SortFunc(countries, func(a, b string) int {
					if (a == "") != (b == "") {
						return strings.Compare(b, a)
					}
					return strings.Compare(a, b)
				})
				for _, c := range countries {
					n := len(machines[p][peak][c])
					pool := countryPool{Count: n, Seats: seats[c], Over: max(0, n-seats[c])}
					if c != "" {
						pool.Country = &c
					}
					line.Countries = append(line.Countries, pool)
				}
			}
		}
		rep.Products = append(rep.Products, line)
	}
	return rep
}

// deref is *s, or "" for null.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// parseQuarter reads "YYYY-Qn" and returns the quarter's first instant.
func parseQuarter(s string) (time.Time, error) {
	y, n, ok := strings.Cut(s, "-Q")
	year, err1 := strconv.Atoi(y)
	q, err2 := strconv.Atoi(n)
	if !ok || len(y) != 4 || len(n) != 1 || err1 != nil || err2 != nil || year < 1970 || q < 1 || q > 4 {
		return time.Time{}, fmt.Errorf("--quarter %q: want YYYY-Qn, e.g. 2026-Q4", s)
	}
	return time.Date(year, time.Month(3*q-2), 1, 0, 0, 0, 0, time.UTC), nil
}
