package billing

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Period is what a term licence report covers (G10): a calendar quarter
// (2026-Q4) or, for subscribers billed monthly, a calendar month
// (2026-11). The zero Period is no period.
type Period struct {
	Year int
	// Quarter is 1 to 4 for a quarter, 0 for a month.
	Quarter int
	// Month is 1 to 12 for a month, 0 for a quarter.
	Month int
}

// QuarterOf is the quarter t falls in (UTC).
func QuarterOf(t time.Time) Period {
	t = t.UTC()
	return Period{Year: t.Year(), Quarter: (int(t.Month())-1)/3 + 1}
}

// MonthOf is the month t falls in (UTC).
func MonthOf(t time.Time) Period {
	t = t.UTC()
	return Period{Year: t.Year(), Month: int(t.Month())}
}

// PeriodError is a period that cannot be read, naming the query field it
// came from ("quarter" or "month").
type PeriodError struct {
	Field   string
	Message string
}

func (e *PeriodError) Error() string { return e.Field + ": " + e.Message }

// ParsePeriod reads the period of a report from its two spellings (G10):
// quarter "YYYY-Qn" or month "YYYY-MM", exactly one of them non-empty.
// It is the one reader of periods: the API, the billing run, the command
// line and the console all come through it.
func ParsePeriod(quarter, month string) (Period, error) {
	switch {
	case quarter != "" && month != "":
		return Period{}, &PeriodError{"month", "give quarter or month, not both"}
	case quarter != "":
		return parseQuarter(quarter)
	case month != "":
		return parseMonth(month)
	}
	return Period{}, &PeriodError{"quarter", "required: a quarter (quarter=2026-Q4) or a month (month=2026-11)"}
}

func parseQuarter(s string) (Period, error) {
	y, n, ok := strings.Cut(s, "-Q")
	year, err1 := strconv.Atoi(y)
	q, err2 := strconv.Atoi(n)
	if !ok || len(y) != 4 || len(n) != 1 || err1 != nil || err2 != nil || year < 1970 || q < 1 || q > 4 {
		return Period{}, &PeriodError{"quarter", fmt.Sprintf("%q is not a quarter; want YYYY-Qn, e.g. 2026-Q4", s)}
	}
	return Period{Year: year, Quarter: q}, nil
}

func parseMonth(s string) (Period, error) {
	y, n, ok := strings.Cut(s, "-")
	year, err1 := strconv.Atoi(y)
	m, err2 := strconv.Atoi(n)
	if !ok || len(y) != 4 || len(n) != 2 || err1 != nil || err2 != nil || year < 1970 || m < 1 || m > 12 {
		return Period{}, &PeriodError{"month", fmt.Sprintf("%q is not a month; want YYYY-MM, e.g. 2026-11", s)}
	}
	return Period{Year: year, Month: m}, nil
}

// IsMonth reports whether the period is a month.
func (p Period) IsMonth() bool { return p.Month != 0 }

// Field is the query field that names the period: "quarter" or "month".
func (p Period) Field() string {
	if p.IsMonth() {
		return "month"
	}
	return "quarter"
}

// String is the period as ParsePeriod reads it: 2026-Q4 or 2026-11.
func (p Period) String() string {
	if p.IsMonth() {
		return fmt.Sprintf("%04d-%02d", p.Year, p.Month)
	}
	return fmt.Sprintf("%04d-Q%d", p.Year, p.Quarter)
}

// Start is the period's first instant.
func (p Period) Start() time.Time {
	if p.IsMonth() {
		return time.Date(p.Year, time.Month(p.Month), 1, 0, 0, 0, 0, time.UTC)
	}
	return time.Date(p.Year, time.Month(3*p.Quarter-2), 1, 0, 0, 0, 0, time.UTC)
}

// End is the first instant after the period.
func (p Period) End() time.Time {
	if p.IsMonth() {
		return p.Start().AddDate(0, 1, 0)
	}
	return p.Start().AddDate(0, 3, 0)
}
