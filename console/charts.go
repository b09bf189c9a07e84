package console

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strings"
	"time"

	"github.com/entledger/ledger/api"
	"github.com/entledger/ledger/billing"
)

// The charts are inline SVG, drawn here: no script, no library. Each has a
// <title> and a <desc> that say what it shows in words, and the page gives
// its numbers as a table beside it. Colours come from the stylesheet's
// classes, so the SVG carries no style attribute (the page's CSP allows
// none).

// svgText escapes text for SVG.
func svgText(s string) string { return html.EscapeString(s) }

// milestone is one step of a licence's timeline.
type milestone struct {
	Label   string
	At      time.Time
	Past    bool
	Current bool // the stretch that began at this step is the one at the page's time
}

// licenceTimeline draws a practitioner licence's window and lock (C2, C3)
// as three stretches, the window, the lock and free movement after it,
// with a mark at the time at. The stretches are drawn to a fixed share of
// the bar, not to scale: a 24-hour window beside 30 days would be a sliver.
//
// Now (past false), the current stretch is the licence's lock_state as the
// API answered it, not a reading of the times: a licence taken from a
// removed user is locked until locked_until even while its window would
// be open (A4). As of a past time (past true) the API's lock_state is the
// one at that time too, and the mark is "then".
func licenceTimeline(l api.LicenseView, at time.Time, past bool) (template.HTML, []milestone) {
	if l.Kind != "practitioner" || l.WindowOpenedAt == nil || l.WindowClosesAt == nil || l.LockedUntil == nil {
		return "", nil
	}
	opened, closes, until := *l.WindowOpenedAt, *l.WindowClosesAt, *l.LockedUntil
	ms := []milestone{
		{Label: "Window opened: the licence can be moved freely", At: opened},
		{Label: "Window closes: the licence is locked", At: closes},
		{Label: "Lock ends: the licence can be moved again", At: until},
	}
	stage := 0 // the index of the current stretch's first step, -1 before it
	switch {
	case at.Before(opened):
		stage = -1
	case at.Before(closes):
		stage = 0
	case at.Before(until):
		stage = 1
	default:
		stage = 2
	}
	early := false // locked before the window's end: its assignee was removed (A4)
	switch l.LockState {
	case "window_open":
		stage = 0
	case "locked":
		early = stage < 1
		stage = 1
	}
	if early {
		ms[1].Label += " (locked already: its assignee was removed while the window was open, and nobody else " +
			"may have it before the lock ends, A4)"
	}
	for i := range ms {
		ms[i].Past = !at.Before(ms[i].At)
		ms[i].Current = i == stage
	}
	const w, window, lock = 600.0, 150.0, 360.0
	frac := func(from, to time.Time) float64 {
		if !to.After(from) {
			return 1
		}
		return math.Max(0, math.Min(1, float64(at.Sub(from))/float64(to.Sub(from))))
	}
	var x float64
	var now string
	switch stage {
	case -1:
		x, now = 0, "before the window opened"
	case 0:
		x, now = window*frac(opened, closes), "in the window, which closes "+showTime(closes)
	case 1:
		x, now = window+lock*frac(closes, until), "locked, until "+showTime(until)
		if early {
			now += " (its assignee was removed while the window was open, A4)"
		}
	default:
		x, now = window+lock+45, "after the lock, which ended "+showTime(until)
	}
	mark := "now"
	if past {
		mark = "then"
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="timeline" viewBox="0 0 %g 64" role="img" aria-labelledby="tl-title tl-desc">`, w)
	fmt.Fprintf(&b, `<title id="tl-title">Timeline of licence %s</title>`, svgText(l.ID))
	fmt.Fprintf(&b, `<desc id="tl-desc">Window open from %s to %s, then locked until %s. At %s: %s.</desc>`,
		svgText(showTime(opened)), svgText(showTime(closes)), svgText(showTime(until)), svgText(showTime(at)), svgText(now))
	fmt.Fprintf(&b, `<rect class="tl-window" x="0" y="8" width="%g" height="28"/>`, window)
	fmt.Fprintf(&b, `<rect class="tl-lock" x="%g" y="8" width="%g" height="28"/>`, window, lock)
	fmt.Fprintf(&b, `<rect class="tl-free" x="%g" y="8" width="%g" height="28"/>`, window+lock, w-window-lock)
	fmt.Fprintf(&b, `<text class="tl-label" x="%g" y="27" text-anchor="middle">window, 24 h</text>`, window/2)
	fmt.Fprintf(&b, `<text class="tl-label" x="%g" y="27" text-anchor="middle">locked, 30 days</text>`, window+lock/2)
	fmt.Fprintf(&b, `<text class="tl-label" x="%g" y="27" text-anchor="middle">free</text>`, window+lock+(w-window-lock)/2)
	fmt.Fprintf(&b, `<line class="tl-now" x1="%.1f" y1="2" x2="%.1f" y2="44"/>`, x, x)
	anchor := "middle"
	if x < 30 {
		anchor = "start"
	} else if x > w-30 {
		anchor = "end"
	}
	fmt.Fprintf(&b, `<text class="tl-nowlabel" x="%.1f" y="58" text-anchor="%s">%s</text>`, x, anchor, mark)
	b.WriteString(`</svg>`)
	return template.HTML(b.String()), ms
}

// niceMax is the smallest of 1, 2 or 5 times a power of ten at or above v
// (at least 1): the top of a chart's scale.
func niceMax(v float64) float64 {
	if v <= 1 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

// chart geometry: the plot's box inside the viewBox.
const (
	chartW, chartH             = 720.0, 260.0
	plotL, plotR, plotT, plotB = 48.0, 712.0, 26.0, 228.0
)

// axes draws the y scale (0, half, top) with grid lines, and labels under
// the x axis.
func axes(b *strings.Builder, top float64, unit string, xLabels [3]string) {
	for _, f := range []float64{0, 0.5, 1} {
		y := plotB - f*(plotB-plotT)
		fmt.Fprintf(b, `<line class="grid" x1="%g" y1="%.1f" x2="%g" y2="%.1f"/>`, plotL, y, plotR, y)
		fmt.Fprintf(b, `<text class="axis" x="%g" y="%.1f" text-anchor="end">%s</text>`, plotL-6, y+4, svgText(trimFloat(f*top)))
	}
	fmt.Fprintf(b, `<text class="axis" x="4" y="12">%s</text>`, svgText(unit))
	for i, anchor := range []string{"start", "middle", "end"} {
		x := plotL + float64(i)*(plotR-plotL)/2
		fmt.Fprintf(b, `<text class="axis" x="%.1f" y="%g" text-anchor="%s">%s</text>`, x, chartH-12, anchor, svgText(xLabels[i]))
	}
}

// trimFloat shows a number without needless decimals.
func trimFloat(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.2f", v), "0"), ".")
}

// dayUse is one product's use on one UTC day, as the usage summary gives
// it (F5).
type dayUse struct {
	Day                         string
	Pooled, Practitioner, Trial useTotals
}

// useTotals are one classification's totals of a day.
type useTotals struct {
	Sessions int     `json:"sessions"`
	Hours    float64 `json:"hours"`
	Users    int     `json:"users"`
	Machines int     `json:"machines"`
}

// dailyChart draws pooled against practitioner hours per day, every day of
// [from, to] (days without use are empty), two bars a day.
func dailyChart(product string, days []dayUse, from, to time.Time) template.HTML {
	byDay := map[string]dayUse{}
	top, pooled, practitioner := 0.0, 0.0, 0.0
	for _, d := range days {
		byDay[d.Day] = d
		top = math.Max(top, math.Max(d.Pooled.Hours, d.Practitioner.Hours))
		pooled += d.Pooled.Hours
		practitioner += d.Practitioner.Hours
	}
	n := int(to.Sub(from).Hours()/24) + 1
	if n < 1 || n > 400 {
		return ""
	}
	top = niceMax(top)
	var b strings.Builder
	id := "daily-" + svgText(product)
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %g %g" role="img" aria-labelledby="%s-t %s-d">`, chartW, chartH, id, id)
	fmt.Fprintf(&b, `<title id="%s-t">%s: pooled and practitioner hours per day</title>`, id, svgText(product))
	fmt.Fprintf(&b, `<desc id="%s-d">From %s to %s: %s pooled hours and %s practitioner hours in all; the busiest day had %s hours of one kind.</desc>`,
		id, from.Format(dayLayout), to.Format(dayLayout), trimFloat(pooled), trimFloat(practitioner), trimFloat(top))
	axes(&b, top, "hours", [3]string{from.Format(dayLayout), from.AddDate(0, 0, n/2).Format(dayLayout), to.Format(dayLayout)})
	slot := (plotR - plotL) / float64(n)
	bar := math.Max(slot*0.4, 0.5)
	height := func(v float64) float64 { return v / top * (plotB - plotT) }
	for i := range n {
		d, ok := byDay[from.AddDate(0, 0, i).Format(dayLayout)]
		if !ok {
			continue
		}
		x := plotL + float64(i)*slot + slot*0.1
		if h := height(d.Pooled.Hours); h > 0 {
			fmt.Fprintf(&b, `<rect class="s-pooled" x="%.2f" y="%.2f" width="%.2f" height="%.2f"/>`, x, plotB-h, bar, h)
		}
		if h := height(d.Practitioner.Hours); h > 0 {
			fmt.Fprintf(&b, `<rect class="s-practitioner" x="%.2f" y="%.2f" width="%.2f" height="%.2f"/>`, x+bar, plotB-h, bar, h)
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// peakChart draws a product's 10-minute series of machines in pooled use
// (G1) in [from, to) against the seats active at each interval, with the
// intervals above the seats marked.
func peakChart(product string, points []billing.Point, from, to time.Time) template.HTML {
	span := to.Sub(from)
	if span <= 0 {
		return ""
	}
	top, peak, over := 0.0, billing.Point{}, 0
	for _, p := range points {
		top = math.Max(top, float64(max(p.Count, p.Seats)))
		if p.Count > peak.Count {
			peak = p
		}
		if p.Over > 0 {
			over++
		}
	}
	top = niceMax(top)
	x := func(t time.Time) float64 { return plotL + float64(t.Sub(from))/float64(span)*(plotR-plotL) }
	y := func(v int) float64 { return plotB - float64(v)/top*(plotB-plotT) }
	var b strings.Builder
	id := "peaks-" + svgText(product)
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %g %g" role="img" aria-labelledby="%s-t %s-d">`, chartW, chartH, id, id)
	fmt.Fprintf(&b, `<title id="%s-t">%s: machines in pooled use per 10 minutes, against seats</title>`, id, svgText(product))
	desc := fmt.Sprintf("From %s to %s: no pooled use.", showTime(from), showTime(to))
	if len(points) > 0 {
		desc = fmt.Sprintf("From %s to %s: %d intervals with pooled use; the most machines, %d, at %s with %d seats; %d intervals above the seats.",
			showTime(from), showTime(to), len(points), peak.Count, showTime(peak.Start), peak.Seats, over)
	}
	fmt.Fprintf(&b, `<desc id="%s-d">%s</desc>`, id, svgText(desc))
	mid := from.Add(span / 2)
	axes(&b, top, "machines", [3]string{showTime(from), showTime(mid), showTime(to)})
	width := math.Max(float64(10*time.Minute)/float64(span)*(plotR-plotL), 0.6)
	for _, p := range points {
		class := "s-pooled"
		if p.Over > 0 {
			class = "s-over"
		}
		fmt.Fprintf(&b, `<rect class="%s" x="%.2f" y="%.2f" width="%.2f" height="%.2f"/>`, class, x(p.Start), y(p.Count), width,
			plotB-y(p.Count))
	}
	if len(points) > 0 {
		var path strings.Builder
		fmt.Fprintf(&path, "M%.2f %.2f", x(points[0].Start), y(points[0].Seats))
		for _, p := range points[1:] {
			fmt.Fprintf(&path, "H%.2fV%.2f", x(p.Start), y(p.Seats))
		}
		fmt.Fprintf(&path, "H%.2f", x(points[len(points)-1].Start)+width)
		fmt.Fprintf(&b, `<path class="s-seats" d="%s"/>`, path.String())
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
