package ledger_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
)

// scrape is one read of a ledger's /metrics in the text format.
type scrape struct {
	raw     []byte
	samples map[string]float64 // by the series as printed: name{labels}
	names   map[string]bool    // every sample's metric name
}

// sampleLine is one sample of the text format: name, labels, value.
var sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)`)

// labelPair is one label of a sample's braces.
var labelPair = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)

// scrapeMetrics reads tl's /metrics, which needs no token.
func scrapeMetrics(tl *testLedger) scrape {
	tl.tb.Helper()
	resp, err := http.Get(tl.base + "/metrics")
	if err != nil {
		tl.tb.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		tl.tb.Fatalf("/metrics: status %d, %v", resp.StatusCode, err)
	}
	s := scrape{raw: raw, samples: map[string]float64{}, names: map[string]bool{}}
	for _, line := range strings.Split(string(raw), "\n") {
		m := sampleLine.FindStringSubmatch(line)
		if m == nil || strings.HasPrefix(line, "#") {
			continue
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			tl.tb.Fatalf("/metrics: bad value in %q", line)
		}
		s.samples[m[1]+m[2]] = v
		s.names[m[1]] = true
	}
	return s
}

// labelValues returns every label value of the scrape.
func (s scrape) labelValues() []string {
	var out []string
	for series := range s.samples {
		for _, m := range labelPair.FindAllStringSubmatch(series, -1) {
			out = append(out, m[2])
		}
	}
	return out
}

// value is the sample of series (name{labels} as printed), failing the
// test if there is none.
func (s scrape) value(tb testing.TB, series string) float64 {
	tb.Helper()
	v, ok := s.samples[series]
	if !ok {
		tb.Fatalf("/metrics has no %s", series)
	}
	return v
}

// metricsTraffic sends tl (started by useStart) a little of everything the
// operator's metrics count, and returns the usage classifications the
// ledger answered, by class.
func metricsTraffic(tl *testLedger) map[string]float64 {
	tl.tb.Helper()
	tl.must(200, "PUT", useAcme+"/thresholds/revit", map[string]any{"max_machines": 1})
	at := useNow.Add(-3 * time.Hour)
	results := useAccepted(tl, 4, 0,
		useR("m-1", at, time.Hour),
		useR("m-2", at, time.Hour).set("product", "revit").set("machine_id", "r1"),
		useR("m-3", at, time.Hour).set("product", "revit").set("machine_id", "r2").set("email", "b@x.example"),
		useR("m-4", at, time.Hour).set("product", "openroads"))
	classes := map[string]float64{}
	for _, r := range results {
		classes[r["classification"].(string)]++
	}
	tl.must(200, "GET", useAcme+"/users/a@x.example", nil)
	tl.must(404, "GET", useAcme+"/users/nobody@x.example", nil)
	tl.must(404, "GET", "/v1/nowhere/acme/a@x.example", nil)
	return classes
}

// waitMetric scrapes tl until series reaches want (alerts are raised after
// the projections apply the usage), failing after a while.
func waitMetric(tl *testLedger, series string, want float64) {
	tl.tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s := scrapeMetrics(tl)
		if v, ok := s.samples[series]; ok && v >= want || time.Now().After(deadline) {
			if got := s.value(tl.tb, series); got != want {
				tl.tb.Fatalf("%s = %v, want %v", series, got, want)
			}
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		tl.srv.Store().WaitFor(ctx, tl.srv.Store().Checkpoint()+1)
		cancel()
	}
}

// A real ledger's /metrics, after traffic, passes promlint; no label value
// holds an account id or an email of the traffic; the operator's metrics
// count what the traffic did: usage by the classification the ledger
// answered, one alert, durations under the route pattern, publishes, and
// no lag once ready.
func TestMetricsScrapePassesPromlint(t *testing.T) {
	tl := useStart(t)
	classes := metricsTraffic(tl)
	waitMetric(tl, "ledger_threshold_alerts_total", 1)
	tl.waitReady()
	s := scrapeMetrics(tl)

	problems, err := promlint.New(bytes.NewReader(s.raw)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	for _, v := range s.labelValues() {
		if strings.Contains(v, "acme") || strings.Contains(v, "@") || strings.Contains(v, "x.example") {
			t.Errorf("label value %q names an account or an email of the traffic", v)
		}
	}
	for _, class := range []string{"pooled", "practitioner", "trial"} {
		if got := s.value(t, `ledger_usage_records_total{classification="`+class+`"}`); got != classes[class] {
			t.Errorf("usage records %s: %v, want %v (the ledger's answers)", class, got, classes[class])
		}
	}
	for _, route := range []string{"POST /v1/accounts/{account}/usage", "GET /v1/accounts/{account}/users/{email}", "unmatched"} {
		if got := s.value(t, `ledger_http_request_duration_seconds_count{route="`+route+`"}`); got < 1 {
			t.Errorf("%s: %v requests timed, want ≥ 1", route, got)
		}
	}
	if got := s.value(t, `ledger_jetstream_publish_duration_seconds_count{kind="batch"}`); got < 1 {
		t.Errorf("%v batch publishes timed, want ≥ 1", got)
	}
	if lag := s.value(t, "ledger_projection_lag_events"); lag != 0 {
		t.Errorf("ready, yet %v events of lag", lag)
	}
	if lag := s.value(t, "ledger_projection_lag_seconds"); lag != 0 {
		t.Errorf("ready, yet %v s of lag", lag)
	}
	if tip, cp := s.value(t, "ledger_stream_last_sequence"), s.value(t, "ledger_projection_checkpoint"); tip == 0 || tip != cp {
		t.Errorf("stream last sequence %v, checkpoint %v: want equal and > 0", tip, cp)
	}
	if s.value(t, "ledger_ready") != 1 {
		t.Error("ledger_ready is not 1 on a ready ledger")
	}
}

// Lost races are counted by command: after 16 clients assign one licence
// at once, the conflicts by command add up to ledger_append_conflicts_total,
// and every command that ran exports its conflicts and retries, retries
// never more than conflicts (a race lost on the last attempt is answered,
// not retried).
func TestMetricsConflictsByCommand(t *testing.T) {
	tl := startLedger(t, "", nil)
	const clients = 16
	emails := raceEmails("m-u", clients)
	raceAccount(tl, emails...)
	raceLicence(tl, "P0")
	urls, bodies := make([]string, clients), make([]any, clients)
	for i, e := range emails {
		urls[i], bodies[i] = tl.base+"/v1/accounts/acme/licenses/P0/assign", map[string]any{"email": e}
	}
	raceAll(tl, urls, bodies)
	s := scrapeMetrics(tl)
	var sum float64
	for series, v := range s.samples {
		command, ok := strings.CutPrefix(series, `ledger_command_conflicts_total{command="`)
		if !ok {
			continue
		}
		sum += v
		command = strings.TrimSuffix(command, `"}`)
		if r := s.value(t, `ledger_command_retries_total{command="`+command+`"}`); r > v {
			t.Errorf("%s: %v retries of %v lost races", command, r, v)
		}
	}
	if all := s.value(t, "ledger_append_conflicts_total"); sum != all {
		t.Errorf("lost races by command add up to %v, ledger_append_conflicts_total is %v", sum, all)
	}
	s.value(t, `ledger_command_conflicts_total{command="assign"}`) // exported even at 0
	t.Logf("%v lost races", sum)
}
