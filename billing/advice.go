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
// bills no units; see Advisor.
func Advise(product string, records []Record, lics []Licence, p Period, candidates []string, available int) (ProductAdvice, bool) {
	a := NewAdvisor(p)
	for _, r := range records {
		a.Add(r)
	}
	return a.Advise(product, lics, candidates, available)
}

// Advisor computes a product's advice (G11) from records given one at a
// time, keeping of each only what advice reads: its machine and country,
// its email, its intervals and whether it is the leak.
//
// Every "units without" comes from one count of the period: the machines
// of each country pool per interval and, for each machine of a pool, the
// intervals in which one email alone (or the leak alone) puts it there.
// Taking an email's records away lowers exactly those counts, so each
// candidate costs the intervals it alone fills, not a count from records.
// When the plan takes an email, only the machines that email used are
// counted again.
type Advisor struct {
	lo, hi  int64
	groupOf map[machineKey]int32
	groups  []machineKey // by group id
	ownerOf map[string]int32
	owners  []string // emails by owner id; 0 is nobody
	recs    []adviceRecord
}

// adviceRecord is a record as the advice reads it: its (country, machine)
// group, its email, its slots [a, b) less the period's first, the leak.
type adviceRecord struct {
	group, owner, a, b int32
	leak               bool
}

// NewAdvisor is an Advisor of period p.
func NewAdvisor(p Period) *Advisor {
	return &Advisor{lo: slot(p.Start()), hi: slot(p.End()), groupOf: map[machineKey]int32{}, ownerOf: map[string]int32{},
		owners: []string{""}}
}

// Add takes one record into account, if it counts in the period (G1).
func (ad *Advisor) Add(r Record) {
	a, b := max(slotAfter(r.StartedAt), ad.lo), min(slotAfter(r.EndedAt), ad.hi)
	if a >= b {
		return
	}
	k := machineKey{r.Country, r.MachineID}
	g, ok := ad.groupOf[k]
	if !ok {
		g = int32(len(ad.groups))
		ad.groupOf[k] = g
		ad.groups = append(ad.groups, k)
	}
	o, ok := ad.ownerOf[r.Email]
	if !ok {
		o = int32(len(ad.owners))
		ad.ownerOf[r.Email] = o
		ad.owners = append(ad.owners, r.Email)
	}
	ad.recs = append(ad.recs, adviceRecord{group: g, owner: o, a: int32(a - ad.lo), b: int32(b - ad.lo), leak: r.Leak})
}

// Advise computes the advice of the records added, or ok false when they
// bill no units. candidates are the emails that could be given a
// practitioner licence now, sorted; available is how many licences
// covering the product are free now (G11).
func (ad *Advisor) Advise(product string, lics []Licence, candidates []string, available int) (ProductAdvice, bool) {
	slices.SortFunc(ad.recs, func(x, y adviceRecord) int { return cmp.Or(cmp.Compare(x.group, y.group), cmp.Compare(x.a, y.a)) })
	st := ad.newState(lics)
	units := st.units()
	if units == 0 {
		return ProductAdvice{}, false
	}
	adv := ProductAdvice{Product: product, Units: units, Users: []UserSaving{}, Plan: Plan{LicencesAvailable: available, Assign: []string{}}}

	var leak []cover
	for g := range st.groupRecs {
		recs := st.records(g)
		for _, r := range recs {
			if r.leak {
				adv.Leak.Records++
			}
		}
		_, sole := sweep(recs, st.country[g], func(r adviceRecord) int32 {
			if r.leak {
				return 1
			}
			return 2
		}, nil)
		for _, s := range sole {
			if s.owner == 1 {
				leak = append(leak, s.cover)
			}
		}
	}
	adv.Leak.UnitsWithout = st.unitsWithout(leak)

	byOwner := st.coversByOwner()
	for o, cov := range byOwner {
		if without := st.unitsWithout(cov); o > 0 && without < units {
			adv.Users = append(adv.Users, UserSaving{Email: ad.owners[o], Saves: units - without, UnitsWithout: without})
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
			if o, ok := ad.ownerOf[email]; ok {
				if without := st.unitsWithout(byOwner[o]); without < bestUnits {
					best, bestUnits = i, without
				}
			}
		}
		if best < 0 {
			break // nobody left lowers the units
		}
		taken := left[best]
		adv.Plan.Assign = append(adv.Plan.Assign, taken)
		adv.Plan.UnitsAfter = bestUnits
		left = slices.Delete(left, best, best+1)
		st.remove(ad.ownerOf[taken])
		byOwner = st.coversByOwner()
	}
	return adv, true
}

