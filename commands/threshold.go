package commands

import (
	"slices"
	"time"

	"github.com/entledger/ledger/events"
)

// SetThreshold asks to be alerted when more than MaxMachines machines are in
// pooled use of a product (G4, G8).
type SetThreshold struct {
	Account     string
	Product     string
	MaxMachines int
	At          time.Time
}

// Normalize validates the command.
func (c SetThreshold) Normalize() (SetThreshold, error) {
	if err := AccountID("account", c.Account); err != nil {
		return c, err
	}
	if err := ProductID("product", c.Product); err != nil {
		return c, err
	}
	if c.MaxMachines < 0 || c.MaxMachines > events.MaxThreshold {
		return c, Invalid("max_machines", "%d; want 0 to %d (alert when more machines than this are in pooled use)",
			c.MaxMachines, events.MaxThreshold)
	}
	return c, nil
}

// Decide sets the product's threshold; setting the one in force changes
// nothing.
func (c SetThreshold) Decide(log AlertLog, now time.Time) ([]events.Event, error) {
	if log.Set && log.MaxMachines == c.MaxMachines {
		return nil, nil
	}
	at, err := businessTime(c.At, now, log.LastEventAt)
	if err != nil {
		return nil, err
	}
	return []events.Event{event(c.Account, c.Product, at, events.ThresholdSet{Product: c.Product, MaxMachines: c.MaxMachines})}, nil
}

// ClearThreshold removes a product's threshold (G8).
type ClearThreshold struct {
	Account string
	Product string
	At      time.Time
}

// Normalize validates the command.
func (c ClearThreshold) Normalize() (ClearThreshold, error) {
	if err := AccountID("account", c.Account); err != nil {
		return c, err
	}
	return c, ProductID("product", c.Product)
}

// Decide clears the threshold; a product without one is not_found.
func (c ClearThreshold) Decide(log AlertLog, now time.Time) ([]events.Event, error) {
	if !log.Set {
		return nil, Reject(CodeNotFound, "product %q has no threshold in account %q", c.Product, c.Account).
			With("product", c.Product)
	}
	at, err := businessTime(c.At, now, log.LastEventAt)
	if err != nil {
		return nil, err
	}
	return []events.Event{event(c.Account, c.Product, at, events.ThresholdCleared{Product: c.Product})}, nil
}

// AlertLog is the state of a product's alert aggregate: the threshold in
// force, who set it when, and the UTC days already alerted.
type AlertLog struct {
	Product     string    `json:"product"`
	Set         bool      `json:"set"`
	MaxMachines int       `json:"max_machines"`
	SetAt       time.Time `json:"set_at"`
	SetBy       string    `json:"set_by"`
	LastEventAt time.Time `json:"last_event_at"`
	AlertedDays []string  `json:"alerted_days"` // sorted, YYYY-MM-DD
}

// Alerted reports whether day already has its alert (G4).
func (l AlertLog) Alerted(day string) bool {
	_, found := slices.BinarySearch(l.AlertedDays, day)
	return found
}

// Apply folds one event of the alert subject into the state.
func (l *AlertLog) Apply(e events.Event) {
	l.LastEventAt = e.OccurredAt
	switch d := e.Data.(type) {
	case events.ThresholdSet:
		l.Product, l.Set, l.MaxMachines, l.SetAt, l.SetBy = d.Product, true, d.MaxMachines, e.OccurredAt, e.Actor
	case events.ThresholdCleared:
		l.Product, l.Set, l.MaxMachines, l.SetAt, l.SetBy = d.Product, false, 0, time.Time{}, ""
	case events.ThresholdExceeded:
		if i, found := slices.BinarySearch(l.AlertedDays, d.Day); !found {
			l.AlertedDays = slices.Insert(l.AlertedDays, i, d.Day)
		}
	}
}

// Crossing is the first interval of a day found with more machines in
// pooled use than the threshold, and those machines, sorted.
type Crossing struct {
	IntervalStart time.Time
	Count         int
	Machines      []string
}

// RaiseAlert decides the alert of one (account, product, UTC day) (G4):
// one threshold.exceeded when a threshold is in force, the day has no alert
// yet, and over is the first interval of the day found over it (nil: none
// is). It is decided in stream order against the threshold in force, and
// nothing later repeats or changes an alert.
type RaiseAlert struct {
	Account string
	Product string
	Day     string // YYYY-MM-DD
}

// Decide raises the day's alert, or nothing.
func (c RaiseAlert) Decide(log AlertLog, over *Crossing, now time.Time) ([]events.Event, error) {
	if !log.Set || log.Alerted(c.Day) || over == nil || over.Count <= log.MaxMachines {
		return nil, nil
	}
	at, err := businessTime(time.Time{}, now, log.LastEventAt)
	if err != nil {
		return nil, err
	}
	return []events.Event{event(c.Account, c.Product, at, events.ThresholdExceeded{Product: c.Product, Day: c.Day,
		IntervalStart: over.IntervalStart.UTC(), Count: over.Count, MaxMachines: log.MaxMachines, Machines: over.Machines})}, nil
}
