package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/entledger/ledger/server"
)

// rule S9: the fairness phase of ledger bench runs end to end at a tiny
// size, and the limit holds: alpha's flood from one ingest token is told
// 429 while beta, at its pace, never is. (How fast beta is, beside its idle
// figures, is for the bench itself, never a test.)
func TestBenchFairnessPhaseRuns(t *testing.T) {
	fc := fairnessConfig{floodClients: 4, floodBatch: 1000, flood: 1500 * time.Millisecond, betaOps: 5, betaEvery: 10 * time.Millisecond}
	srv, err := server.Start(context.Background(), server.Config{DataDir: filepath.Join(t.TempDir(), "fairness"), HTTPAddr: "127.0.0.1:0",
		Logger: quietLogger(), NoReminders: true})
	if err != nil {
		t.Fatal(err)
	}
	defer closeServer(srv)
	res, err := runFairness(context.Background(), srv, fc)
	if err != nil {
		t.Fatal(err)
	}
	if res.floodAccepted == 0 || res.flood429 == 0 {
		t.Errorf("alpha: %d batches accepted, %d answered 429; want some of each (its burst, then its limit)", res.floodAccepted, res.flood429)
	}
	if res.betaLimited != 0 || len(res.idlePatch) != fc.betaOps || len(res.idleCheck) != fc.betaOps || len(res.floodPatch) == 0 {
		t.Errorf("beta: %d answered 429, %d/%d idle and %d flood measurements", res.betaLimited, len(res.idlePatch), len(res.idleCheck), len(res.floodPatch))
	}

	var out bytes.Buffer
	bc := benchConfig{dir: t.TempDir(), fairness: fc}
	if err := benchFairness(context.Background(), bc, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"PATCH user (account_admin)", "check (ingest)", "answered 429 rate_limited"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the fairness phase printed no %q:\n%s", want, out.String())
		}
	}
	t.Log(out.String())
}