// cover is a span of intervals [a, b) (slots − lo) in which one machine of
// the pool of country c (an index of the state's countries) is counted.
type cover struct{ c, a, b int32 }

// ownedCover is a cover owed to one owner's records alone.
type ownedCover struct {
	owner int32
	cover
}

// sweep finds, among one machine's records sorted by a, the intervals it
// is counted in (union) and those in which one owner's records alone put
// it there (sole), skipping the records of removed owners. c is the pool
// the machine is counted in.
func sweep(recs []adviceRecord, c int32, owner func(adviceRecord) int32, removed []bool) (union []cover, sole []ownedCover) {
	type edge struct{ at, owner, delta int32 }
	var edges []edge
	open := map[int32][2]int32{} // per owner: its merged span so far
	for _, r := range recs {
		o := owner(r)
		if removed != nil && removed[o] {
			continue
		}
		if cur, ok := open[o]; ok && r.a <= cur[1] {
			open[o] = [2]int32{cur[0], max(cur[1], r.b)}
			continue
		} else if ok {
			edges = append(edges, edge{cur[0], o, 1}, edge{cur[1], o, -1})
		}
		open[o] = [2]int32{r.a, r.b}
	}
	for o, cur := range open {
		edges = append(edges, edge{cur[0], o, 1}, edge{cur[1], o, -1})
	}
	slices.SortFunc(edges, func(x, y edge) int { return cmp.Compare(x.at, y.at) })
	active, sum := int32(0), int32(0) // owners active and the sum of their ids: the one when active is 1
	for i := 0; i < len(edges); {
		at := edges[i].at
		for ; i < len(edges) && edges[i].at == at; i++ {
			active += edges[i].delta
			sum += edges[i].delta * edges[i].owner
		}
		if active == 0 || i == len(edges) {
			continue
		}
		next := edges[i].at
		if n := len(union); n > 0 && union[n-1].b == at {
			union[n-1].b = next
		} else {
			union = append(union, cover{c, at, next})
		}
		if active == 1 {
			sole = append(sole, ownedCover{sum, cover{c, at, next}})
		}
	}
	return union, sole
}

// adviceState is the period's intervals under G9 as the advice sees them:
// per country pool the machines counted and the seats, the global seats,
// each interval's over, and per machine the intervals its records fill.
type adviceState struct {
	ad        *Advisor
	countries []events.Country
	country   []int32   // by group: its pool's index in countries
	groupRecs [][2]int  // by group: its records' range in ad.recs
	n         [][]int32 // [country][slot − lo]: machines counted
	seats     [][]int32 // [country][slot − lo]: the country's own seats
	global    []int32   // [slot − lo]: global seats
	over      []int32   // [slot − lo]: G9's over
	order     []int32   // slots with use, by over descending
	union     [][]cover // by group: the intervals its machine is counted in
	sole      [][]ownedCover
	removed   []bool    // by owner: taken by the plan
	ownerGrps [][]int32 // by owner: the groups it has records in
	// scratch of unitsWithout
	delta   [][]int32
	mark    []uint32
	stamp   uint32
	touched []int32
}

