//go:build cgo

package server

// pebbleOffHeap reports whether Pebble's block cache and memtables are
// allocated outside the Go heap: with cgo they are (C's allocator).
const pebbleOffHeap = true
