package projections

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/entledger/ledger/billing"
	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
)

// Thresholds and their alerts (G4, G8): the thresholds in force, the days
// of pooled use queued for a check against them, and the alerts raised.

// Thresholds returns the thresholds in force in the account, by product.
func (s *Store) Thresholds(account string) ([]commands.AlertLog, error) {
	products, err := s.keysAfter(thresholdKey(account, ""))
	if err != nil {
		return nil, err
	}
	out := make([]commands.AlertLog, 0, len(products))
	for _, p := range products {
		log, _, err := Load[commands.AlertLog](s, events.AlertSubject(account, p))
		if err != nil {
			return nil, err
		}
		if log.Set {
			out = append(out, log)
		}
	}
	return out, nil
}

// Alert keys:
//
//	aq/<account>/<product>/<day>   a UTC day to check against the product's threshold: seq, max_machines
//	al/<account>/<day>/<product>   the day's alert (G4): JSON Alert
//
// A pooled record applied while its product has a threshold queues the days
// its counted intervals fall on, with its sequence; so does a threshold set,
// for its own day. The ledger's alerter checks the queued days and raises an
// alert for each that has crossed; the alert's event removes the day from
// the queue. Both are derived from the stream alone, so a rebuilt store holds
// the same.

func alertCheckKey(account, product, day string) []byte {
	return []byte("aq/" + account + "/" + product + "/" + day)
}

func alertKey(account, day, product string) []byte {
	return []byte("al/" + account + "/" + day + "/" + product)
}

// queueAlertChecks queues the days a pooled record counts on, if its
// product has a threshold in force at this point of the stream.
func (a *applier) queueAlertChecks(account string, u events.UsageRecorded) error {
	first, end := billing.Counted(u.StartedAt, u.EndedAt)
	if !first.Before(end) {
		return nil // it counts nowhere
	}
	th, err := a.threshold(account, u.Product)
	if err != nil || !th.Set {
		return err
	}
	last := end.Add(-billing.Interval)
	for d := first.Truncate(24 * time.Hour); !d.After(last); d = d.Add(24 * time.Hour) {
		if err := a.queueAlertCheck(account, u.Product, d.Format(time.DateOnly), th.MaxMachines); err != nil {
			return err
		}
	}
	return nil
}

// queueAlertCheck queues day with the threshold in force at this point of
// the stream: the alerter decides it against that threshold, and only while
// it is still the one in force, so a day checked under one threshold is
// never alerted later under another (after a restart, say).
func (a *applier) queueAlertCheck(account, product, day string, max int) error {
	v := binary.BigEndian.AppendUint64(nil, a.seq)
	v = binary.BigEndian.AppendUint64(v, uint64(max))
	return a.b.Set(alertCheckKey(account, product, day), v, nil)
}

// threshold is the product's threshold after the events applied so far.
func (a *applier) threshold(account, product string) (commands.AlertLog, error) {
	subject := events.AlertSubject(account, product)
	if r, ok := a.aggs[subject]; ok { // changed in this run
		if r.value != nil {
			return *r.value.(*commands.AlertLog), nil
		}
		st, err := decodeState(events.AggregateAlert, r.State)
		if err != nil {
			return commands.AlertLog{}, err
		}
		return *st.(*commands.AlertLog), nil
	}
	if th, ok := a.thresholds[subject]; ok {
		return th, nil
	}
	raw, err := get(a.db, aggKey(subject))
	if err != nil {
		return commands.AlertLog{}, err
	}
	var th commands.AlertLog
	if raw != nil {
		var r record
		if err := r.unmarshal(raw); err != nil {
			return th, err
		}
		st, err := decodeState(events.AggregateAlert, r.State)
		if err != nil {
			return th, err
		}
		th = *st.(*commands.AlertLog)
	}
	if a.thresholds == nil {
		a.thresholds = map[string]commands.AlertLog{}
	}
	a.thresholds[subject] = th
	return th, nil
}

// Alert is one raised alert (G4, G8).
type Alert struct {
	Product       string    `json:"product"`
	Day           string    `json:"day"`
	IntervalStart time.Time `json:"interval_start"`
	Count         int       `json:"count"`
	MaxMachines   int       `json:"max_machines"`
	Machines      []string  `json:"machines"`
	Seq           uint64    `json:"seq"`
}

func (a *applier) indexAlert(e events.Event, d events.ThresholdExceeded) error {
	if err := a.b.Delete(alertCheckKey(e.Account, d.Product, d.Day), nil); err != nil {
		return err
	}
	return putJSON(a.b, alertKey(e.Account, d.Day, d.Product), Alert{Product: d.Product, Day: d.Day,
		IntervalStart: d.IntervalStart, Count: d.Count, MaxMachines: d.MaxMachines, Machines: d.Machines, Seq: a.seq})
}

// AlertCheck is a queued day to check against a product's threshold.
type AlertCheck struct {
	Account, Product, Day string
	Seq                   uint64 // the last event that queued it
	MaxMachines           int    // the threshold in force when it did
}

// AlertChecks returns the queued days, in key order.
func (s *Store) AlertChecks() ([]AlertCheck, error) {
	release, err := s.read()
	if err != nil {
		return nil, err
	}
	defer release()
	prefix := []byte("aq/")
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, fmt.Errorf("projections: alert checks: %w", err)
	}
	var out []AlertCheck
	for ok := it.First(); ok; ok = it.Next() {
		parts := strings.SplitN(string(it.Key()[len(prefix):]), "/", 3)
		v := it.Value()
		if len(parts) != 3 || len(v) != 16 {
			continue
		}
		out = append(out, AlertCheck{Account: parts[0], Product: parts[1], Day: parts[2], Seq: binary.BigEndian.Uint64(v),
			MaxMachines: int(binary.BigEndian.Uint64(v[8:]))})
	}
	if err := it.Close(); err != nil {
		return nil, fmt.Errorf("projections: alert checks: %w", err)
	}
	return out, nil
}

// Alerts returns the account's alerts of the UTC days in [fromDay, toDay]
// (YYYY-MM-DD), by day then product.
func (s *Store) Alerts(account, fromDay, toDay string) ([]Alert, error) {
	release, err := s.read()
	if err != nil {
		return nil, err
	}
	defer release()
	lo, hi := alertKey(account, fromDay, ""), alertKey(account, toDay+"\xff", "")
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return nil, fmt.Errorf("projections: alerts: %w", err)
	}
	out := []Alert{}
	for ok := it.First(); ok; ok = it.Next() {
		var al Alert
		if err := json.Unmarshal(it.Value(), &al); err != nil {
			it.Close()
			return nil, fmt.Errorf("projections: alert %s: %w", it.Key(), err)
		}
		out = append(out, al)
	}
	if err := it.Close(); err != nil {
		return nil, fmt.Errorf("projections: alerts: %w", err)
	}
	return out, nil
}