func (ad *Advisor) newState(lics []Licence) *adviceState {
	n := int(ad.hi - ad.lo)
	st := &adviceState{ad: ad, removed: make([]bool, len(ad.owners)), ownerGrps: make([][]int32, len(ad.owners)),
		global: make([]int32, n), over: make([]int32, n), mark: make([]uint32, n)}
	seen := map[events.Country]bool{}
	for _, g := range ad.groups {
		if !seen[g.country] {
			seen[g.country] = true
			st.countries = append(st.countries, g.country)
		}
	}
	slices.SortFunc(st.countries, compareCountries)
	for range st.countries {
		st.n = append(st.n, make([]int32, n))
		st.seats = append(st.seats, make([]int32, n))
		st.delta = append(st.delta, make([]int32, n))
	}
	st.country = make([]int32, len(ad.groups))
	for g, k := range ad.groups {
		st.country[g] = int32(slices.Index(st.countries, k.country))
	}
	st.groupRecs = make([][2]int, len(ad.groups))
	for i := 0; i < len(ad.recs); {
		j, g := i, ad.recs[i].group
		for ; j < len(ad.recs) && ad.recs[j].group == g; j++ {
			if o := ad.recs[j].owner; len(st.ownerGrps[o]) == 0 || st.ownerGrps[o][len(st.ownerGrps[o])-1] != g {
				st.ownerGrps[o] = append(st.ownerGrps[o], g)
			}
		}
		st.groupRecs[g] = [2]int{i, j}
		i = j
	}
	book := newSeatBook(lics, st.countries)
	for i := range n {
		start := slotStart(ad.lo + int64(i))
		for j, l := range lics {
			if !l.activeAt(start) {
				continue
			}
			switch c := book.pool[j]; {
			case c == -1:
				st.global[i] += int32(l.Seats)
			case c >= 0:
				st.seats[c][i] += int32(l.Seats)
			}
		}
	}
	st.union, st.sole = make([][]cover, len(ad.groups)), make([][]ownedCover, len(ad.groups))
	for g := range ad.groups {
		st.recount(int32(g))
	}
	st.overs()
	return st
}

// records are group g's records, sorted by a.
func (st *adviceState) records(g int) []adviceRecord {
	r := st.groupRecs[g]
	return st.ad.recs[r[0]:r[1]]
}

// recount counts group g's machine again (without the removed owners):
// its intervals in the counts and the intervals each owner alone fills.
func (st *adviceState) recount(g int32) {
	for _, u := range st.union[g] {
		for i := u.a; i < u.b; i++ {
			st.n[u.c][i]--
		}
	}
	st.union[g], st.sole[g] = sweep(st.records(int(g)), st.country[g], func(r adviceRecord) int32 { return r.owner }, st.removed)
	for _, u := range st.union[g] {
		for i := u.a; i < u.b; i++ {
			st.n[u.c][i]++
		}
	}
}

// overs computes every interval's over and the intervals with use by over.
func (st *adviceState) overs() {
	st.order = st.order[:0]
	for i := range st.over {
		count := int32(0)
		for c := range st.countries {
			count += st.n[c][i]
		}
		st.over[i] = 0
		if count > 0 {
			st.over[i] = st.overWith(i)
			st.order = append(st.order, int32(i))
		}
	}
	slices.SortStableFunc(st.order, func(a, b int32) int { return cmp.Compare(st.over[b], st.over[a]) })
}

// overWith is the over of interval i with delta's machines taken away.
func (st *adviceState) overWith(i int) int32 {
	short := int32(0)
	for c := range st.countries {
		short += max(0, st.n[c][i]-st.delta[c][i]-st.seats[c][i])
	}
	return max(0, short-st.global[i])
}

// units are the period's units: its greatest over (G9).
func (st *adviceState) units() int {
	if len(st.order) == 0 {
		return 0
	}
	return int(st.over[st.order[0]])
}

// remove takes owner o's records away (the plan gave o a licence): the
// machines o used are counted again.
func (st *adviceState) remove(o int32) {
	st.removed[o] = true
	for _, g := range st.ownerGrps[o] {
		st.recount(g)
	}
	st.overs()
}

// coversByOwner gathers, per owner, the intervals it alone fills.
func (st *adviceState) coversByOwner() [][]cover {
	out := make([][]cover, len(st.ad.owners))
	for _, sole := range st.sole {
		for _, s := range sole {
			out[s.owner] = append(out[s.owner], s.cover)
		}
	}
	return out
}

// unitsWithout is the period's units with the machines of cov taken away
// from their intervals: the intervals cov touches are counted again, the
// others keep their over.
func (st *adviceState) unitsWithout(cov []cover) int {
	if len(cov) == 0 {
		return st.units()
	}
	st.stamp++
	st.touched = st.touched[:0]
	for _, cv := range cov {
		for i := cv.a; i < cv.b; i++ {
			if st.mark[i] != st.stamp {
				st.mark[i] = st.stamp
				st.touched = append(st.touched, i)
			}
			st.delta[cv.c][i]++
		}
	}
	best := int32(0)
	for _, i := range st.touched {
		best = max(best, st.overWith(int(i)))
		for c := range st.delta {
			st.delta[c][i] = 0
		}
	}
	for _, i := range st.order { // the greatest over among the intervals cov leaves alone
		if st.mark[i] != st.stamp {
			best = max(best, st.over[i])
			break
		}
	}
	return int(best)
}
