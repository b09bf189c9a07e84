package projections

import (
	"fmt"
	"sort"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
)

// Usage keys:
//
//	ud/<account>/<usage id>                              what was recorded under a usage id (F2): KnownUsage (codec.go)
//	us/<account>/<product>/<day>/<class>                 a day's usage summary: UsageTotals (codec.go)
//	uu/<account>/<product>/<day>/<class>/<email>         the users counted in it
//	um/<account>/<product>/<day>/<class>/<machine>       the machines counted in it
//	ul/<account>/<email>\x00<machine>                    the latest ended_at of the user's usage on a machine (D3)
//
// A record counts on the UTC day of its started_at.

func usageIDKey(account, id string) []byte { return []byte("ud/" + account + "/" + id) }

func lastUsageKey(account, email, machine string) []byte {
	return []byte("ul/" + account + "/" + email + "\x00" + machine)
}

func usageDayPrefix(account, product string) string { return "us/" + account + "/" + product + "/" }

// UsageTotals sums one (product, day, class).
type UsageTotals struct {
	Sessions int
	Seconds  int64
	Users    int
	Machines int
}

func (a *applier) indexUsage(e events.Event, u events.UsageRecorded) error {
	key := usageIDKey(e.Account, u.UsageID)
	prev, err := a.getKV(key)
	if err != nil {
		return err
	} else if prev != nil {
		return nil // recorded before: counted once, forever (F2)
	}
	k := commands.KnownUsage{Digest: u.Digest, Classification: u.Classification, LicenseID: u.LicenseID,
		CommandID: e.CommandID, Product: u.Product, Email: u.Email, MachineID: u.MachineID,
		StartedAt: u.StartedAt, EndedAt: u.EndedAt, Seq: a.seq, Country: string(u.Country)}
	if err := a.noteLastUsage(e.Account, u); err != nil {
		return err
	}
	if u.Classification == events.ClassPooled {
		if k.Leak, err = a.practitionerLeak(e.Account, u); err != nil {
			return err
		}
		if err := a.indexPooledUsage(e.Account, u, k.Leak); err != nil {
			return err
		}
	}
	if err := a.setKV(key, appendKnown(nil, k)); err != nil {
		return err
	}
	return a.countUsage(e.Account, k, 1)
}

// voidUsage applies a usage.voided event (H1): the record stays known (a
// resend is a duplicate), stops counting in its day's summary, and its
// billing entry says from which sequence it no longer counts.
func (a *applier) voidUsage(e events.Event, d events.UsageVoided) error {
	key := usageIDKey(e.Account, d.UsageID)
	raw, err := a.getKV(key)
	if err != nil || raw == nil {
		return err // never recorded: nothing to void
	}
	k, err := decodeKnown(raw)
	if err != nil {
		return fmt.Errorf("usage id %s: %w", key, err)
	}
	if k.VoidedSeq != 0 {
		return nil
	}
	k.VoidedSeq = a.seq
	if err := a.setKV(key, appendKnown(nil, k)); err != nil {
		return err
	}
	if k.Classification == events.ClassPooled {
		if err := a.voidPooledUsage(e.Account, d.UsageID, k); err != nil {
			return err
		}
	}
	return a.countUsage(e.Account, k, -1)
}

// countUsage adds a record to its day's summary (delta 1) or takes it out
// (delta -1). Users and machines are counted once a day however many records
// they have, by a presence key written with their first record; a voided
// record's user and machine stay counted (keeping a counter per user and
// machine would cost every record two more writes: the apply benchmark fell
// to 0.65x), while its session and hours are taken out.
func (a *applier) countUsage(account string, k commands.KnownUsage, delta int) error {
	day := k.StartedAt.UTC().Format(time.DateOnly)
	base := usageDayPrefix(account, k.Product) + day + "/" + k.Classification
	var tot UsageTotals
	if raw, err := a.getKV([]byte(base)); err != nil {
		return err
	} else if raw != nil {
		if tot, err = decodeTotals(raw); err != nil {
			return fmt.Errorf("usage totals %s: %w", base, err)
		}
	}
	tot.Sessions += delta
	tot.Seconds += int64(delta) * int64(k.EndedAt.Sub(k.StartedAt)/time.Second)
	for _, m := range []struct {
		key   string
		count *int
	}{{"uu" + base[2:] + "/" + k.Email, &tot.Users}, {"um" + base[2:] + "/" + k.MachineID, &tot.Machines}} {
		if delta < 0 {
			break
		}
		if v, err := a.getKV([]byte(m.key)); err != nil {
			return err
		} else if v == nil {
			*m.count++
			if err := a.setKV([]byte(m.key), []byte{1}); err != nil {
				return err
			}
		}
	}
	return a.setKV([]byte(base), appendTotals(nil, tot))
}

