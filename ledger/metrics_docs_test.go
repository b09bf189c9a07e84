package ledger_test

import (
	"bufio"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
)

// promQLWords are the identifiers of PromQL that are not metric names.
var promQLWords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	"and": true, "or": true, "unless": true, "bool": true, "offset": true, "inf": true, "nan": true,
}

var (
	promQLString = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'`)
	promQLGroups = regexp.MustCompile(`\{[^}]*\}|\[[^\]]*\]|\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promQLNumber = regexp.MustCompile(`(^|[^a-zA-Z0-9_:])\d[a-zA-Z0-9_.]*`) // 0.99, 5m, 1h30m
	promQLIdent  = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*\s*\(?`)
)

// metricNames returns the metric names expr reads: its identifiers outside
// strings, label matchers, ranges and grouping clauses that are neither
// functions, keywords nor numbers and durations.
func metricNames(expr string) []string {
	expr = promQLString.ReplaceAllString(expr, `""`)
	expr = promQLGroups.ReplaceAllString(expr, " ")
	expr = promQLNumber.ReplaceAllString(expr, "$1 ")
	var out []string
	for _, tok := range promQLIdent.FindAllString(expr, -1) {
		if strings.HasSuffix(tok, "(") {
			continue // a function or an aggregation
		}
		if tok = strings.TrimSpace(tok); !promQLWords[strings.ToLower(tok)] {
			out = append(out, tok)
		}
	}
	return out
}

// exists reports whether s has a sample of name; a histogram's samples are
// named with their _bucket, _sum and _count suffixes.
func (s scrape) exists(name string) bool {
	return s.names[name]
}

// checkExprs fails for every expression of file naming a metric a real
// scrape lacks, and for a file without expressions.
func checkExprs(t *testing.T, s scrape, file string, exprs []string) {
	t.Helper()
	if len(exprs) == 0 {
		t.Fatalf("%s: no expressions", file)
	}
	for _, e := range exprs {
		names := metricNames(e)
		if len(names) == 0 {
			t.Errorf("%s: %q names no metric", file, e)
		}
		for _, n := range names {
			if !s.exists(n) {
				t.Errorf("%s: %q names %s, which a running ledger does not export", file, e, n)
			}
		}
	}
}

// dashboardExprs reads the Grafana dashboard and returns its panels'
// query expressions.
func dashboardExprs(t *testing.T, path string) []string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []string
	for _, p := range d.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("%s: panel %q has no query", path, p.Title)
		}
		for _, tg := range p.Targets {
			out = append(out, tg.Expr)
		}
	}
	return out
}

// ruleExprs reads the alerting rules with a line-based reading of their
// YAML: a groups: key, and every "- alert:" followed by its expr: (and no
// second one before the next alert). It returns the rules' names and
// expressions.
func ruleExprs(t *testing.T, path string) (alerts, exprs []string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	groups, pending := false, ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "#") || line == "":
		case strings.Contains(sc.Text(), "\t"):
			t.Errorf("%s:%d: a tab (YAML indents with spaces)", path, n)
		case line == "groups:":
			groups = true
		case strings.HasPrefix(line, "- alert:"):
			if pending != "" {
				t.Errorf("%s:%d: alert %s has no expr", path, n, pending)
			}
			pending = strings.TrimSpace(strings.TrimPrefix(line, "- alert:"))
			alerts = append(alerts, pending)
		case strings.HasPrefix(line, "expr:"):
			if pending == "" {
				t.Errorf("%s:%d: an expr outside an alert", path, n)
			}
			exprs = append(exprs, strings.Trim(strings.TrimSpace(strings.TrimPrefix(line, "expr:")), `"'`))
			pending = ""
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if !groups || pending != "" {
		t.Errorf("%s: no groups: key, or alert %q without expr", path, pending)
	}
	return alerts, exprs
}

// docs/grafana-dashboard.json parses, every panel has a query, and every
// metric its queries name is exported by a running ledger after traffic.
func TestMetricsDashboardNamesRealMetrics(t *testing.T) {
	tl := useStart(t)
	metricsTraffic(tl)
	checkExprs(t, scrapeMetrics(tl), "grafana-dashboard.json", dashboardExprs(t, "../docs/grafana-dashboard.json"))
}

// docs/alerts.yml reads as rules that each have an expression, names the
// alerts docs/operations.md asks for, and every metric they name is
// exported by a running ledger.
func TestMetricsAlertRulesNameRealMetrics(t *testing.T) {
	tl := useStart(t)
	metricsTraffic(tl)
	alerts, exprs := ruleExprs(t, "../docs/alerts.yml")
	for _, want := range []string{"LedgerProjectionLagHigh", "LedgerIntegrityBreak", "LedgerHTTP5xx", "LedgerConflictsHigh", "LedgerNotReady"} {
		found := false
		for _, a := range alerts {
			found = found || a == want
		}
		if !found {
			t.Errorf("docs/alerts.yml has no alert %s (it has %v)", want, alerts)
		}
	}
	checkExprs(t, scrapeMetrics(tl), "alerts.yml", exprs)
}

// The PromQL reading the checks rely on finds the metric names, and only
// them.
func TestMetricsPromQLNames(t *testing.T) {
	for expr, want := range map[string]string{
		`histogram_quantile(0.99, sum by (route, le) (rate(a_bucket{code=~"5.."}[$__rate_interval])))`: "a_bucket",
		`x_total > 1000 or y_seconds > 60`:                                    "x_total y_seconds",
		`sum by (instance) (increase(z_total{kind="event"}[15m])) > 0`:        "z_total",
		`ledger_ready == 0`:                                                   "ledger_ready",
		`sum without (le) (rate(b_count[5m])) / ignoring (x) c_sum offset 5m`: "b_count c_sum",
	} {
		if got := strings.Join(metricNames(expr), " "); got != want {
			t.Errorf("metricNames(%q) = %q, want %q", expr, got, want)
		}
	}
}
