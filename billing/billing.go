// Package billing computes what pooled usage is billed: the 10-minute peaks
// of distinct machines (rule G1) in country pools (G9), the term licence
// report of a quarter or a month (G2, G3, G6, G10) and the evidence behind
// each number (G7).
//
// Its functions are pure: they take the pooled usage records and the
// commercial licences of one (account, product), as the projections hold
// them, and return the same answer for the same input, byte for byte once
// encoded. Everything is UTC and intervals are half-open. A record
// [started_at, ended_at) counts in every 10-minute interval that starts at
// or after its started_at and before its ended_at: the first interval is not
// counted when the record starts after its start ("the first partial
// interval is not counted"), a record starting exactly on a boundary counts
// from that interval, and a zero-length record counts nowhere. An
// interval's count is the number of distinct machines counted in it.
//
// The functions are safe for concurrent use.
package billing

import (
	"cmp"
	"slices"
	"time"

	"github.com/entledger/ledger/events"
)

// Interval is the length of the intervals peaks are counted in (G1).
const Interval = 10 * time.Minute

// Record is one pooled usage record as billing counts it.
type Record struct {
	UsageID   string
	MachineID string
	// Country is the user's entitlement country recorded with the usage
	// (G9); none is a pool of its own, served by global seats only.
	Country events.Country
	Email   string // whose record it is (G11)
	// Leak marks use by an email that held, at started_at, a practitioner
	// licence active then and covering the product, from a client too old
	// for it (F4): G11's leak.
	Leak      bool
	StartedAt time.Time
	EndedAt   time.Time
	Seq       uint64 // the stream sequence of its usage.recorded event
}

// Licence is a commercial licence's seats and term, as of the report.
type Licence struct {
	ID string
	// Country is the pool the seats serve; none: global seats, which serve
	// every country (G9).
	Country    events.Country
	Seats      int
	ValidFrom  time.Time
	ValidUntil time.Time
	Seq        uint64 // the stream sequence of its last event the report uses
}

// activeAt reports whether the licence is active at t (B2).
func (l Licence) activeAt(t time.Time) bool { return !t.Before(l.ValidFrom) && t.Before(l.ValidUntil) }

// SeatsAt is the seats of the licences active at t, of every country and
// global (G2, G9): a licence covering several products gives its full
// seats to each.
func SeatsAt(lics []Licence, t time.Time) int {
	n := 0
	for _, l := range lics {
		if l.activeAt(t) {
			n += l.Seats
		}
	}
	return n
}

// countryPools reports whether a licence names a country: only then do
// answers break their counts down by country (G9). Without one, every
// answer is what G2 alone gives, byte for byte.
func countryPools(lics []Licence) bool {
	return slices.ContainsFunc(lics, func(l Licence) bool { return l.Country != "" })
}

// slot numbers the 10-minute interval starting at or before t.
func slot(t time.Time) int64 { return floorDiv(t.Unix(), int64(Interval/time.Second)) }

// slotAfter numbers the first interval that starts at or after t.
func slotAfter(t time.Time) int64 {
	s := slot(t)
	if slotStart(s).Before(t) {
		s++
	}
	return s
}

func slotStart(s int64) time.Time { return time.Unix(s*int64(Interval/time.Second), 0).UTC() }

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// Counted returns the intervals a record counts in, as the start of the
// first and the start of the first interval after the last; first == end
// when it counts nowhere (G1).
func Counted(startedAt, endedAt time.Time) (first, end time.Time) {
	a, b := slotAfter(startedAt), slotAfter(endedAt)
	if b < a {
		b = a
	}
	return slotStart(a), slotStart(b)
}

// compareCountries orders countries by code, none last (G9).
func compareCountries(a, b events.Country) int {
	switch {
	case a == b:
		return 0
	case a == "":
		return 1
	case b == "":
		return -1
	}
	return cmp.Compare(a, b)
}

