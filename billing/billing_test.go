package billing

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"
)

var day = time.Date(2026, 10, 5, 0, 0, 0, 0, time.UTC)

func at(hhmm string) time.Time {
	t, err := time.Parse("15:04", hhmm)
	if err != nil {
		panic(err)
	}
	return day.Add(time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute)
}

func rec(id, machine string, from, to time.Time) Record {
	return Record{UsageID: id, MachineID: machine, StartedAt: from, EndedAt: to, Seq: 1}
}

func starts(ps []Point) []string {
	out := []string{}
	for _, p := range ps {
		out = append(out, p.Start.Format("15:04"))
	}
	return out
}

// rule G1: the worked cases, the first partial interval, a start on a
// boundary, zero length, and one machine counted once.
func TestRuleG1Intervals(t *testing.T) {
	for _, tc := range []struct {
		name     string
		from, to string
		want     []string
	}{
		{"10:03-10:07 counts nowhere", "10:03", "10:07", []string{}},
		{"10:03-10:25 counts in 10:10 and 10:20", "10:03", "10:25", []string{"10:10", "10:20"}},
		{"10:00-10:10 counts in 10:00 only", "10:00", "10:10", []string{"10:00"}},
		{"10:00-10:10:01 reaches into 10:10", "10:00", "10:10", []string{"10:00"}},
		{"a zero-length record on a boundary counts nowhere", "10:00", "10:00", []string{}},
		{"10:09-10:11 counts in 10:10", "10:09", "10:11", []string{"10:10"}},
	} {
		r := rec("u", "m1", at(tc.from), at(tc.to))
		if tc.name == "10:00-10:10:01 reaches into 10:10" {
			r.EndedAt = r.EndedAt.Add(time.Second)
			tc.want = []string{"10:00", "10:10"}
		}
		got := starts(Series([]Record{r}, nil, at("09:00"), at("12:00")))
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: counted in %v, want %v", tc.name, got, tc.want)
		}
	}
	// A machine used by two users, and twice by one, in one interval is
	// one machine; another machine makes two.
	ps := Series([]Record{
		rec("a", "m1", at("10:00"), at("10:30")), rec("b", "m1", at("10:05"), at("10:40")),
		rec("c", "m1", at("10:10"), at("10:20")), rec("d", "m2", at("10:10"), at("10:20")),
	}, nil, at("10:00"), at("11:00"))
	want := []Point{{Start: at("10:00"), Count: 1}, {Start: at("10:10"), Count: 2, Over: 2}, {Start: at("10:20"), Count: 1, Over: 1},
		{Start: at("10:30"), Count: 1, Over: 1}}
	want[0].Over = 1
	if !reflect.DeepEqual(ps, want) {
		t.Errorf("two users on one machine: %+v, want %+v", ps, want)
	}
}

// rule G1: a record across midnight counts on both days, and one across a
// quarter boundary in both quarters' intervals.
func TestRuleG1AcrossMidnightAndQuarters(t *testing.T) {
	q3, q4 := Period{Year: 2026, Quarter: 3}, Period{Year: 2026, Quarter: 4}
	r := rec("u", "m1", q4.Start().Add(-25*time.Minute), q4.Start().Add(15*time.Minute))
	p3, _ := Peak("p", []Record{r}, nil, q3)
	p4, _ := Peak("p", []Record{r}, nil, q4)
	if p3.PeakInterval == nil || !p3.PeakInterval.Equal(q4.Start().Add(-20*time.Minute)) || p3.PeakCount != 1 {
		t.Errorf("Q3: %+v, want the peak at 23:40 of 30 September, count 1", p3)
	}
	if p4.PeakInterval == nil || !p4.PeakInterval.Equal(q4.Start()) || p4.PeakCount != 1 {
		t.Errorf("Q4: %+v, want the peak at the quarter's start, count 1", p4)
	}
	mid := rec("n", "m1", day.Add(23*time.Hour+50*time.Minute), day.Add(24*time.Hour+10*time.Minute))
	if got := starts(Series([]Record{mid}, nil, day, day.Add(48*time.Hour))); !slices.Equal(got, []string{"23:50", "00:00"}) {
		t.Errorf("across midnight: %v, want 23:50 and 00:00", got)
	}
}

