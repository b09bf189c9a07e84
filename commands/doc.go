// Package commands holds the ledger's decisions: pure functions that take the
// current state of the aggregates a command touches, the command and the
// ledger's clock, and return either the events to append or a rejection
// (*Error with a stable code from docs/rules.md).
//
// Nothing here does I/O or reads a clock; the same inputs always give the
// same answer, which is what makes every rule testable at its boundaries.
// Commands come in two steps: Normalize validates and canonicalises the
// client's input (lower-cased emails, sorted products) so the caller knows
// which aggregates to load, then Decide checks the rules against their state.
//
// The returned events carry their account, aggregate id, business time and
// data; the write side (package ledger) fills in ids, metadata and the hash
// chain. Package commands imports only package events.
package commands
