package billing

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/entledger/ledger/events"
)

func crec(id, machine string, country events.Country, from, to time.Time) Record {
	r := rec(id, machine, from, to)
	r.Country = country
	return r
}

// rule G9: the example. 10 seats in Germany do not serve 10
// machines busy in France; global seats serve every country; a machine
// used from two countries in one interval counts in each.
func TestRuleG9CountryPools(t *testing.T) {
	q := Period{Year: 2026, Quarter: 4}
	de := Licence{ID: "DE", Country: "DE", Seats: 10, ValidFrom: q.Start(), ValidUntil: q.End(), Seq: 1}
	busy := func(country events.Country, n int, prefix string) []Record {
		var out []Record
		for i := range n {
			out = append(out, crec(fmt.Sprintf("%s%d", prefix, i), fmt.Sprintf("%s-m%d", prefix, i), country, at("10:00"), at("11:00")))
		}
		return out
	}
	fr := busy("FR", 10, "fr")
	rep, _ := Peak("p", fr, []Licence{de}, q)
	want := ProductReport{Product: "p", PeakInterval: ptr(at("10:00")), PeakCount: 10, Seats: 10, Units: 10,
		Machines: machineNames(fr), Countries: []CountryPool{{Country: "FR", Count: 10, Seats: 0, Over: 10}}}
	if !reflect.DeepEqual(rep, want) {
		t.Errorf("10 machines in France over 10 German seats:\n got %+v\nwant %+v", rep, want)
	}
	// 4 global seats take 4 of France's 10 over.
	global := Licence{ID: "G", Seats: 4, ValidFrom: q.Start(), ValidUntil: q.End(), Seq: 2}
	if rep, _ := Peak("p", fr, []Licence{de, global}, q); rep.Units != 6 || rep.Seats != 14 {
		t.Errorf("with 4 global seats: units %d seats %d, want 6 and 14", rep.Units, rep.Seats)
	}
	// Germany's own use fits its seats; France's over is what is billed,
	// less the global seats: max(0, (12-10 → 2) + (3-0 → 3) - 1) = 4.
	mixed := slices.Concat(busy("DE", 12, "de"), busy("FR", 3, "fr"), busy("", 0, "none"))
	g1 := Licence{ID: "G", Seats: 1, ValidFrom: q.Start(), ValidUntil: q.End(), Seq: 3}
	rep, _ = Peak("p", mixed, []Licence{de, g1}, q)
	if rep.Units != 4 || rep.PeakCount != 15 || rep.Seats != 11 {
		t.Errorf("mixed: %+v, want 4 units, 15 machines, 11 seats", rep)
	}
	wantPools := []CountryPool{{"DE", 12, 10, 2}, {"FR", 3, 0, 3}}
	if !reflect.DeepEqual(rep.Countries, wantPools) {
		t.Errorf("pools %+v, want %+v", rep.Countries, wantPools)
	}
	// Usage without a country is a pool of its own, served by global seats
	// only, and listed last.
	none := busy("", 2, "none")
	rep, _ = Peak("p", slices.Concat(busy("DE", 1, "de"), none), []Licence{de}, q)
	if rep.Units != 2 || !reflect.DeepEqual(rep.Countries, []CountryPool{{"DE", 1, 10, 0}, {"", 2, 0, 2}}) {
		t.Errorf("no country: %+v, want 2 units, DE then null", rep)
	}
	// One machine used from Germany and France in one interval counts in
	// each (and is listed once among the machines).
	two := []Record{crec("a", "m1", "DE", at("10:00"), at("10:10")), crec("b", "m1", "FR", at("10:00"), at("10:10"))}
	rep, _ = Peak("p", two, []Licence{de}, q)
	if rep.PeakCount != 2 || rep.Units != 1 || !slices.Equal(rep.Machines, []string{"m1"}) {
		t.Errorf("one machine, two countries: %+v, want count 2, 1 unit, one machine", rep)
	}
}

