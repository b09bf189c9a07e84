package ledger

import "testing"

// ownAppends answers whether a span of sequences was all appended by this
// ledger, whatever order the appends finished in.
func TestOwnSeqsCovers(t *testing.T) {
	var o ownAppends
	o.add(10, 19, 0)
	o.add(30, 39, 0) // finished before 20..29
	o.add(20, 29, 0)
	o.add(41, 45, 0) // 40 is someone else's
	for _, tc := range []struct {
		from, to uint64
		want     bool
	}{
		{10, 39, true}, {12, 25, true}, {20, 20, true}, {10, 40, false}, {9, 12, false},
		{40, 45, false}, {41, 45, true}, {46, 46, false}, {1, 100, false},
	} {
		if got := o.covers(tc.from, tc.to); got != tc.want {
			t.Errorf("covers(%d, %d) = %v, want %v", tc.from, tc.to, got, tc.want)
		}
	}
	o.add(50, 50, 39) // the projections applied through 39: those ranges go
	if len(o.ranges) != 2 || !o.covers(41, 45) || o.covers(30, 39) {
		t.Errorf("after pruning through 39: %+v", o.ranges)
	}
}
