package billing

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/entledger/ledger/events"
)

// bruteUnits is the units of a period from the records, counted afresh
// (Peak: G9, held to a brute force of its own).
func bruteUnits(records []Record, lics []Licence, p Period) int {
	line, _ := Peak("p", records, lics, p)
	return line.Units
}

func without(records []Record, drop func(Record) bool) []Record {
	return slices.DeleteFunc(slices.Clone(records), drop)
}

// bruteAdvice is G11 read literally: every "units without" is the report of
// the records left, counted from the records.
func bruteAdvice(records []Record, lics []Licence, p Period, candidates []string, available int) (ProductAdvice, bool) {
	units := bruteUnits(records, lics, p)
	if units == 0 {
		return ProductAdvice{}, false
	}
	lo, hi := slot(p.Start()), slot(p.End())
	adv := ProductAdvice{Product: "p", Units: units, Users: []UserSaving{}, Plan: Plan{LicencesAvailable: available, Assign: []string{}}}
	for _, r := range records {
		if r.Leak && max(slotAfter(r.StartedAt), lo) < min(slotAfter(r.EndedAt), hi) {
			adv.Leak.Records++
		}
	}
	adv.Leak.UnitsWithout = bruteUnits(without(records, func(r Record) bool { return r.Leak }), lics, p)
	emails := map[string]bool{}
	for _, r := range records {
		emails[r.Email] = true
	}
	for e := range emails {
		w := bruteUnits(without(records, func(r Record) bool { return r.Email == e }), lics, p)
		if w < units {
			adv.Users = append(adv.Users, UserSaving{Email: e, Saves: units - w, UnitsWithout: w})
		}
	}
	slices.SortFunc(adv.Users, func(a, b UserSaving) int { return cmp.Or(cmp.Compare(b.Saves, a.Saves), cmp.Compare(a.Email, b.Email)) })
	adv.Users = adv.Users[:min(len(adv.Users), MaxAdvisedUsers)]
	left, rest := slices.Clone(candidates), records
	adv.Plan.UnitsAfter = units
	for range available {
		best, bestUnits := "", adv.Plan.UnitsAfter
		for _, e := range left {
			if w := bruteUnits(without(rest, func(r Record) bool { return r.Email == e }), lics, p); w < bestUnits {
				best, bestUnits = e, w
			}
		}
		if best == "" {
			break
		}
		adv.Plan.Assign = append(adv.Plan.Assign, best)
		adv.Plan.UnitsAfter = bestUnits
		left = slices.DeleteFunc(left, func(e string) bool { return e == best })
		rest = without(rest, func(r Record) bool { return r.Email == best })
	}
	return adv, true
}

// rule G11: on random usage in country pools, with leaks, the advice equals
// a brute-force reading of G11 that counts every "units without" afresh
// from the records.
func TestRuleG11MatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 17))
	countries := []events.Country{"DE", "FR", ""}
	p := Period{Year: 2026, Month: 10}
	checked := 0
	for round := range 150 {
		var records []Record
		for i := range 1 + rng.IntN(70) {
			start := p.Start().Add(-time.Hour).Add(time.Duration(rng.Int64N(int64(30 * time.Hour))))
			if rng.IntN(3) == 0 {
				start = start.Truncate(Interval)
			}
			records = append(records, Record{UsageID: fmt.Sprint("u", i), MachineID: fmt.Sprint("m", rng.IntN(9)),
				Email: fmt.Sprintf("e%d@x", rng.IntN(7)), Country: countries[rng.IntN(len(countries))], Leak: rng.IntN(6) == 0,
				StartedAt: start, EndedAt: start.Add(time.Duration(rng.Int64N(int64(4 * time.Hour)))), Seq: uint64(i + 1)})
		}
		var lics []Licence
		for i := range rng.IntN(3) {
			lics = append(lics, Licence{ID: fmt.Sprint("C", i), Country: countries[rng.IntN(len(countries))], Seats: 1 + rng.IntN(2),
				ValidFrom: p.Start().Add(time.Duration(rng.IntN(20)) * time.Hour), ValidUntil: p.End()})
		}
		var candidates []string
		for e := range 8 {
			if rng.IntN(2) == 0 {
				candidates = append(candidates, fmt.Sprintf("e%d@x", e))
			}
		}
		available := rng.IntN(4)
		got, ok := Advise("p", records, lics, p, candidates, available)
		want, wantOK := bruteAdvice(records, lics, p, candidates, available)
		if ok != wantOK || !reflect.DeepEqual(got, want) {
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(want)
			t.Fatalf("round %d: got %v %s\nwant %v %s", round, ok, g, wantOK, w)
		}
		if ok {
			checked++
		}
	}
	if checked < 50 {
		t.Errorf("only %d rounds had units: the test proves little", checked)
	}
}

// rule G11: a worked case. Four machines over one seat: 3 units. ana alone
// on m1, and on m2 from an old client while she held a practitioner licence
// (the leak); bob on m2 too, and alone on m3; cy alone on m4. Each saves 1
// unit; the leak saves none (bob keeps m2 counted). With two licences free
// and ana and bob able to take one, the plan takes ana (the tie's smallest
// email), then bob, who now alone keeps m2 and m3: 0 units after.
func TestRuleG11Worked(t *testing.T) {
	p := Period{Year: 2026, Quarter: 4}
	t0 := p.Start().Add(10 * time.Hour)
	r := func(id, email, machine string, leak bool) Record {
		return Record{UsageID: id, Email: email, MachineID: machine, StartedAt: t0, EndedAt: t0.Add(Interval), Leak: leak}
	}
	records := []Record{r("1", "ana@x", "m1", false), r("2", "ana@x", "m2", true), r("3", "bob@x", "m2", false),
		r("4", "bob@x", "m3", false), r("5", "cy@x", "m4", false)}
	lics := []Licence{{ID: "C", Seats: 1, ValidFrom: p.Start(), ValidUntil: p.End()}}
	got, ok := Advise("p", records, lics, p, []string{"ana@x", "bob@x"}, 2)
	want := ProductAdvice{Product: "p", Units: 3, Leak: Leak{Records: 1, UnitsWithout: 3},
		Users: []UserSaving{{"ana@x", 1, 2}, {"bob@x", 1, 2}, {"cy@x", 1, 2}},
		Plan:  Plan{LicencesAvailable: 2, Assign: []string{"ana@x", "bob@x"}, UnitsAfter: 0}}
	if !ok || !reflect.DeepEqual(got, want) {
		t.Errorf("advice %+v\nwant %+v", got, want)
	}
	// Nothing billed: no advice.
	if _, ok := Advise("p", records[:1], lics, p, nil, 1); ok {
		t.Error("advice for a product without units")
	}
}
