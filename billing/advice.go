package billing

import (
	"cmp"
	"slices"

	"github.com/entledger/ledger/events"
)

// Advice is how an account could have paid less in a period (G11): per
// product billed units, the practitioner use billed as pooled because of an
// old client (the leak), the users whose pooled use cost the most, and a
// plan for the practitioner licences nobody holds.
type Advice struct {
	Account  string          `json:"account"`
	Quarter  string          `json:"quarter,omitempty"`
	Month    string          `json:"month,omitempty"`
	AsOfSeq  uint64          `json:"as_of_seq"`
	Products []ProductAdvice `json:"products"`
}

// NewAdvice is the advice of account for period p, without products yet.
func NewAdvice(account string, p Period, asOf uint64) Advice {
	r := NewReport(account, p, asOf)
	return Advice{Account: account, Quarter: r.Quarter, Month: r.Month, AsOfSeq: asOf, Products: []ProductAdvice{}}
}

// ProductAdvice is one product's advice: only products billed units > 0
// have one.
type ProductAdvice struct {
	Product string       `json:"product"`
	Units   int          `json:"units"`
	Leak    Leak         `json:"leak"`
	Users   []UserSaving `json:"users"`
	Plan    Plan         `json:"plan"`
}

// Leak is the pooled use, counted in the period, of emails that held a
// practitioner licence active then and covering the product, from a client
// older than 10.00.18 (F4): Records of them, and the units the period
// would have cost had they been practitioner use.
type Leak struct {
	Records      int `json:"records"`
	UnitsWithout int `json:"units_without"`
}

// UserSaving is what one email's pooled use of the product cost: the units
// without its records, and the units it saves (units − units_without).
type UserSaving struct {
	Email        string `json:"email"`
	Saves        int    `json:"saves"`
	UnitsWithout int    `json:"units_without"`
}

// Plan is G11's greedy plan: which emails to give the practitioner
// licences available, in order, and the units left after.
type Plan struct {
	LicencesAvailable int      `json:"licences_available"`
	Assign            []string `json:"assign"`
	UnitsAfter        int      `json:"units_after"`
}

// MaxAdvisedUsers is the most users an advice lists per product (G11).
const MaxAdvisedUsers = 20

// Advise computes one product's advice for period p from the records and
// commercial licences of the report (G9), or ok false when the product
// bills no units. candidates are the emails that could be given a
// practitioner licence now, sorted; available is how many licences covering
// the product are free now (G11).
//
// Every "units without" comes from one count of the period: the machines of
// each country pool per interval, and for each (country, machine, interval)
// the one email (or the leak) whose records alone put the machine there.
// Taking an email's records away lowers exactly those counts, so each
// candidate costs the intervals it alone fills, not a count from records.
// The plan counts again after each email it takes.
func Advise(product string, records []Record, lics []Licence, p Period, candidates []string, available int) (ProductAdvice, bool) {
	lo, hi := slot(p.Start()), slot(p.End())
	counted := countedIn(records, lo, hi)
	pc := newPeriodCounts(counted, lics, lo, hi)
	units := pc.units()
	if units == 0 {
		return ProductAdvice{}, false
	}
	adv := ProductAdvice{Product: product, Units: units, Users: []UserSaving{}, Plan: Plan{LicencesAvailable: available, Assign: []string{}}}

	for _, r := range counted {
		if r.Leak {
			adv.Leak.Records++
		}
	}
	leaked := soleCover(counted, pc, func(r Record) string {
		if r.Leak {
			return "leak"
		}
		return ""
	})
	adv.Leak.UnitsWithout = pc.unitsWithout(leaked["leak"])

	byEmail := soleCover(counted, pc, func(r Record) string { return r.Email })
	for email, cover := range byEmail {
		if without := pc.unitsWithout(cover); without < units {
			adv.Users = append(adv.Users, UserSaving{Email: email, Saves: units - without, UnitsWithout: without})
		}
	}
	slices.SortFunc(adv.Users, func(a, b UserSaving) int {
		return cmp.Or(cmp.Compare(b.Saves, a.Saves), cmp.Compare(a.Email, b.Email))
	})
	adv.Users = adv.Users[:min(len(adv.Users), MaxAdvisedUsers)]

	adv.Plan.UnitsAfter = units
	left := slices.Clone(candidates)
	for range available {
		best, bestUnits := -1, adv.Plan.UnitsAfter
		for i, email := range left { // sorted: on a tie the smallest email stays
			if without := pc.unitsWithout(byEmail[email]); without < bestUnits {
				best, bestUnits = i, without
			}
		}
		if best < 0 {
			break // nobody left lowers the units
		}
		taken := left[best]
		adv.Plan.Assign = append(adv.Plan.Assign, taken)
		adv.Plan.UnitsAfter = bestUnits
		left = slices.Delete(left, best, best+1)
		counted = slices.DeleteFunc(counted, func(r Record) bool { return r.Email == taken })
		pc = newPeriodCounts(counted, lics, lo, hi)
		byEmail = soleCover(counted, pc, func(r Record) string { return r.Email })
	}
	return adv, true
}

// countedIn returns the records that count in at least one interval of
// slots [lo, hi) (G1), in a new slice.
func countedIn(records []Record, lo, hi int64) []Record {
	var out []Record
	for _, r := range records {
		if max(slotAfter(r.StartedAt), lo) < min(slotAfter(r.EndedAt), hi) {
			out = append(out, r)
		}
	}
	return out
}