// tally holds, for every interval of a window, the distinct machines
// counted in it per country.
type tally struct {
	lo, hi    int64            // the window's slots [lo, hi)
	countries []events.Country // with pooled use in the window, by country, none last
	n         [][]int32        // n[c][slot - lo]: distinct machines of countries[c]
}

// byCountry groups records by their country (G9); allCountries puts them in
// one group, for what G1 counts over every country (thresholds, G4).
func byCountry(r Record) events.Country  { return r.Country }
func allCountries(Record) events.Country { return "" }

// countMachines counts, for every interval in [lo, hi) and every group of
// records, the distinct machines of the group counted in it. A machine's
// records are merged first, so a machine used by two users, or twice, in
// one interval counts once in its group; a machine used from two countries
// in one interval counts in each (G9).
func countMachines(records []Record, lo, hi int64, group func(Record) events.Country) tally {
	sp := spans{lo: lo, hi: hi, group: group, byMachine: map[machineKey][][2]int64{}}
	for _, r := range records {
		sp.add(r)
	}
	return sp.tally()
}

// machineKey is a machine in a group of records (a country pool).
type machineKey struct {
	country events.Country
	machine string
}

// spans gathers the slots [lo, hi) each machine of each group is counted
// in, record by record, and the newest sequence of a record counted.
type spans struct {
	lo, hi    int64
	group     func(Record) events.Country
	byMachine map[machineKey][][2]int64
	seq       uint64
}

func (sp *spans) add(r Record) {
	a, b := max(slotAfter(r.StartedAt), sp.lo), min(slotAfter(r.EndedAt), sp.hi)
	if a < b {
		k := machineKey{sp.group(r), r.MachineID}
		sp.byMachine[k] = append(sp.byMachine[k], [2]int64{a, b})
		sp.seq = max(sp.seq, r.Seq)
	}
}

// tally counts the gathered spans.
func (sp *spans) tally() tally {
	lo, hi, byMachine := sp.lo, sp.hi, sp.byMachine
	t := tally{lo: lo, hi: hi}
	index := map[events.Country]int{}
	for k := range byMachine {
		if _, ok := index[k.country]; !ok {
			index[k.country] = 0
			t.countries = append(t.countries, k.country)
		}
	}
	slices.SortFunc(t.countries, compareCountries)
	diffs := make([][]int32, len(t.countries))
	for i, c := range t.countries {
		index[c] = i
		diffs[i] = make([]int32, hi-lo+1)
	}
	for k, spans := range byMachine {
		addMerged(diffs[index[k.country]], lo, spans)
	}
	t.n = make([][]int32, len(t.countries))
	for i, diff := range diffs {
		run := int32(0)
		for j := range diff[:hi-lo] {
			run += diff[j]
			diff[j] = run
		}
		t.n[i] = diff[:hi-lo]
	}
	return t
}

// addMerged adds one machine's spans of slots to a difference array over
// slots from lo: overlapping or touching spans are merged, so the machine
// counts once in each slot.
func addMerged(diff []int32, lo int64, spans [][2]int64) {
	slices.SortFunc(spans, func(x, y [2]int64) int { return cmp.Compare(x[0], y[0]) })
	cur := spans[0]
	for _, s := range spans[1:] {
		if s[0] <= cur[1] {
			cur[1] = max(cur[1], s[1])
			continue
		}
		diff[cur[0]-lo]++
		diff[cur[1]-lo]--
		cur = s
	}
	diff[cur[0]-lo]++
	diff[cur[1]-lo]--
}

// seatBook finds the seats of an interval for a tally's countries.
type seatBook struct {
	lics []Licence
	pool []int // per licence: the tally country its seats serve, -1 global, -2 a country without use
	n    int   // the tally's countries
}

func newSeatBook(lics []Licence, countries []events.Country) seatBook {
	b := seatBook{lics: lics, pool: make([]int, len(lics)), n: len(countries)}
	for i, l := range lics {
		switch j := slices.Index(countries, l.Country); {
		case l.Country == "":
			b.pool[i] = -1
		case j >= 0:
			b.pool[i] = j
		default:
			b.pool[i] = -2
		}
	}
	return b
}

