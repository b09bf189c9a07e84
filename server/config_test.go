package server

import "testing"

// The Go runtime's soft limit leaves room for what Pebble allocates outside
// the Go heap, so that --memory-limit bounds the process, not just its heap.
func TestGoMemoryLimitLeavesPebblesShare(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct{ limit, want int64 }{
		{0, 0}, // no limit
		{400 * mib, 400*mib - 50*mib - 2*12.5*mib}, // cache 1/8, two memtables of 1/32
		{4096 * mib, 4096*mib - 64*mib - 2*64*mib}, // both at their ceilings
		{64 * mib, 64*mib - 8*mib - 2*4*mib},       // Pebble's least memtable, 4 MiB
	} {
		if !pebbleOffHeap && tc.limit > 0 {
			tc.want = tc.limit // without cgo Pebble's memory is on the Go heap
		}
		if got := (Config{MemoryLimit: tc.limit}).GoMemoryLimit(); got != tc.want {
			t.Errorf("MemoryLimit %d MiB: Go limit %d MiB, want %d MiB", tc.limit/mib, got/mib, tc.want/mib)
		}
	}
}