// rule G2: seats change mid-quarter (a licence starting, one ending); the
// peak is the earliest interval with the greatest count - seats, among
// those with pooled use; units never go below zero.
func TestRuleG2SeatsPeakAndTies(t *testing.T) {
	q := Period{Year: 2026, Quarter: 4}
	d := func(n int, hhmm string) time.Time { return q.Start().AddDate(0, 0, n).Add(at(hhmm).Sub(day)) }
	lics := []Licence{
		{ID: "C1", Seats: 2, ValidFrom: q.Start(), ValidUntil: d(10, "00:00"), Seq: 3},
		{ID: "C2", Seats: 5, ValidFrom: d(10, "00:00"), ValidUntil: q.End(), Seq: 4},
	}
	machines := func(day int, hhmm string, n int, prefix string) []Record {
		var out []Record
		for i := range n {
			out = append(out, rec(fmt.Sprintf("%s-%d", prefix, i), fmt.Sprintf("m%d", i), d(day, hhmm), d(day, hhmm).Add(10*time.Minute)))
		}
		return out
	}
	// Day 2: 4 machines over 2 seats (+2). Day 20: 6 machines over 5 seats
	// (+1). Day 30: 4 machines over 2... no: 5 seats (-1). The peak is day 2.
	records := slices.Concat(machines(2, "09:00", 4, "a"), machines(20, "09:00", 6, "b"), machines(30, "09:00", 4, "c"))
	rep, seq := Peak("p", records, lics, q)
	if rep.PeakInterval == nil || !rep.PeakInterval.Equal(d(2, "09:00")) || rep.PeakCount != 4 || rep.Seats != 2 || rep.Units != 2 {
		t.Errorf("peak %+v, want day 2 09:00, 4 machines, 2 seats, 2 units", rep)
	}
	if !slices.Equal(rep.Machines, []string{"m0", "m1", "m2", "m3"}) {
		t.Errorf("machines %v, want m0..m3 sorted", rep.Machines)
	}
	if seq != 4 {
		t.Errorf("as of %d, want 4: the newest event the report depends on", seq)
	}
	// A tie: the earliest wins.
	tie := slices.Concat(machines(2, "09:00", 4, "a"), machines(3, "09:00", 4, "t"))
	if rep, _ := Peak("p", tie, lics, q); !rep.PeakInterval.Equal(d(2, "09:00")) {
		t.Errorf("tie: peak at %v, want the earliest, day 2 09:00", rep.PeakInterval)
	}
	// Under the seats everywhere: the interval with the greatest count -
	// seats (least negative), 0 units.
	under := slices.Concat(machines(20, "09:00", 2, "x"), machines(21, "09:00", 4, "y"))
	if rep, _ := Peak("p", under, lics, q); rep.Units != 0 || rep.PeakCount != 4 || !rep.PeakInterval.Equal(d(21, "09:00")) {
		t.Errorf("under the seats: %+v, want the day-21 interval, 4 machines, 0 units", rep)
	}
	// No pooled use: no peak, 0 units, the seats at the quarter's start.
	if rep, _ := Peak("p", nil, lics, q); rep.PeakInterval != nil || rep.Units != 0 || rep.Seats != 2 || rep.Machines == nil {
		t.Errorf("no use: %+v, want a null peak, 0 units, 2 seats, no machines", rep)
	}
}

// rule G10: one reader of periods, for quarters and months.
func TestParsePeriod(t *testing.T) {
	for _, c := range []struct {
		quarter, month string
		from, to       time.Time
	}{
		{"2026-Q1", "", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)},
		{"2026-Q4", "", time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"1999-Q2", "", time.Date(1999, 4, 1, 0, 0, 0, 0, time.UTC), time.Date(1999, 7, 1, 0, 0, 0, 0, time.UTC)},
		{"", "2026-11", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)},
		{"", "2026-12", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"", "2028-02", time.Date(2028, 2, 1, 0, 0, 0, 0, time.UTC), time.Date(2028, 3, 1, 0, 0, 0, 0, time.UTC)},
	} {
		p, err := ParsePeriod(c.quarter, c.month)
		if err != nil || p.String() != c.quarter+c.month || !p.Start().Equal(c.from) || !p.End().Equal(c.to) {
			t.Errorf("%s%s: %v [%v, %v) %v", c.quarter, c.month, p, p.Start(), p.End(), err)
		}
		if want := map[bool]string{true: "month", false: "quarter"}[c.month != ""]; p.Field() != want || p.IsMonth() != (c.month != "") {
			t.Errorf("%s%s: field %s, want %s", c.quarter, c.month, p.Field(), want)
		}
	}
	for _, c := range []struct{ quarter, month, field string }{
		{"", "", "quarter"}, {"2026-Q1", "2026-01", "month"},
		{"2026", "", "quarter"}, {"2026-Q0", "", "quarter"}, {"2026-Q5", "", "quarter"}, {"2026Q1", "", "quarter"},
		{"26-Q1", "", "quarter"}, {"2026-q1", "", "quarter"}, {"2026-Q12", "", "quarter"}, {"abcd-Q1", "", "quarter"},
		{"", "2026-1", "month"}, {"", "2026-00", "month"}, {"", "2026-13", "month"}, {"", "2026-Q1", "month"},
		{"", "202611", "month"}, {"", "1969-12", "month"}, {"", "2026-11-01", "month"},
	} {
		_, err := ParsePeriod(c.quarter, c.month)
		var pe *PeriodError
		if !errors.As(err, &pe) || pe.Field != c.field {
			t.Errorf("quarter %q month %q: %v, want an error naming %s", c.quarter, c.month, err, c.field)
		}
	}
	if q, m := QuarterOf(time.Date(2026, 11, 30, 23, 0, 0, 0, time.UTC)), MonthOf(time.Date(2026, 11, 30, 23, 0, 0, 0, time.UTC)); q.String() != "2026-Q4" || m.String() != "2026-11" {
		t.Errorf("QuarterOf %s, MonthOf %s", q, m)
	}
}

