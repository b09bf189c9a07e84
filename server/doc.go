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
// Dial never creates a stream over a ledger the data directory's projections
// know (rule S7): a stream they were built from that is missing, was created
// again or holds less than they applied is refused unless Config.NewStream.
// The LEDGER stream and the LEDGER_ANSWERS bucket that ledger processes
// share have one declared set of guarantees (shared.go): a process adopts
// what is at least as strong, raises replicas when told, never lowers a
// setting, and refuses what is weaker than declared or than the projections
// recorded.
//
// While it runs, a Server checks the stream and its buckets at start, on
// every stream advisory and periodically (CheckStream): a setting that could
// lose events or is weaker than before, a stream deleted or created again,
// or messages deleted, is logged and counted as an integrity break; the
// projections follow only the stream they started on, and /readyz answers
// 503 while the stream is missing, another one or short of messages.
//
// A Server is safe for concurrent use; Start and Close are called once.
package server
