package main

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Flag values whose errors say what is expected. The flag package wraps a
// Set error as `invalid value "7x" for flag -session-ttl: <error>`, and
// fromEnv as `setting LEDGER_SESSION_TTL="7x": <error>`: both name the
// setting and the value, so the error only says what is wanted.

const day = 24 * time.Hour

var (
	errDuration      = errors.New("want a duration, e.g. 7d, 1d12h, 24h or 90m")
	errWholeNumber   = errors.New("want a whole number")
	errEmptyListItem = errors.New("an empty item; want one or more values separated by commas")
)

// durationValue is a time.Duration flag that also takes whole days: 7d,
// 35d, 1d12h, besides Go durations (24h, 90m, 500ms).
type durationValue time.Duration

func (d *durationValue) Set(s string) error {
	v, err := parseDuration(s)
	if err != nil {
		return err
	}
	*d = durationValue(v)
	return nil
}

func (d *durationValue) Get() any { return time.Duration(*d) }

// String prints whole days as days (7d, 1d12h) and shorter durations as Go
// does, without trailing zero units (90m prints 1h30m).
func (d *durationValue) String() string {
	if d == nil {
		return "0s"
	}
	return formatDuration(time.Duration(*d))
}

// durationFlag defines a duration flag that also takes days (7d). Name the
// type in usage with back quotes (a `duration`) to show it in the help.
func durationFlag(fs *flag.FlagSet, name string, value time.Duration, usage string) *time.Duration {
	p := new(time.Duration)
	durationVar(fs, p, name, value, usage)
	return p
}

// durationVar is durationFlag storing into p.
func durationVar(fs *flag.FlagSet, p *time.Duration, name string, value time.Duration, usage string) {
	*p = value
	fs.Var((*durationValue)(p), name, usage)
}

// parseDuration parses a Go duration, or whole days followed by an optional
// Go duration: 7d, -7d, 1d12h, 2d30m.
func parseDuration(s string) (time.Duration, error) {
	days, rest, ok := strings.Cut(s, "d")
	if !ok {
		v, err := time.ParseDuration(s)
		if err != nil {
			return 0, errDuration
		}
		return v, nil
	}
	neg := strings.HasPrefix(days, "-")
	if neg || strings.HasPrefix(days, "+") {
		days = days[1:]
	}
	n, err := strconv.ParseUint(days, 10, 63)
	if err != nil || n > math.MaxInt64/uint64(day) {
		return 0, errDuration
	}
	v := time.Duration(n) * day
	if rest != "" {
		if rest[0] == '-' || rest[0] == '+' {
			return 0, errDuration
		}
		r, err := time.ParseDuration(rest)
		if err != nil || r > math.MaxInt64-v {
			return 0, errDuration
		}
		v += r
	}
	if neg {
		v = -v
	}
	return v, nil
}

// formatDuration is the inverse of parseDuration.
func formatDuration(v time.Duration) string {
	if v < 0 {
		if v == math.MinInt64 { // -v would overflow
			return v.String()
		}
		return "-" + formatDuration(-v)
	}
	var s string
	if v >= day {
		s = strconv.FormatInt(int64(v/day), 10) + "d"
		if v %= day; v == 0 {
			return s
		}
	}
	r := v.String()
	if strings.HasSuffix(r, "m0s") {
		r = r[:len(r)-2]
	}
	if strings.HasSuffix(r, "h0m") {
		r = r[:len(r)-2]
	}
	return s + r
}

// intValue is an int flag whose error says a whole number is wanted.
type intValue int

func (i *intValue) Set(s string) error {
	v, err := strconv.ParseInt(s, 0, strconv.IntSize)
	if err != nil {
		return errWholeNumber
	}
	*i = intValue(v)
	return nil
}

func (i *intValue) Get() any { return int(*i) }

func (i *intValue) String() string {
	if i == nil {
		return "0"
	}
	return strconv.Itoa(int(*i))
}

// intFlag defines an int flag whose error says a whole number is wanted.
// Name the type in usage with back quotes (`n`) to show it in the help.
func intFlag(fs *flag.FlagSet, name string, value int, usage string) *int {
	p := new(int)
	intVar(fs, p, name, value, usage)
	return p
}

// intVar is intFlag storing into p.
func intVar(fs *flag.FlagSet, p *int, name string, value int, usage string) {
	*p = value
	fs.Var((*intValue)(p), name, usage)
}

// listValue is a flag that may be given more than once, each time with one
// value or several separated by commas: --public-name a --public-name b,c.
// From the environment it is set once: LEDGER_PUBLIC_NAME=a,b,c.
type listValue []string

func (l *listValue) Set(s string) error {
	for v := range strings.SplitSeq(s, ",") {
		if v = strings.TrimSpace(v); v == "" {
			return errEmptyListItem
		}
		*l = append(*l, v)
	}
	return nil
}

func (l *listValue) Get() any { return []string(*l) }

func (l *listValue) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(*l, ",")
}

// listFlag defines a listValue flag.
func listFlag(fs *flag.FlagSet, name, usage string) *[]string {
	p := new([]string)
	fs.Var((*listValue)(p), name, usage)
	return p
}

// bytesValue is a size flag: a number with an optional unit, B, KiB, MiB,
// GiB (or KB, MB, GB in powers of 1000).
type bytesValue int64

var byteUnits = []struct {
	suffix string
	n      int64
}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}

func (b *bytesValue) Set(s string) error {
	v, err := parseBytes(s)
	if err != nil {
		return err
	}
	*b = bytesValue(v)
	return nil
}

func (b *bytesValue) String() string {
	if *b == 0 {
		return "0"
	}
	return strconv.FormatInt(int64(*b)>>20, 10) + "MiB"
}

// parseBytes reads a size such as 400MiB or 2GiB.
func parseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range byteUnits {
		if rest, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(rest), u.n
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size: want e.g. 400MiB or 2GiB", s)
	}
	return n * mult, nil
}

func bytesFlag(fs *flag.FlagSet, name string, usage string) *int64 {
	p := new(int64)
	fs.Var((*bytesValue)(p), name, usage)
	return p
}