// rule G10: a month's report follows the same rules as a quarter's, over
// the month's intervals only.
func TestRuleG10MonthReport(t *testing.T) {
	nov, dec := Period{Year: 2026, Month: 11}, Period{Year: 2026, Month: 12}
	lics := []Licence{{ID: "C", Seats: 1, ValidFrom: nov.Start(), ValidUntil: dec.End(), Seq: 1}}
	// Two machines across the last interval of November and the first of
	// December; three machines on 5 December.
	edge := nov.End().Add(-Interval)
	records := []Record{rec("a", "m1", edge, edge.Add(20*time.Minute)), rec("b", "m2", edge, edge.Add(20*time.Minute))}
	for i := range 3 {
		records = append(records, rec(fmt.Sprint("d", i), fmt.Sprint("d", i), dec.Start().AddDate(0, 0, 4), dec.Start().AddDate(0, 0, 4).Add(Interval)))
	}
	got, _ := Peak("p", records, lics, nov)
	if got.PeakInterval == nil || !got.PeakInterval.Equal(edge) || got.Units != 1 {
		t.Errorf("November: %+v, want the last interval, 1 unit", got)
	}
	got, _ = Peak("p", records, lics, dec)
	if got.PeakInterval == nil || !got.PeakInterval.Equal(dec.Start().AddDate(0, 0, 4)) || got.Units != 2 {
		t.Errorf("December: %+v, want 5 December, 2 units", got)
	}
	if q, _ := Peak("p", records, lics, Period{Year: 2026, Quarter: 4}); q.Units != 2 {
		t.Errorf("the quarter: %+v, want 2 units", q)
	}
	rep := NewReport("acme", nov, 7)
	if b, _ := json.Marshal(rep); string(b) != `{"account":"acme","month":"2026-11","as_of_seq":7,"products":[]}` {
		t.Errorf("a month's report: %s", b)
	}
	if b, _ := json.Marshal(NewReport("acme", Period{Year: 2026, Quarter: 4}, 7)); string(b) != `{"account":"acme","quarter":"2026-Q4","as_of_seq":7,"products":[]}` {
		t.Errorf("a quarter's report: %s", b)
	}
}

// bruteCount is G1 read literally: the machines with a record overlapping
// the interval (started_at < end and ended_at > start), leaving out the
// record's first interval when it starts after that interval's start.
func bruteCount(records []Record, start time.Time) map[string]bool {
	end := start.Add(Interval)
	ms := map[string]bool{}
	for _, r := range records {
		if !(r.StartedAt.Before(end) && r.EndedAt.After(start)) {
			continue
		}
		first := r.StartedAt.Truncate(Interval)
		if first.Equal(start) && r.StartedAt.After(start) {
			continue
		}
		ms[r.MachineID] = true
	}
	return ms
}

// rules G1, G2: on random usage, the report equals a brute-force reference
// that looks at every interval and every machine.
func TestRuleG2MatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	q := Period{Year: 2026, Quarter: 4}
	for round := range 40 {
		var records []Record
		for i := range 1 + rng.IntN(60) {
			start := q.Start().Add(-2 * time.Hour).Add(time.Duration(rng.Int64N(int64(72 * time.Hour))))
			if rng.IntN(4) == 0 {
				start = start.Truncate(Interval) // on a boundary
			}
			d := time.Duration(rng.Int64N(int64(3 * time.Hour)))
			if rng.IntN(10) == 0 {
				d = 0
			}
			records = append(records, Record{UsageID: fmt.Sprintf("u%d", i), MachineID: fmt.Sprintf("m%d", rng.IntN(8)),
				StartedAt: start, EndedAt: start.Add(d), Seq: uint64(i + 1)})
		}
		lics := []Licence{{ID: "C", Seats: rng.IntN(4), ValidFrom: q.Start().Add(time.Duration(rng.IntN(48)) * time.Hour), ValidUntil: q.End()}}
		got, _ := Peak("p", records, lics, q)

		want := ProductReport{Product: "p", Machines: []string{}, Seats: SeatsAt(lics, q.Start())}
		best := 0
		for t0 := q.Start(); t0.Before(q.Start().Add(80 * time.Hour)); t0 = t0.Add(Interval) {
			ms := bruteCount(records, t0)
			if len(ms) == 0 {
				continue
			}
			seats := SeatsAt(lics, t0)
			if over := len(ms) - seats; want.PeakInterval == nil || over > best {
				start := t0
				best, want.PeakInterval, want.PeakCount, want.Seats, want.Units = over, &start, len(ms), seats, max(0, over)
				want.Machines = []string{}
				for m := range ms {
					want.Machines = append(want.Machines, m)
				}
				slices.Sort(want.Machines)
			}
		}
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		if string(g) != string(w) {
			t.Fatalf("round %d: got %s\nwant %s", round, g, w)
		}
		// The series agrees interval by interval too.
		for _, p := range Series(records, lics, q.Start(), q.Start().Add(80*time.Hour)) {
			if n := len(bruteCount(records, p.Start)); n != p.Count {
				t.Fatalf("round %d: %s counts %d, brute force %d", round, p.Start, p.Count, n)
			}
		}
	}
}
