// Package projections maintains the ledger's read models in Pebble: the state
// of every aggregate (with the stream sequence and hash of its last event, which
// the write side needs for optimistic concurrency and the hash chain), the
// history of each aggregate, the unassigned-licence reminders (C7) and the
// record of every command (for Idempotency-Key replays).
//
// Events are applied in stream order. Each Pebble batch holds the effects of a
// run of events together with the checkpoint, the stream sequence of the last
// event in it, so the store never holds half an event and never applies one
// twice: on restart, Follow resumes after the checkpoint. Everything in the
// store is a function of the stream, so a store rebuilt from the same stream
// has the same keys and values (see Digest).
//
// An event that does not decode, sits on the wrong subject, or does not carry
// the hash of its aggregate's previous event is not applied; it is recorded as
// a break (H3) and the aggregate keeps the state of its last valid event.
//
// A Store is safe for concurrent use: one goroutine applies (Follow or
// Apply), any number query and wait.
package projections