// interval is one interval's pools under G9.
type interval struct {
	count  int // Σ count_c
	seats  int // every seat active: global and every country's
	over   int // max(0, Σ_c max(0, count_c − seats_c) − global)
	margin int // count − seats: the peak's second key
}

// at computes the interval of the tally's slot s; seats is a scratch slice
// of the tally's countries' seats, filled here.
func (b seatBook) at(t *tally, s int64, seats []int) interval {
	start := slotStart(s)
	clear(seats)
	var iv interval
	global := 0
	for i, l := range b.lics {
		if !l.activeAt(start) {
			continue
		}
		iv.seats += l.Seats
		switch p := b.pool[i]; {
		case p == -1:
			global += l.Seats
		case p >= 0:
			seats[p] += l.Seats
		}
	}
	short := 0
	for c := range t.countries {
		n := int(t.n[c][s-t.lo])
		iv.count += n
		short += max(0, n-seats[c])
	}
	iv.over = max(0, short-global)
	iv.margin = iv.count - iv.seats
	return iv
}

// better reports whether a is a greater peak than b (G9): a greater over,
// then a greater count − seats.
func (a interval) better(b interval) bool {
	return a.over > b.over || (a.over == b.over && a.margin > b.margin)
}

// CountryPool is one country's pool in an interval (G9): the distinct
// machines of its pooled use, the seats of its own licences (global seats
// aside) and what it is short of them. Country null is the usage of users
// without a country, served by global seats only.
type CountryPool struct {
	Country events.Country `json:"country"`
	Count   int            `json:"count"`
	Seats   int            `json:"seats"`
	Over    int            `json:"over"` // max(0, count − seats)
}

// pools lists the countries with pooled use in the tally's slot s, by
// country (none last).
func (b seatBook) pools(t *tally, s int64, seats []int) []CountryPool {
	b.at(t, s, seats)
	var out []CountryPool
	for c, country := range t.countries {
		if n := int(t.n[c][s-t.lo]); n > 0 {
			out = append(out, CountryPool{Country: country, Count: n, Seats: seats[c], Over: max(0, n-seats[c])})
		}
	}
	return out
}

// Point is one interval of the 10-minute series (G7, G9).
type Point struct {
	Start time.Time `json:"start"`
	Count int       `json:"count"` // Σ of the countries' counts
	Seats int       `json:"seats"` // every seat active: global and every country's
	Over  int       `json:"over"`  // G9's over; without country licences max(0, count − seats)
	// Countries is each country's pool, when a licence names a country.
	Countries []CountryPool `json:"countries,omitempty"`
}

// Series is the 10-minute series of the intervals in [from, to) with pooled
// use (a count of at least 1), in time order.
func Series(records []Record, lics []Licence, from, to time.Time) []Point {
	t := countMachines(records, slotAfter(from), slotAfter(to), byCountry)
	book, seats := newSeatBook(lics, t.countries), make([]int, len(t.countries))
	breakdown := countryPools(lics)
	out := []Point{}
	for s := t.lo; s < t.hi; s++ {
		iv := book.at(&t, s, seats)
		if iv.count == 0 {
			continue
		}
		p := Point{Start: slotStart(s), Count: iv.count, Seats: iv.seats, Over: iv.over}
		if breakdown {
			p.Countries = book.pools(&t, s, seats)
		}
		out = append(out, p)
	}
	return out
}

// Crowded is the intervals in [from, to) in which more than limit distinct
// machines are in pooled use, over every country (G1, G4: a threshold is
// per product, whatever the countries), in time order.
func Crowded(records []Record, from, to time.Time, limit int) []time.Time {
	t := countMachines(records, slotAfter(from), slotAfter(to), allCountries)
	var out []time.Time
	for s := t.lo; s < t.hi; s++ {
		if len(t.n) > 0 && int(t.n[0][s-t.lo]) > limit {
			out = append(out, slotStart(s))
		}
	}
	return out
}