// rule G9: the peak is the earliest interval with the greatest over, then
// the greatest Σ count − all seats; seats of a country without use still
// count among all seats.
func TestRuleG9PeakOrder(t *testing.T) {
	q := Period{Year: 2026, Quarter: 4}
	lics := []Licence{
		{ID: "DE", Country: "DE", Seats: 2, ValidFrom: q.Start(), ValidUntil: q.End()},
		{ID: "US", Country: "US", Seats: 5, ValidFrom: q.Start(), ValidUntil: q.End()},
	}
	records := []Record{
		// 10:00: DE 3 (over 1). 11:00: DE 3 and FR 1 (over 2): the peak.
		// 12:00: FR 2 (over 2, but count − seats lower than 11:00's).
		crec("a", "d1", "DE", at("10:00"), at("10:10")), crec("b", "d2", "DE", at("10:00"), at("10:10")),
		crec("c", "d3", "DE", at("10:00"), at("10:10")),
		crec("d", "d1", "DE", at("11:00"), at("11:10")), crec("e", "d2", "DE", at("11:00"), at("11:10")),
		crec("f", "d3", "DE", at("11:00"), at("11:10")), crec("g", "f1", "FR", at("11:00"), at("11:10")),
		crec("h", "f1", "FR", at("12:00"), at("12:10")), crec("i", "f2", "FR", at("12:00"), at("12:10")),
	}
	rep, _ := Peak("p", records, lics, q)
	if !rep.PeakInterval.Equal(at("11:00")) || rep.Units != 2 || rep.Seats != 7 || rep.PeakCount != 4 {
		t.Errorf("peak %+v, want 11:00, 2 units, 7 seats, 4 machines", rep)
	}
	// Under the seats everywhere: the greatest count − seats wins.
	under := []Record{crec("a", "d1", "DE", at("10:00"), at("10:10")),
		crec("b", "u1", "US", at("11:00"), at("11:10")), crec("c", "u2", "US", at("11:00"), at("11:10"))}
	if rep, _ := Peak("p", under, lics, q); !rep.PeakInterval.Equal(at("11:00")) || rep.Units != 0 {
		t.Errorf("under the seats: %+v, want 11:00 and 0 units", rep)
	}
}

// rules G9, G7: the series and the evidence of an interval carry the
// pools when a licence names a country, and only then.
func TestRuleG9SeriesAndEvidence(t *testing.T) {
	q := Period{Year: 2026, Quarter: 4}
	de := Licence{ID: "DE", Country: "DE", Seats: 1, ValidFrom: q.Start(), ValidUntil: q.End()}
	global := Licence{ID: "G", Seats: 1, ValidFrom: q.Start(), ValidUntil: q.End()}
	records := []Record{crec("a", "m1", "DE", at("10:00"), at("10:10")), crec("b", "m2", "DE", at("10:00"), at("10:10")),
		crec("c", "m3", "FR", at("10:00"), at("10:10")), crec("d", "m3", "FR", at("10:00"), at("10:10"))}
	ps := Series(records, []Licence{de, global}, at("09:00"), at("11:00"))
	want := []Point{{Start: at("10:00"), Count: 3, Seats: 2, Over: 1,
		Countries: []CountryPool{{"DE", 2, 1, 1}, {"FR", 1, 0, 1}}}}
	if !reflect.DeepEqual(ps, want) {
		t.Errorf("series %+v, want %+v", ps, want)
	}
	ev := EvidenceAt(records, []Licence{de, global}, at("10:00"))
	if ev.Count != 3 || ev.Over != 1 || len(ev.Machines) != 3 || len(ev.Countries) != 2 ||
		!slices.Equal(ev.Countries[1].Machines, []string{"m3"}) || !slices.Equal(ev.Machines[2].UsageIDs, []string{"c", "d"}) {
		t.Errorf("evidence %+v", ev)
	}
	if ps := Series(records, []Licence{global}, at("09:00"), at("11:00")); ps[0].Countries != nil {
		t.Errorf("global seats only: the series breaks counts down by country: %+v", ps)
	}
	if ev := EvidenceAt(records, []Licence{global}, at("10:00")); ev.Countries != nil {
		t.Errorf("global seats only: the evidence breaks counts down by country: %+v", ev)
	}
}

// rule G4 beside G9: a threshold counts distinct machines over every
// country; a machine used from two countries is one machine there.
func TestRuleG4CrowdedOverAllCountries(t *testing.T) {
	records := []Record{crec("a", "m1", "DE", at("10:00"), at("10:20")), crec("b", "m1", "FR", at("10:00"), at("10:10")),
		crec("c", "m2", "FR", at("10:10"), at("10:20"))}
	got := Crowded(records, at("09:00"), at("11:00"), 1)
	if !slices.Equal(got, []time.Time{at("10:10")}) {
		t.Errorf("crowded %v, want 10:10 only (10:00 has one machine from two countries)", got)
	}
	if got := Crowded(nil, at("09:00"), at("11:00"), 0); got != nil {
		t.Errorf("no records: %v", got)
	}
}

// bruteG9 is G9 read literally for one interval: per country the distinct
// machines counted (bruteCount), its seats, the global seats.
func bruteG9(records []Record, lics []Licence, start time.Time) (count, seats, over int, pools []CountryPool) {
	byC := map[events.Country][]Record{}
	for _, r := range records {
		byC[r.Country] = append(byC[r.Country], r)
	}
	global, short := 0, 0
	seatsOf := map[events.Country]int{}
	for _, l := range lics {
		if !start.Before(l.ValidFrom) && start.Before(l.ValidUntil) {
			seats += l.Seats
			if l.Country == "" {
				global += l.Seats
			} else {
				seatsOf[l.Country] += l.Seats
			}
		}
	}
	for c, rs := range byC {
		n := len(bruteCount(rs, start))
		if n == 0 {
			continue
		}
		count += n
		short += max(0, n-seatsOf[c])
		pools = append(pools, CountryPool{Country: c, Count: n, Seats: seatsOf[c], Over: max(0, n-seatsOf[c])})
	}
	slices.SortFunc(pools, func(a, b CountryPool) int { return compareCountries(a.Country, b.Country) })
	return count, seats, max(0, short-global), pools
}