// periodCounts are a period's intervals under G9: per country the machines
// counted and the seats, the global seats, and each interval's over.
type periodCounts struct {
	t      tally
	index  map[events.Country]int32 // tally country index
	seats  [][]int32                // [country][slot − lo]: the country's own seats
	global []int32                  // [slot − lo]: global seats
	over   []int32                  // [slot − lo]: G9's over
	order  []int32                  // slots with use, by over descending
	// scratch for unitsWithout
	delta   [][]int32
	mark    []uint32
	stamp   uint32
	touched []int32
}

func newPeriodCounts(records []Record, lics []Licence, lo, hi int64) *periodCounts {
	t := countMachines(records, lo, hi, byCountry)
	n := int(hi - lo)
	pc := &periodCounts{t: t, index: map[events.Country]int32{}, seats: make([][]int32, len(t.countries)),
		global: make([]int32, n), over: make([]int32, n), delta: make([][]int32, len(t.countries)), mark: make([]uint32, n)}
	for c, country := range t.countries {
		pc.index[country] = int32(c)
		pc.seats[c] = make([]int32, n)
		pc.delta[c] = make([]int32, n)
	}
	book := newSeatBook(lics, t.countries)
	for s := lo; s < hi; s++ {
		start, i := slotStart(s), s-lo
		for j, l := range lics {
			if !l.activeAt(start) {
				continue
			}
			switch c := book.pool[j]; {
			case c == -1:
				pc.global[i] += int32(l.Seats)
			case c >= 0:
				pc.seats[c][i] += int32(l.Seats)
			}
		}
		count := int32(0)
		for c := range t.countries {
			count += t.n[c][i]
		}
		if count > 0 {
			pc.over[i] = pc.overWith(int(i))
			pc.order = append(pc.order, int32(i))
		}
	}
	slices.SortStableFunc(pc.order, func(a, b int32) int { return cmp.Compare(pc.over[b], pc.over[a]) })
	return pc
}

// overWith is the over of interval i with delta's machines taken away.
func (pc *periodCounts) overWith(i int) int32 {
	short := int32(0)
	for c := range pc.t.countries {
		short += max(0, pc.t.n[c][i]-pc.delta[c][i]-pc.seats[c][i])
	}
	return max(0, short-pc.global[i])
}

// units are the period's units: its greatest over (G9).
func (pc *periodCounts) units() int {
	if len(pc.order) == 0 {
		return 0
	}
	return int(pc.over[pc.order[0]])
}

// cover is a span of intervals [a, b) (slots − lo) in which one machine of
// country c is counted because of one owner's records alone.
type cover struct{ c, a, b int32 }

// unitsWithout is the period's units with the machines of cover taken
// away from their intervals: the intervals cover touches are counted again,
// the others keep their over.
func (pc *periodCounts) unitsWithout(cov []cover) int {
	if len(cov) == 0 {
		return pc.units()
	}
	pc.stamp++
	pc.touched = pc.touched[:0]
	for _, cv := range cov {
		for i := cv.a; i < cv.b; i++ {
			if pc.mark[i] != pc.stamp {
				pc.mark[i] = pc.stamp
				pc.touched = append(pc.touched, i)
			}
			pc.delta[cv.c][i]++
		}
	}
	best := int32(0)
	for _, i := range pc.touched {
		best = max(best, pc.overWith(int(i)))
		for c := range pc.delta {
			pc.delta[c][i] = 0
		}
	}
	for _, i := range pc.order { // the greatest over among intervals cover leaves alone
		if pc.mark[i] != pc.stamp {
			best = max(best, pc.over[i])
			break
		}
	}
	return int(best)
}

// soleCover finds, for each owner of records (owner(r); "" owns nothing),
// the intervals in which a machine of a country pool is counted because of
// that owner's records alone: without them the machine would not be
// counted there. records all count in the period of pc.
func soleCover(records []Record, pc *periodCounts, owner func(Record) string) map[string][]cover {
	type key struct {
		country events.Country
		machine string
	}
	type span struct {
		owner string
		a, b  int64
	}
	lo, hi := pc.t.lo, pc.t.hi
	groups := map[key][]span{}
	for _, r := range records {
		a, b := max(slotAfter(r.StartedAt), lo), min(slotAfter(r.EndedAt), hi)
		if a < b {
			k := key{r.Country, r.MachineID}
			groups[k] = append(groups[k], span{owner(r), a - lo, b - lo})
		}
	}
	out := map[string][]cover{}
	type edge struct {
		at    int64
		owner string
		delta int
	}
	var edges []edge
	for k, spans := range groups {
		c := pc.index[k.country]
		// One owner's spans merged, so that owners, not records, are counted.
		slices.SortFunc(spans, func(x, y span) int { return cmp.Or(cmp.Compare(x.owner, y.owner), cmp.Compare(x.a, y.a)) })
		edges = edges[:0]
		cur := spans[0]
		for _, s := range spans[1:] {
			if s.owner == cur.owner && s.a <= cur.b {
				cur.b = max(cur.b, s.b)
				continue
			}
			edges = append(edges, edge{cur.a, cur.owner, 1}, edge{cur.b, cur.owner, -1})
			cur = s
		}
		edges = append(edges, edge{cur.a, cur.owner, 1}, edge{cur.b, cur.owner, -1})
		slices.SortFunc(edges, func(x, y edge) int { return cmp.Compare(x.at, y.at) })
		active := map[string]int{}
		for i := 0; i < len(edges); {
			at := edges[i].at
			for ; i < len(edges) && edges[i].at == at; i++ {
				if active[edges[i].owner] += edges[i].delta; active[edges[i].owner] == 0 {
					delete(active, edges[i].owner)
				}
			}
			if len(active) != 1 || i == len(edges) {
				continue
			}
			for o := range active {
				if o != "" {
					out[o] = append(out[o], cover{c, int32(at), int32(edges[i].at)})
				}
			}
		}
	}
	return out
}
