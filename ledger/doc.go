// Package ledger is the write side of the entitlement ledger: it decides
// commands and appends their events to the LEDGER stream on NATS JetStream.
//
// Every command goes through the same steps (execute.go):
//
//  1. replay: a command that already landed (a repeated Idempotency-Key, or
//     an append whose acknowledgement was lost) answers as it did the first
//     time, from the projections' command records or, for an answer that
//     appended nothing, from the replay-answers bucket;
//  2. decide: the command's aggregates are loaded from the projections
//     (package projections) with their versions, the account it acts in must
//     exist, and a pure decision of package commands turns the command into
//     events or a rejection. A decision that appends nothing (a rejection,
//     or a command that changes nothing) stands only on a state that
//     includes everything the stream held, when the command arrived, on the
//     subjects it read; otherwise it is decided again once the projections
//     have applied that (onstream.go);
//  3. append: the events get their metadata and hash chain, are signed, and
//     are published with Nats-Expected-Last-Subject-Sequence set to the
//     version each subject was loaded at, in one atomic batch per command.
//     Appends of concurrent commands are grouped into one atomic batch
//     (group commit, group.go); each command's events still land whole or
//     not at all. A lost race (a conflict) decides again, a bounded number of
//     times;
//  4. await: the answer is read from the projections once they have applied
//     the command's events, so a client reads its own writes.
//
// Usage batches (usage.go) and checks skip the await: they are answered once
// JetStream holds them, and whatever reads usage first waits for the usage
// this process answered in that account (nothing reads checks). A product's usage is spread over shards
// (events.UsageShardSubject); a batch holds one shard while it is decided and
// appended, so concurrent batches for one product do not conflict within one
// process.
//
// A Ledger is safe for concurrent use. Several ledger processes may share a
// stream and answer as one ledger (rule H5): the expected-sequence headers
// keep their decisions consistent, a decision that appends nothing is
// checked against the stream (step 2), JetStream's message-id
// deduplication keeps a usage record, an alert or a reminder from landing
// twice, and a duplicate or conflict another process causes is a lost race,
// never an error (appendError). Reads (queries.go) are served from the
// projections.
package ledger
