//go:build !cgo

package server

// pebbleOffHeap reports whether Pebble's block cache and memtables are
// allocated outside the Go heap: without cgo (the Docker image) they are Go
// allocations, on the heap the soft limit already covers.
const pebbleOffHeap = false
