// Package billing computes what pooled usage is billed: the 10-minute peaks
// of distinct machines (rule G1), the quarterly term licence report (G2, G3,
// G6) and the evidence behind each number (G7).
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
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Interval is the length of the intervals peaks are counted in (G1).
const Interval = 10 * time.Minute

// Record is one pooled usage record as billing counts it.
type Record struct {
	UsageID   string
	MachineID string
	StartedAt time.Time
	EndedAt   time.Time
	Seq       uint64 // the stream sequence of its usage.recorded event
}

// Licence is a commercial licence's seats and term, as of the report.
type Licence struct {
	ID         string
	Seats      int
	ValidFrom  time.Time
	ValidUntil time.Time
	Seq        uint64 // the stream sequence of its last event the report uses
}

// activeAt reports whether the licence is active at t (B2).
func (l Licence) activeAt(t time.Time) bool { return !t.Before(l.ValidFrom) && t.Before(l.ValidUntil) }

// SeatsAt is the seats of the licences active at t (G2): a licence covering
// several products gives its full seats to each.
func SeatsAt(lics []Licence, t time.Time) int {
	n := 0
	for _, l := range lics {
		if l.activeAt(t) {
			n += l.Seats
		}
	}
	return n
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

// counts holds the distinct machines counted in each interval of a window.
type counts struct {
	lo, hi int64 // the window's slots [lo, hi)
	n      []int // count per slot - lo
}

// countMachines counts, for every interval in [lo, hi), the distinct
// machines of records counted in it. A machine's records are merged first,
// so a machine used by two users, or twice, in one interval counts once.
func countMachines(records []Record, lo, hi int64) counts {
	c := counts{lo: lo, hi: hi, n: make([]int, hi-lo)}
	diff := make([]int, hi-lo+1)
	byMachine := map[string][][2]int64{}
	for _, r := range records {
		a, b := slotAfter(r.StartedAt), slotAfter(r.EndedAt)
		a, b = max(a, lo), min(b, hi)
		if a < b {
			byMachine[r.MachineID] = append(byMachine[r.MachineID], [2]int64{a, b})
		}
	}
	for _, spans := range byMachine {
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
	run := 0
	for i := range c.n {
		run += diff[i]
		c.n[i] = run
	}
	return c
}

// Point is one interval of the 10-minute series (G7).
type Point struct {
	Start time.Time `json:"start"`
	Count int       `json:"count"`
	Seats int       `json:"seats"`
	Over  int       `json:"over"` // max(0, count - seats)
}

// Series is the 10-minute series of the intervals in [from, to) with pooled
// use (a count of at least 1), in time order.
func Series(records []Record, lics []Licence, from, to time.Time) []Point {
	c := countMachines(records, slotAfter(from), slotAfter(to))
	out := []Point{}
	for i, n := range c.n {
		if n == 0 {
			continue
		}
		start := slotStart(c.lo + int64(i))
		seats := SeatsAt(lics, start)
		out = append(out, Point{Start: start, Count: n, Seats: seats, Over: max(0, n-seats)})
	}
	return out
}

// MachineEvidence is one machine counted in an interval and the usage
// records that put it there.
type MachineEvidence struct {
	MachineID string   `json:"machine_id"`
	UsageIDs  []string `json:"usage_ids"`
}

// Evidence is one interval with everything counted in it (G7).
type Evidence struct {
	Start    time.Time         `json:"start"`
	Count    int               `json:"count"`
	Seats    int               `json:"seats"`
	Over     int               `json:"over"`
	Machines []MachineEvidence `json:"machines"`
}

// EvidenceAt lists the machines counted in the interval starting at start
// and the usage ids of each, sorted.
func EvidenceAt(records []Record, lics []Licence, start time.Time) Evidence {
	s := slot(start)
	ids := map[string][]string{}
	for _, r := range records {
		if slotAfter(r.StartedAt) <= s && s < slotAfter(r.EndedAt) {
			ids[r.MachineID] = append(ids[r.MachineID], r.UsageID)
		}
	}
	ev := Evidence{Start: slotStart(s), Machines: []MachineEvidence{}}
	for m, us := range ids {
		slices.Sort(us)
		ev.Machines = append(ev.Machines, MachineEvidence{MachineID: m, UsageIDs: us})
	}
	slices.SortFunc(ev.Machines, func(a, b MachineEvidence) int { return cmp.Compare(a.MachineID, b.MachineID) })
	ev.Count, ev.Seats = len(ev.Machines), SeatsAt(lics, ev.Start)
	ev.Over = max(0, ev.Count-ev.Seats)
	return ev
}

// IsIntervalStart reports whether t starts a 10-minute interval.
func IsIntervalStart(t time.Time) bool { return slotStart(slot(t)).Equal(t) }

// Quarter is a calendar quarter, such as 2026-Q4.
type Quarter struct {
	Year int
	N    int // 1 to 4
}

// ParseQuarter reads "YYYY-Qn".
func ParseQuarter(s string) (Quarter, error) {
	y, n, ok := strings.Cut(s, "-Q")
	year, err1 := strconv.Atoi(y)
	q, err2 := strconv.Atoi(n)
	if !ok || len(y) != 4 || len(n) != 1 || err1 != nil || err2 != nil || year < 1970 || q < 1 || q > 4 {
		return Quarter{}, fmt.Errorf("%q is not a quarter; want YYYY-Qn, e.g. 2026-Q4", s)
	}
	return Quarter{Year: year, N: q}, nil
}

func (q Quarter) String() string { return fmt.Sprintf("%04d-Q%d", q.Year, q.N) }

// Start is the quarter's first instant.
func (q Quarter) Start() time.Time {
	return time.Date(q.Year, time.Month(3*q.N-2), 1, 0, 0, 0, 0, time.UTC)
}

// End is the first instant after the quarter.
func (q Quarter) End() time.Time { return q.Start().AddDate(0, 3, 0) }

// ProductReport is one product's line of a QTL report (G2).
type ProductReport struct {
	Product string `json:"product"`
	// PeakInterval is the earliest interval, among those with pooled use,
	// with the greatest count - seats; null when the product had none.
	PeakInterval *time.Time `json:"peak_interval"`
	PeakCount    int        `json:"peak_count"`
	// Seats are the seats active at the peak interval's start (at the
	// quarter's start when there is no peak).
	Seats    int      `json:"seats"`
	Units    int      `json:"units"`    // max(0, peak_count - seats)
	Machines []string `json:"machines"` // counted in the peak interval, sorted
}

// Report is the QTL report of one account for one quarter (G2, G6).
type Report struct {
	Account  string          `json:"account"`
	Quarter  string          `json:"quarter"`
	AsOfSeq  uint64          `json:"as_of_seq"`
	Products []ProductReport `json:"products"`
}

// Peak computes one product's line of the quarter's report and the newest
// stream sequence it depends on: of the records counted in the quarter and
// of the licences.
func Peak(product string, records []Record, lics []Licence, q Quarter) (ProductReport, uint64) {
	peak, seq := PeakInterval(records, lics, q)
	if peak == nil {
		return NoPeak(product, lics, q), seq
	}
	return PeakLine(product, EvidenceAt(records, lics, *peak)), seq
}

// PeakInterval finds the quarter's peak interval (nil when no interval has
// pooled use) and the newest stream sequence the report depends on. It
// reads only the machines and times of records, so a caller may leave their
// usage ids out and read the evidence of the peak alone (EvidenceAt).
func PeakInterval(records []Record, lics []Licence, q Quarter) (*time.Time, uint64) {
	lo, hi := slot(q.Start()), slot(q.End())
	c := countMachines(records, lo, hi)
	best, peak := 0, int64(-1)
	for i, n := range c.n {
		if n == 0 {
			continue
		}
		s := lo + int64(i)
		if over := n - SeatsAt(lics, slotStart(s)); peak < 0 || over > best {
			best, peak = over, s
		}
	}
	var seq uint64
	for _, l := range lics {
		seq = max(seq, l.Seq)
	}
	for _, r := range records {
		if a, b := max(slotAfter(r.StartedAt), lo), min(slotAfter(r.EndedAt), hi); a < b {
			seq = max(seq, r.Seq)
		}
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
	return line
}

// NoPeak is the report line of a product without pooled use in the quarter:
// no peak, 0 units, the seats at the quarter's start.
func NoPeak(product string, lics []Licence, q Quarter) ProductReport {
	return ProductReport{Product: product, Machines: []string{}, Seats: SeatsAt(lics, q.Start())}
}

// Overlaps reports whether a licence's term meets the quarter.
func (l Licence) Overlaps(q Quarter) bool {
	return l.ValidFrom.Before(q.End()) && l.ValidUntil.After(q.Start())
}