// KnownUsage returns what was recorded under each of ids (absent: never).
// It reads them in key order through one iterator: a batch holds up to a
// thousand ids, and almost none is known.
func (s *Store) KnownUsage(account string, ids []string) (map[string]commands.KnownUsage, error) {
	release, err := s.read()
	if err != nil {
		return nil, err
	}
	defer release()
	keys := make([][]byte, len(ids))
	for i, id := range ids {
		keys[i] = usageIDKey(account, id)
	}
	out := map[string]commands.KnownUsage{}
	err = lookupSorted(s.db, keys, func(key, raw []byte) error {
		k, err := decodeKnown(raw)
		if err != nil {
			return fmt.Errorf("projections: usage id %s: %w", key, err)
		}
		out[string(key[len(usageIDKey(account, "")):])] = k
		return nil
	})
	return out, err
}

// UsageDay is one product's usage on one UTC day, by classification.
type UsageDay struct {
	Product string
	Day     string // YYYY-MM-DD
	Totals  map[string]UsageTotals
}

// UsageSummary returns the account's usage per product and UTC day, for days
// in [from, to] (YYYY-MM-DD, inclusive), ordered by product then day.
func (s *Store) UsageSummary(account, from, to string) ([]UsageDay, error) {
	release, err := s.read()
	if err != nil {
		return nil, err
	}
	defer release()
	prefix := []byte("us/" + account + "/")
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, fmt.Errorf("projections: usage summary: %w", err)
	}
	var out []UsageDay
	for ok := it.First(); ok; ok = it.Next() {
		// us/<account>/<product>/<day>/<class>
		rest := string(it.Key()[len(prefix):])
		var product, day, class string
		if n, _ := fmt.Sscanf(splitSlash(rest), "%s %s %s", &product, &day, &class); n != 3 || day < from || day > to {
			continue
		}
		tot, err := decodeTotals(it.Value())
		if err != nil {
			it.Close()
			return nil, fmt.Errorf("projections: usage summary %s: %w", rest, err)
		}
		if len(out) == 0 || out[len(out)-1].Product != product || out[len(out)-1].Day != day {
			out = append(out, UsageDay{Product: product, Day: day, Totals: map[string]UsageTotals{}})
		}
		out[len(out)-1].Totals[class] = tot
	}
	if err := it.Close(); err != nil {
		return nil, err
	}
	// Keys sort '-' before '/', so "a-b" would precede "a": order by value.
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Product != out[j].Product {
			return out[i].Product < out[j].Product
		}
		return out[i].Day < out[j].Day
	})
	return out, nil
}

// splitSlash turns a/b/c into "a b c" for Sscanf; ids never hold spaces or slashes.
func splitSlash(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == '/' {
			b[i] = ' '
		}
	}
	return string(b)
}

// noteLastUsage keeps the latest ended_at of the user's usage per machine:
// usage keeps a sign-in session alive (D3).
func (a *applier) noteLastUsage(account string, u events.UsageRecorded) error {
	key := lastUsageKey(account, u.Email, u.MachineID)
	prev, err := a.getKV(key)
	if err != nil {
		return err
	}
	if prev != nil {
		var t time.Time
		if err := t.UnmarshalText(prev); err == nil && !u.EndedAt.After(t) {
			return nil
		}
	}
	raw, err := u.EndedAt.UTC().MarshalText()
	if err != nil {
		return err
	}
	return a.setKV(key, raw)
}

// LastUsage is the latest ended_at of email's usage on machine (zero if none).
func (s *Store) LastUsage(account, email, machine string) (time.Time, error) {
	release, err := s.read()
	if err != nil {
		return time.Time{}, err
	}
	defer release()
	raw, err := get(s.db, lastUsageKey(account, email, machine))
	if err != nil || raw == nil {
		return time.Time{}, err
	}
	var t time.Time
	return t, t.UnmarshalText(raw)
}
