package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/projections"
)

// benchApply measures what countries cost the projections (G9): it applies
// bc.applyEvents pooled usage.recorded events, in runs of 500 as the stream
// delivers them, to a fresh Pebble store, once with the users' countries in
// the events (four countries) and once without (country null), three
// alternating runs each, and prints the rates and the ratio of their
// medians. No stream and no ledger: decode, fold, indexes and Pebble only.
func benchApply(_ context.Context, bc benchConfig, out io.Writer) error {
	with, without := applyMsgs(bc.applyEvents, benchCountries), applyMsgs(bc.applyEvents, nil)
	var rates [2][]float64
	for run := range 3 {
		for i, msgs := range [][]projections.Msg{with, without} {
			dir := filepath.Join(bc.dir, "apply", fmt.Sprintf("%d-%d", run, i))
			took, err := applyAll(dir, msgs)
			if err != nil {
				return err
			}
			name := []string{"with countries", "without (null)"}[i]
			m := measurement{name: "apply usage events, " + name, ops: len(msgs), took: took, unit: "events"}
			printMeasurement(out, m)
			rates[i] = append(rates[i], m.rate())
		}
	}
	median := func(xs []float64) float64 {
		xs = slices.Clone(xs)
		slices.Sort(xs)
		return xs[len(xs)/2]
	}
	fmt.Fprintf(out, "ratio  applying usage with countries / without  %.2f  (medians of 3; goal >= 0.9)\n",
		median(rates[0])/median(rates[1]))
	return nil
}

// applyAll applies msgs to a new store in dir, 500 at a time, and returns
// how long that took.
func applyAll(dir string, msgs []projections.Msg) (time.Duration, error) {
	s, err := projections.Open(dir, projections.Options{})
	if err != nil {
		return 0, err
	}
	start := time.Now()
	for i := 0; i < len(msgs) && err == nil; i += 500 {
		err = s.Apply(msgs[i:min(i+500, len(msgs))])
	}
	took := time.Since(start)
	return took, errors.Join(err, s.Close(), os.RemoveAll(dir))
}

// applyMsgs returns n pooled usage.recorded messages of account "bill" on
// three products' subjects, chained as the ledger writes them, by 50 users
// (user u in countries[u mod len], none when countries is nil) on 500
// machines over a month of start times.
func applyMsgs(n int, countries []string) []projections.Msg {
	t0 := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	products := []string{"microstation", "openroads", "revit"}
	prev := map[string]string{}
	out := make([]projections.Msg, n)
	for i := range out {
		start := t0.Add(time.Duration(i%(30*1440)) * time.Minute)
		id, user, product := "u-"+strconv.Itoa(i), i%usageUsers, products[i%len(products)]
		var country events.Country
		if countries != nil {
			country = events.Country(countries[user%len(countries)])
		}
		e := events.Event{ID: events.DerivedID("usage", "bill", id), Account: "bill", AggregateID: product,
			OccurredAt: t0.Add(31 * 24 * time.Hour), RecordedAt: t0.Add(31 * 24 * time.Hour), Actor: "bench",
			CommandID: "cmd-" + strconv.Itoa(i/500), CorrelationID: "bench", PrevHash: prev[product],
			Data: events.UsageRecorded{UsageID: id, Email: "u" + strconv.Itoa(user) + "@bill.example", Product: product,
				MachineID: "ws-" + strconv.Itoa(i*7%500), ClientVersion: "10.00.18.25", StartedAt: start, EndedAt: start.Add(3 * time.Hour),
				Classification: events.ClassPooled, LicenseID: "C0", Digest: events.Hash([]byte(id)), Country: country}}
		raw, err := events.Marshal(e)
		if err != nil {
			panic("bench: a usage event does not encode: " + err.Error())
		}
		prev[product] = events.Hash(raw)
		out[i] = projections.Msg{Seq: uint64(i + 1), Subject: e.Subject(), Data: raw}
	}
	return out
}
