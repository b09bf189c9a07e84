package main

import (
	"fmt"
	"io"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// rebuildProgress prints, once a second while a rebuild runs, how far it
// has come: events done of the stream's, the rate and the time left. It
// reads the rebuild's own gauges (ledger_rebuild_checkpoint and
// ledger_rebuild_target_sequence) from reg, and writes only to a terminal.
// Stop it with the returned function.
func rebuildProgress(reg prometheus.Gatherer, w io.Writer) (stop func()) {
	if !isTerminal(w) {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		start := time.Now()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				fmt.Fprint(w, "\r\033[K")
				return
			case <-t.C:
			}
			at, target := gauge(reg, "ledger_rebuild_checkpoint"), gauge(reg, "ledger_rebuild_target_sequence")
			fmt.Fprint(w, "\r\033[K"+progressLine(at, target, time.Since(start)))
		}
	}()
	return func() { close(done); <-finished }
}

// progressLine says how far a rebuild is after elapsed.
func progressLine(at, target float64, elapsed time.Duration) string {
	if target <= 0 {
		return "rebuilding: reading the stream"
	}
	rate := at / elapsed.Seconds()
	left := "?"
	if rate > 0 {
		left = (time.Duration((target-at)/rate) * time.Second).Round(time.Second).String()
	}
	return fmt.Sprintf("rebuilding: %.0f of %.0f events (%.0f%%), %.0f events/s, %s left", at, target, 100*at/target, rate, left)
}

// gauge reads one unlabelled gauge from reg (0 if absent).
func gauge(reg prometheus.Gatherer, name string) float64 {
	mfs, err := reg.Gather()
	if err != nil {
		return 0
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) > 0 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	return 0
}
