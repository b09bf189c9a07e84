package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// The billing phase of ledger bench works end to end on a tiny quarter:
// country pools (G9), the QTL first, again, as of a sequence and after a
// restart, and the advice (G11) before and after the restart. (How fast is
// for the bench itself, never a test.)
func TestBenchBillingPhaseRuns(t *testing.T) {
	var out bytes.Buffer
	bc := benchConfig{billingRecords: 3000, dir: t.TempDir()}
	if err := benchBilling(context.Background(), bc, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"QTL of ", ", first", "QTL again, nothing changed", "QTL as_of_seq half-way",
		"QTL, first after a restart", "advice of ", "advice, first after a restart", "country pools at a peak"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the billing phase printed no %q:\n%s", want, out.String())
		}
	}
	t.Log(out.String())
}

// The apply phase of ledger bench runs at a tiny size: three alternating
// runs with countries and without, and their ratio.
func TestBenchApplyPhaseRuns(t *testing.T) {
	var out bytes.Buffer
	if err := benchApply(context.Background(), benchConfig{applyEvents: 1200, dir: t.TempDir()}, &out); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "apply usage events, with countries"); n != 3 {
		t.Errorf("%d runs with countries, want 3:\n%s", n, out.String())
	}
	if !strings.Contains(out.String(), "ratio  applying usage with countries / without") {
		t.Errorf("no ratio:\n%s", out.String())
	}
}
