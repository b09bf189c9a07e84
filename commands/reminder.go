package commands

import (
	"time"

	"github.com/entledger/ledger/events"
)

// RemindUnassigned emits the reminder of one practitioner licence for one
// UTC day (G5, C7).
type RemindUnassigned struct {
	Account   string
	LicenseID string
	Day       string // YYYY-MM-DD, the day of now
}

// Decide reminds, once per licence and day, of an active practitioner
// licence that is unassigned now; anything else appends nothing.
func (c RemindUnassigned) Decide(log ReminderLog, lic License, now time.Time) ([]events.Event, error) {
	if log.LastDay >= c.Day || lic.Kind != events.KindPractitioner || lic.Assignee != "" || !lic.ActiveAt(now) {
		return nil, nil
	}
	at, err := businessTime(time.Time{}, now, log.LastEventAt)
	if err != nil {
		return nil, err
	}
	return []events.Event{event(c.Account, c.LicenseID, at, events.UnassignedReminder{LicenseID: c.LicenseID, Day: c.Day,
		Since: lic.UnassignedSince.UTC(), AssignableFrom: lic.AssignableFrom(now).UTC()})}, nil
}

// ReminderLog is the state of a licence's reminder aggregate: the last day
// reminded.
type ReminderLog struct {
	LastDay     string    `json:"last_day"`
	LastEventAt time.Time `json:"last_event_at"`
}

// Apply folds one event of the reminder subject into the state.
func (l *ReminderLog) Apply(e events.Event) {
	l.LastEventAt = e.OccurredAt
	if d, ok := e.Data.(events.UnassignedReminder); ok && d.Day > l.LastDay {
		l.LastDay = d.Day
	}
}