// MachineEvidence is one machine counted in an interval and the usage
// records that put it there.
type MachineEvidence struct {
	MachineID string   `json:"machine_id"`
	UsageIDs  []string `json:"usage_ids"`
}

// CountryEvidence is a country's pool in an interval and its machines.
type CountryEvidence struct {
	CountryPool
	Machines []string `json:"machines"` // sorted
}

// Evidence is one interval with everything counted in it (G7, G9).
type Evidence struct {
	Start    time.Time         `json:"start"`
	Count    int               `json:"count"`
	Seats    int               `json:"seats"`
	Over     int               `json:"over"`
	Machines []MachineEvidence `json:"machines"` // every machine counted, once, sorted
	// Countries is each country's pool, when a licence names a country.
	Countries []CountryEvidence `json:"countries,omitempty"`
}

// EvidenceAt lists the machines counted in the interval starting at start
// and the usage ids of each, sorted, with the interval's pools.
func EvidenceAt(records []Record, lics []Licence, start time.Time) Evidence {
	s := slot(start)
	var counted []Record
	for _, r := range records {
		if slotAfter(r.StartedAt) <= s && s < slotAfter(r.EndedAt) {
			counted = append(counted, r)
		}
	}
	t := countMachines(counted, s, s+1, byCountry)
	book, seats := newSeatBook(lics, t.countries), make([]int, len(t.countries))
	iv := book.at(&t, s, seats)
	ev := Evidence{Start: slotStart(s), Count: iv.count, Seats: iv.seats, Over: iv.over, Machines: []MachineEvidence{}}
	ids := map[string][]string{}
	machines := map[events.Country][]string{}
	for _, r := range counted {
		if _, ok := ids[r.MachineID]; !ok {
			ev.Machines = append(ev.Machines, MachineEvidence{MachineID: r.MachineID})
		}
		ids[r.MachineID] = append(ids[r.MachineID], r.UsageID)
		machines[r.Country] = append(machines[r.Country], r.MachineID)
	}
	slices.SortFunc(ev.Machines, func(a, b MachineEvidence) int { return cmp.Compare(a.MachineID, b.MachineID) })
	for i := range ev.Machines {
		us := ids[ev.Machines[i].MachineID]
		slices.Sort(us)
		ev.Machines[i].UsageIDs = us
	}
	if countryPools(lics) {
		for _, p := range book.pools(&t, s, seats) {
			ms := machines[p.Country]
			slices.Sort(ms)
			ev.Countries = append(ev.Countries, CountryEvidence{CountryPool: p, Machines: slices.Compact(ms)})
		}
	}
	return ev
}

// IsIntervalStart reports whether t starts a 10-minute interval.
func IsIntervalStart(t time.Time) bool { return slotStart(slot(t)).Equal(t) }

// ProductReport is one product's line of a QTL report (G2, G9).
type ProductReport struct {
	Product string `json:"product"`
	// PeakInterval is the earliest interval, among those with pooled use,
	// with the greatest (over, count − seats); null when the product had
	// none.
	PeakInterval *time.Time `json:"peak_interval"`
	PeakCount    int        `json:"peak_count"` // Σ of the countries' counts
	// Seats are every seat active at the peak interval's start, global and
	// every country's (at the period's start when there is no peak).
	Seats    int      `json:"seats"`
	Units    int      `json:"units"`    // the peak's over (G9); without country licences max(0, peak_count − seats)
	Machines []string `json:"machines"` // counted in the peak interval, sorted
	// Countries is each country's pool at the peak, when a licence of the
	// product in the period names a country (G9): otherwise the line is
	// G2's, byte for byte.
	Countries []CountryPool `json:"countries,omitempty"`
}

