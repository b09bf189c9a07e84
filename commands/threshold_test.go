package commands_test

import (
	"testing"
	"time"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
)

// rule G4: an alert is raised when the count exceeds the threshold (count >
// max, not >=), once per day, only while a threshold is in force; rule G8:
// thresholds are set and cleared by events, setting the same one again
// changes nothing.
func TestRuleG4RaiseAlert(t *testing.T) {
	now := time.Date(2026, 10, 5, 12, 0, 0, 0, time.UTC)
	set, err := commands.SetThreshold{Account: "acme", Product: "p", MaxMachines: 2}.Decide(commands.AlertLog{}, now)
	if err != nil || len(set) != 1 {
		t.Fatalf("set: %v %v", set, err)
	}
	var log commands.AlertLog
	log.Apply(set[0])
	if again, _ := (commands.SetThreshold{Account: "acme", Product: "p", MaxMachines: 2}).Decide(log, now); len(again) != 0 {
		t.Errorf("setting the threshold in force again: %v, want nothing", again)
	}
	c := commands.RaiseAlert{Account: "acme", Product: "p", Day: "2026-10-05"}
	at := time.Date(2026, 10, 5, 10, 0, 0, 0, time.UTC)
	cross := func(n int) *commands.Crossing {
		return &commands.Crossing{IntervalStart: at, Count: n, Machines: make([]string, n)}
	}
	if evs, _ := c.Decide(log, cross(2), now); len(evs) != 0 {
		t.Errorf("2 machines with a threshold of 2: %v, want no alert (exceeds is count > max)", evs)
	}
	if evs, _ := c.Decide(log, nil, now); len(evs) != 0 {
		t.Errorf("no crossing: %v, want no alert", evs)
	}
	evs, err := c.Decide(log, cross(3), now)
	if err != nil || len(evs) != 1 {
		t.Fatalf("3 machines with a threshold of 2: %v %v, want one alert", evs, err)
	}
	if d := evs[0].Data.(events.ThresholdExceeded); d.Day != "2026-10-05" || d.Count != 3 || d.MaxMachines != 2 || !d.IntervalStart.Equal(at) {
		t.Errorf("alert %+v", d)
	}
	log.Apply(evs[0])
	if again, _ := c.Decide(log, cross(9), now); len(again) != 0 {
		t.Errorf("the day's second crossing: %v, want nothing (once per day)", again)
	}
	if other, _ := (commands.RaiseAlert{Account: "acme", Product: "p", Day: "2026-10-06"}).Decide(log, cross(3), now); len(other) != 1 {
		t.Errorf("the next day: %v, want its own alert", other)
	}
	clr, _ := commands.ClearThreshold{Account: "acme", Product: "p"}.Decide(log, now)
	log.Apply(clr[0])
	if evs, _ := (commands.RaiseAlert{Account: "acme", Product: "p", Day: "2026-10-07"}).Decide(log, cross(9), now); len(evs) != 0 {
		t.Errorf("without a threshold: %v, want no alert", evs)
	}
	if _, err := (commands.ClearThreshold{Account: "acme", Product: "p"}).Decide(log, now); commands.CodeOf(err) != commands.CodeNotFound {
		t.Errorf("clearing twice: %v, want not_found", err)
	}
}
