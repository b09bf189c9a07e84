package projections

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/entledger/ledger/billing"
	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
)

// Billing keys:
//
//	pk/<account>/<product>/<started_at>\x00<usage id>   a pooled usage record: seq, ended_at, voided seq, flags, country, email, machine
//	pp/<account>/<product>                              the product has pooled usage
//
// started_at and ended_at are Unix nanoseconds, 8 bytes big endian, so the
// records of a product are in started_at order. Only records classified
// pooled are kept (F5): practitioner and trial use is never billed. A
// record is written once, when its usage id is first recorded (F2), with
// the stream sequence of its event, so that a report can be computed from
// the events at or below any sequence (G6).

func pooledUsagePrefix(account, product string) []byte {
	return []byte("pk/" + account + "/" + product + "/")
}

func pooledUsageKey(account, product string, started time.Time, usageID string) []byte {
	k := binary.BigEndian.AppendUint64(pooledUsagePrefix(account, product), uint64(started.UnixNano()))
	return append(append(k, 0), usageID...)
}

func pooledProductKey(account, product string) []byte { return []byte("pp/" + account + "/" + product) }

func accountKey(account string) []byte { return []byte("ac/" + account) }

// thresholdKey is present while a product has a threshold (G8):
// th/<account>/<product>.
func thresholdKey(account, product string) []byte { return []byte("th/" + account + "/" + product) }

// pooledUsageValue encodes a pk/ entry: the record's sequence, its end, the
// sequence of its usage.voided event (0: counts), a byte of flags
// (flagLeak), its country (a length byte, 0 for none, and the code, G9), its
// email (a uvarint length and the email, G11) and its machine (the rest).
func pooledUsageValue(seq uint64, ended time.Time, voided uint64, flags byte, country, email, machine string) []byte {
	v := make([]byte, 0, pooledFixed+1+len(country)+binary.MaxVarintLen16+len(email)+len(machine))
	v = binary.BigEndian.AppendUint64(v, seq)
	v = binary.BigEndian.AppendUint64(v, uint64(ended.UnixNano()))
	v = binary.BigEndian.AppendUint64(v, voided)
	v = append(v, flags, byte(len(country)))
	v = append(v, country...)
	v = binary.AppendUvarint(v, uint64(len(email)))
	v = append(v, email...)
	return append(v, machine...)
}

// pooledFixed is the length of a pk/ value's fixed part: three sequences
// and times, and the flags.
const pooledFixed = 25

// flagLeak marks a pooled record of an email that held, at its started_at,
// a practitioner licence active then and covering the product, used from a
// client older than commands.MinPractitionerVersion (F4): use the licence
// would have covered with a newer client (G11's leak).
const flagLeak = 1

// pooledUsageFields splits a pk/ value's variable part; ok is false for a
// value pooledUsageValue did not write.
func pooledUsageFields(v []byte) (country, email, machine []byte, ok bool) {
	if len(v) < pooledFixed+1 {
		return nil, nil, nil, false
	}
	rest := v[pooledFixed:]
	n := int(rest[0])
	if len(rest) < 1+n {
		return nil, nil, nil, false
	}
	country, rest = rest[1:1+n], rest[1+n:]
	m, k := binary.Uvarint(rest)
	if k <= 0 || uint64(len(rest)-k) < m {
		return nil, nil, nil, false
	}
	return country, rest[k : k+int(m)], rest[k+int(m):], true
}

// voidPooledUsage marks a voided record's billing entry with the sequence
// of its usage.voided event: reports as of an earlier sequence still count
// it, later ones do not (H1, G6).
func (a *applier) voidPooledUsage(account, usageID string, k commands.KnownUsage) error {
	a.noteBilling(account)
	var flags byte
	if k.Leak {
		flags |= flagLeak
	}
	return a.b.Set(pooledUsageKey(account, k.Product, k.StartedAt, usageID),
		pooledUsageValue(k.Seq, k.EndedAt, a.seq, flags, k.Country, k.Email, k.MachineID), nil)
}

// indexPooledUsage records a pooled usage record for billing; leak says it
// is G11's leak (flagLeak).
func (a *applier) indexPooledUsage(account string, u events.UsageRecorded, leak bool) error {
	var flags byte
	if leak {
		flags |= flagLeak
	}
	v := pooledUsageValue(a.seq, u.EndedAt, 0, flags, string(u.Country), u.Email, u.MachineID)
	if err := a.b.Set(pooledUsageKey(account, u.Product, u.StartedAt, u.UsageID), v, nil); err != nil {
		return err
	}
	a.noteBilling(account)
	if err := a.queueAlertChecks(account, u); err != nil {
		return err
	}
	key := pooledProductKey(account, u.Product)
	if seen, err := a.getKV(key); err != nil || seen != nil {
		return err
	}
	return a.setKV(key, []byte{1})
}

