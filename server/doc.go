// Package server wires a ledger process together: it takes the data
// directory's lock, starts the embedded NATS JetStream server (or connects to
// an external cluster), creates or checks the LEDGER stream, loads the
// signing and checkout keys, opens the Pebble projections and keeps them
// following the stream, and serves the HTTP API of package api.
//
// Start returns a running Server; Close stops it in order (HTTP first, then
// the projections, the stream connection and the lock). RebuildProjections,
// ProjectionsDigest and VerifyStream are the offline operations behind
// `ledger rebuild`, `ledger digest` and `ledger verify`. Every function that
// opens a data directory takes its lock first (OpenDataDir), so a second
// process on the same directory is refused before it opens anything, with a
// message naming the holder's pid.
//
// While it runs, a Server checks the stream at start and periodically
// (CheckStream): a setting that could lose events, or messages deleted, is
// logged and counted as an integrity break.
//
// A Server is safe for concurrent use; Start and Close are called once.
package server