// Report is the QTL report of one account for one period, a quarter or a
// month (G2, G6, G10): exactly one of Quarter and Month is set.
type Report struct {
	Account  string          `json:"account"`
	Quarter  string          `json:"quarter,omitempty"`
	Month    string          `json:"month,omitempty"`
	AsOfSeq  uint64          `json:"as_of_seq"`
	Products []ProductReport `json:"products"`
}

// NewReport is the report of account for period p, without products yet.
func NewReport(account string, p Period, asOf uint64) Report {
	r := Report{Account: account, AsOfSeq: asOf, Products: []ProductReport{}}
	if p.IsMonth() {
		r.Month = p.String()
	} else {
		r.Quarter = p.String()
	}
	return r
}

// Peak computes one product's line of the period's report and the newest
// stream sequence it depends on: of the records counted in the period and
// of the licences.
func Peak(product string, records []Record, lics []Licence, q Period) (ProductReport, uint64) {
	peak, seq := PeakInterval(records, lics, q)
	if peak == nil {
		return NoPeak(product, lics, q), seq
	}
	return PeakLine(product, EvidenceAt(records, lics, *peak)), seq
}

// PeakInterval finds the period's peak interval (nil when no interval has
// pooled use) and the newest stream sequence the report depends on. It
// reads only the machines, countries and times of records, so a caller may
// leave their usage ids out and read the evidence of the peak alone
// (EvidenceAt).
func PeakInterval(records []Record, lics []Licence, q Period) (*time.Time, uint64) {
	c := NewPeakCounter(q)
	for _, r := range records {
		c.Add(r)
	}
	return c.Peak(lics)
}

// PeakCounter finds a period's peak interval from records given one at a
// time, keeping only each machine's spans: PeakInterval without the
// records in memory.
type PeakCounter struct{ sp spans }

// NewPeakCounter is a PeakCounter of period q.
func NewPeakCounter(q Period) *PeakCounter {
	return &PeakCounter{spans{lo: slot(q.Start()), hi: slot(q.End()), group: byCountry, byMachine: map[machineKey][][2]int64{}}}
}

// Add counts one record (G1, G9).
func (c *PeakCounter) Add(r Record) { c.sp.add(r) }

// Peak is PeakInterval of the records added, with the licences lics.
func (c *PeakCounter) Peak(lics []Licence) (*time.Time, uint64) {
	t := c.sp.tally()
	book, seats := newSeatBook(lics, t.countries), make([]int, len(t.countries))
	var best interval
	peak := int64(-1)
	for s := t.lo; s < t.hi; s++ {
		iv := book.at(&t, s, seats)
		if iv.count > 0 && (peak < 0 || iv.better(best)) {
			best, peak = iv, s
		}
	}
	seq := c.sp.seq
	for _, l := range lics {
		seq = max(seq, l.Seq)
	}
	if peak < 0 {
		return nil, seq
	}
	start := slotStart(peak)
	return &start, seq
}

// PeakLine is the report line of a product whose peak interval has the
// evidence ev.
func PeakLine(product string, ev Evidence) ProductReport {
	start := ev.Start
	line := ProductReport{Product: product, PeakInterval: &start, PeakCount: ev.Count, Seats: ev.Seats, Units: ev.Over,
		Machines: make([]string, 0, len(ev.Machines))}
	for _, m := range ev.Machines {
		line.Machines = append(line.Machines, m.MachineID)
	}
	for _, c := range ev.Countries {
		line.Countries = append(line.Countries, c.CountryPool)
	}
	return line
}

// NoPeak is the report line of a product without pooled use in the period:
// no peak, 0 units, the seats at the period's start.
func NoPeak(product string, lics []Licence, q Period) ProductReport {
	return ProductReport{Product: product, Machines: []string{}, Seats: SeatsAt(lics, q.Start())}
}

// Overlaps reports whether a licence's term meets the period.
func (l Licence) Overlaps(q Period) bool {
	return l.ValidFrom.Before(q.End()) && l.ValidUntil.After(q.Start())
}