// practitionerLeak reports whether a pooled record is G11's leak (flagLeak),
// from the user's holdings and the licence as the events applied so far
// tell them: the state the record was classified against (F4).
func (a *applier) practitionerLeak(account string, u events.UsageRecorded) (bool, error) {
	if v, err := commands.ParseVersion("client_version", u.ClientVersion); err != nil || v.Compare(commands.MinPractitionerVersion) >= 0 {
		return false, nil
	}
	st, err := a.peek(events.AggregateUser, events.UserSubject(account, u.Email))
	if err != nil {
		return false, err
	}
	id := st.(*commands.User).HeldAt(u.StartedAt)
	if id == "" {
		return false, nil
	}
	st, err = a.peek(events.AggregateLicense, events.LicenseSubject(account, id))
	if err != nil {
		return false, err
	}
	lic := st.(*commands.License)
	return lic.ActiveAt(u.StartedAt) && slices.Contains(lic.Products, u.Product), nil
}

// peek returns an aggregate's state after the events applied so far,
// without taking it into the run (which would write it back).
func (a *applier) peek(aggregate, subject string) (stateValue, error) {
	if r, ok := a.aggs[subject]; ok {
		if r.value != nil {
			return r.value, nil
		}
		return decodeState(aggregate, r.State)
	}
	raw, err := get(a.db, aggKey(subject))
	if err != nil {
		return nil, err
	}
	var r record
	if raw != nil {
		if err := r.unmarshal(raw); err != nil {
			return nil, fmt.Errorf("aggregate %s: %w", subject, err)
		}
	}
	return decodeState(aggregate, r.State)
}

// PooledUsage returns the pooled usage records of (account, product) that
// may count in [from, to) — those started in [from - the longest span a
// record may have, to) — recorded at or below stream sequence asOf (0: all),
// in started_at order.
func (s *Store) PooledUsage(account, product string, from, to time.Time, asOf uint64) ([]billing.Record, error) {
	var out []billing.Record
	err := s.EachPooled(account, product, from, to, asOf, WithUsageIDs|WithEmails, func(r billing.Record) { out = append(out, r) })
	return out, err
}

// PooledSpans is PooledUsage without the usage ids: the machines and times
// that counting needs, read with fewer allocations (a quarter may hold
// millions of records, on a few hundred machines).
func (s *Store) PooledSpans(account, product string, from, to time.Time, asOf uint64) ([]billing.Record, error) {
	var out []billing.Record
	err := s.EachPooled(account, product, from, to, asOf, WithEmails, func(r billing.Record) { out = append(out, r) })
	return out, err
}

// PooledFields are the strings of a pooled record a read fills besides its
// machine and country.
type PooledFields uint8

const (
	WithUsageIDs PooledFields = 1 << iota // the evidence of an interval (G7)
	WithEmails                            // whose records they are (G11)
)

// EachPooled calls fn with each record PooledUsage returns, in the same
// order, with the strings fields asks for, without keeping them: a count of
// a quarter need not hold its million records at once.
func (s *Store) EachPooled(account, product string, from, to time.Time, asOf uint64, fields PooledFields, fn func(billing.Record)) error {
	release, err := s.read()
	if err != nil {
		return err
	}
	defer release()
	lo := binary.BigEndian.AppendUint64(pooledUsagePrefix(account, product), uint64(max(0, from.Add(-commands.MaxUsageSpan).UnixNano())))
	hi := binary.BigEndian.AppendUint64(pooledUsagePrefix(account, product), uint64(max(0, to.UnixNano())))
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return fmt.Errorf("projections: pooled usage: %w", err)
	}
	names := map[string]string{} // one string per machine, email and country, however many records
	intern := func(b []byte) string {
		s, ok := names[string(b)]
		if !ok {
			s = string(b)
			names[s] = s
		}
		return s
	}
	n := len(pooledUsagePrefix(account, product))
	for ok := it.First(); ok; ok = it.Next() {
		k, v := it.Key(), it.Value()
		country, email, machine, ok := pooledUsageFields(v)
		if len(k) < n+9 || !ok {
			it.Close()
			return fmt.Errorf("projections: pooled usage: corrupt entry %q", k)
		}
		seq, voided := binary.BigEndian.Uint64(v), binary.BigEndian.Uint64(v[16:])
		if asOf > 0 && seq > asOf {
			continue
		}
		if voided != 0 && (asOf == 0 || voided <= asOf) {
			continue // voided at or before the report's sequence (H1)
		}
		r := billing.Record{
			Leak:      v[24]&flagLeak != 0,
			MachineID: intern(machine),
			StartedAt: time.Unix(0, int64(binary.BigEndian.Uint64(k[n:]))).UTC(),
			EndedAt:   time.Unix(0, int64(binary.BigEndian.Uint64(v[8:]))).UTC(),
			Seq:       seq,
		}
		if len(country) > 0 {
			r.Country = events.Country(intern(country))
		}
		if fields&WithEmails != 0 {
			r.Email = intern(email)
		}
		if fields&WithUsageIDs != 0 {
			r.UsageID = string(k[n+9:])
		}
		fn(r)
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("projections: pooled usage: %w", err)
	}
	return nil
}