// rules G1, G9: on random usage from four countries and none, with seats
// of countries and global ones, the report and the series equal a
// brute-force reading of G9 that looks at every interval.
func TestRuleG9MatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 13))
	q := Period{Year: 2026, Quarter: 4}
	countries := []events.Country{"DE", "FR", "US", "JP", ""}
	for round := range 60 {
		var records []Record
		for i := range 1 + rng.IntN(80) {
			start := q.Start().Add(-2 * time.Hour).Add(time.Duration(rng.Int64N(int64(48 * time.Hour))))
			if rng.IntN(4) == 0 {
				start = start.Truncate(Interval)
			}
			records = append(records, Record{UsageID: fmt.Sprintf("u%d", i), MachineID: fmt.Sprintf("m%d", rng.IntN(10)),
				Country: countries[rng.IntN(len(countries))], StartedAt: start,
				EndedAt: start.Add(time.Duration(rng.Int64N(int64(3 * time.Hour)))), Seq: uint64(i + 1)})
		}
		var lics []Licence
		for i := range rng.IntN(4) {
			lics = append(lics, Licence{ID: fmt.Sprintf("C%d", i), Country: countries[rng.IntN(len(countries))], Seats: 1 + rng.IntN(3),
				ValidFrom: q.Start().Add(time.Duration(rng.IntN(30)) * time.Hour), ValidUntil: q.End()})
		}
		got, _ := Peak("p", records, lics, q)

		want := ProductReport{Product: "p", Machines: []string{}, Seats: SeatsAt(lics, q.Start())}
		var best interval
		for t0 := q.Start(); t0.Before(q.Start().Add(50 * time.Hour)); t0 = t0.Add(Interval) {
			count, seats, over, pools := bruteG9(records, lics, t0)
			iv := interval{count: count, seats: seats, over: over, margin: count - seats}
			if count == 0 || (want.PeakInterval != nil && !iv.better(best)) {
				continue
			}
			start := t0
			best, want.PeakInterval, want.PeakCount, want.Seats, want.Units = iv, &start, count, seats, over
			want.Machines = machineNames(records, bruteCount(records, t0))
			want.Countries = nil
			if countryPools(lics) {
				want.Countries = pools
			}
		}
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		if string(g) != string(w) {
			t.Fatalf("round %d: got %s\nwant %s", round, g, w)
		}
		for _, p := range Series(records, lics, q.Start(), q.Start().Add(50*time.Hour)) {
			count, seats, over, _ := bruteG9(records, lics, p.Start)
			if p.Count != count || p.Seats != seats || p.Over != over {
				t.Fatalf("round %d: %s is %d/%d/%d, brute force %d/%d/%d", round, p.Start, p.Count, p.Seats, p.Over, count, seats, over)
			}
		}
	}
}

// rules G2, G9: without a licence naming a country, and with each machine
// in one country, countries change nothing: the report is G2's, byte for
// byte, whatever the users' countries.
func TestRuleG9IsG2WithoutCountryLicences(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	q := Period{Year: 2026, Quarter: 4}
	countries := []events.Country{"DE", "FR", ""}
	for round := range 40 {
		var records []Record
		for i := range 1 + rng.IntN(60) {
			start := q.Start().Add(time.Duration(rng.Int64N(int64(24 * time.Hour))))
			m := rng.IntN(8)
			records = append(records, Record{UsageID: fmt.Sprintf("u%d", i), MachineID: fmt.Sprintf("m%d", m),
				Country: countries[m%len(countries)], StartedAt: start, EndedAt: start.Add(time.Duration(rng.Int64N(int64(2 * time.Hour)))),
				Seq: uint64(i + 1)})
		}
		lics := []Licence{{ID: "C", Seats: rng.IntN(4), ValidFrom: q.Start(), ValidUntil: q.End(), Seq: 99}}
		withCountries, _ := Peak("p", records, lics, q)
		for i := range records {
			records[i].Country = ""
		}
		without, _ := Peak("p", records, lics, q)
		a, _ := json.Marshal(withCountries)
		b, _ := json.Marshal(without)
		if string(a) != string(b) {
			t.Fatalf("round %d: with users' countries %s\nwithout %s", round, a, b)
		}
	}
}

func ptr(t time.Time) *time.Time { return &t }

// machineNames lists the machines of records (those in only, if given),
// sorted, once each.
func machineNames(records []Record, only ...map[string]bool) []string {
	out := []string{}
	for _, r := range records {
		if len(only) == 0 || only[0][r.MachineID] {
			out = append(out, r.MachineID)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
