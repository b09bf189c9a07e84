package console

import (
	"fmt"
	"strings"
	"time"

	"github.com/entledger/ledger/events"
)

// timeLayout is how the console shows a time: to the minute, in UTC, as the
// ledger keeps it.
const timeLayout = "2006-01-02 15:04 UTC"

// showTime formats a time for a page ("" for the zero time).
func showTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeLayout)
}

// showTimePtr formats an optional time ("—" when unset).
func showTimePtr(t *time.Time) string {
	if t == nil {
		return "—"
	}
	return showTime(*t)
}

// apiTime parses a time of an API answer's details.
func apiTime(s string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}

// showAPITime formats a time of an API answer's details, as it came when
// it is not one.
func showAPITime(s string) string {
	if t, ok := apiTime(s); ok {
		return showTime(t)
	}
	return s
}

// duration says how long d is in days, hours, minutes and, under a day,
// seconds: "29 days 23 h 59 min", "23 h 59 min 58 s". assets/console.js
// writes the same words as it ticks.
func duration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	d = d.Truncate(time.Second)
	days := int(d / (24 * time.Hour))
	d -= time.Duration(days) * 24 * time.Hour
	h, m, s := int(d/time.Hour), int(d%time.Hour/time.Minute), int(d%time.Minute/time.Second)
	var parts []string
	if days > 0 {
		unit := "days"
		if days == 1 {
			unit = "day"
		}
		parts = append(parts, fmt.Sprintf("%d %s", days, unit))
	}
	if days > 0 || h > 0 {
		parts = append(parts, fmt.Sprintf("%d h", h))
	}
	parts = append(parts, fmt.Sprintf("%d min", m))
	if days == 0 {
		parts = append(parts, fmt.Sprintf("%d s", s))
	}
	return strings.Join(parts, " ")
}

// dayLayout is a UTC day as the API's day ranges take it.
const dayLayout = "2006-01-02"

// parseFormTime reads a time a person entered as UTC: a date-time input's
// value (2026-01-05T14:03, with or without seconds), or RFC 3339.
func parseFormTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", time.RFC3339Nano, "2006-01-02 15:04", dayLayout} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// hours says a whole number of hours ("12 hours"), or the duration as Go
// writes it when it is not one.
func hours(d time.Duration) string {
	if d%time.Hour != 0 {
		return d.String()
	}
	if d == time.Hour {
		return "1 hour"
	}
	return fmt.Sprintf("%d hours", d/time.Hour)
}

// countryName shows a pool's country: its code, or what none means (G9).
func countryName(c events.Country) string {
	if c == "" {
		return "no country"
	}
	return string(c)
}