// BillingProducts returns the products of the account that have pooled usage
// or a commercial or trial licence, sorted.
func (s *Store) BillingProducts(account string) ([]string, error) {
	used, err := s.keysAfter([]byte("pp/" + account + "/"))
	if err != nil {
		return nil, err
	}
	licensed, err := s.keysAfter(append(append([]byte{}, prefixPooled...), account+"/"...))
	if err != nil {
		return nil, err
	}
	out := used
	for _, k := range licensed { // <product>/<licence id>
		product, _, _ := strings.Cut(k, "/")
		out = append(out, product)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Accounts returns the ids of every account, sorted.
func (s *Store) Accounts() ([]string, error) { return s.AccountsAsOf(0) }

// AccountsAsOf returns the ids of the accounts created at or below stream
// sequence asOf (0: all), sorted.
func (s *Store) AccountsAsOf(asOf uint64) ([]string, error) {
	var out []string
	err := s.eachKey([]byte("ac/"), func(rest string, v []byte) {
		if asOf == 0 || len(v) != 8 || binary.BigEndian.Uint64(v) <= asOf {
			out = append(out, rest)
		}
	})
	return out, err
}

// keysAfter returns the rest of every key with prefix, in key order.
func (s *Store) keysAfter(prefix []byte) ([]string, error) {
	var out []string
	err := s.eachKey(prefix, func(rest string, _ []byte) { out = append(out, rest) })
	return out, err
}

// eachKey calls fn with the rest and the value of every key with prefix, in
// key order.
func (s *Store) eachKey(prefix []byte, fn func(rest string, value []byte)) error {
	release, err := s.read()
	if err != nil {
		return err
	}
	defer release()
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return fmt.Errorf("projections: %w", err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		fn(string(it.Key()[len(prefix):]), it.Value())
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("projections: %w", err)
	}
	return nil
}

// CommercialLicences returns the commercial licences covering product as
// they stood after the events at or below stream sequence asOf (0: now),
// for billing (G2).
func (s *Store) CommercialLicences(account, product string, asOf uint64) ([]billing.Licence, error) {
	lics, err := s.Pooled(account, product)
	if err != nil {
		return nil, err
	}
	var out []billing.Licence
	for _, now := range lics {
		if now.Kind != events.KindCommercial {
			continue
		}
		hist, err := s.History(events.LicenseSubject(account, now.ID))
		if err != nil {
			return nil, err
		}
		var lic commands.License
		var seq uint64
		for _, h := range hist {
			if asOf > 0 && h.Seq > asOf {
				break
			}
			e, err := events.Unmarshal(h.Event)
			if err != nil {
				return nil, fmt.Errorf("projections: licence %s: %w", now.ID, err)
			}
			lic.Apply(e)
			seq = h.Seq
		}
		if lic.Exists() {
			out = append(out, billing.Licence{ID: lic.ID, Country: events.Country(lic.Country), Seats: lic.Seats,
				ValidFrom: lic.ValidFrom, ValidUntil: lic.ValidUntil, Seq: seq})
		}
	}
	return out, nil
}

// BillingVersion is the stream sequence of the last event this store applied,
// since it was opened, that changes what billing reads in account (0: none
// since it was opened). A report computed when it was v is still true while
// it is v.
func (s *Store) BillingVersion(account string) uint64 {
	s.billing.Lock()
	defer s.billing.Unlock()
	return s.billing.seq[account]
}

// noteBilling merges the billing sequences of a committed run.
func (s *Store) noteBilling(run map[string]uint64) {
	if len(run) == 0 {
		return
	}
	s.billing.Lock()
	defer s.billing.Unlock()
	if s.billing.seq == nil {
		s.billing.seq = map[string]uint64{}
	}
	for account, seq := range run {
		s.billing.seq[account] = seq
	}
}
