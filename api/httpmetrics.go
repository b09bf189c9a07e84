package api

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// RouteUnmatched is the route label of a request no endpoint matched (a
// 404, a 405, an unclean path): never the raw path, which may carry an
// account id or an email.
const RouteUnmatched = "unmatched"

// newDurations creates ledger_http_request_duration_seconds.
func newDurations() *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "ledger_http_request_duration_seconds",
		Help:    `Time from receiving an HTTP request to its handler returning, by route: the pattern it matched, method and path with its wildcards (e.g. "POST /v1/accounts/{account}/usage"), or "unmatched".`,
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 15),
	}, []string{"route"})
}

// observeDuration records the time since start of r under its route.
func (a *API) observeDuration(r *http.Request, start time.Time) {
	a.durations.WithLabelValues(routeOf(r)).Observe(time.Since(start).Seconds())
}

// routeOf is r's route label: the pattern the mux matched (it sets
// r.Pattern), or RouteUnmatched for the catch-all and unrouted requests.
func routeOf(r *http.Request) string {
	if r.Pattern == "" || r.Pattern == "/" {
		return RouteUnmatched
	}
	return r.Pattern
}
