// Package subscriber is a client for services that follow the ledger's
// events on NATS: it reads one durable JetStream consumer with scoped
// subscriber credentials (rule S5), verifies every event's hash chain and
// signature before the handler sees it (H3), decodes it into the typed
// payloads of package events (a type this version does not know is
// delivered raw, never dropped), filters by event type after verifying,
// and acknowledges once the handler has returned.
//
// # Delivery guarantee
//
// At least once, in stream order. An event is acknowledged after its
// handler returns nil; the consumer is durable, so a restarted subscriber
// resumes after the last acknowledged event and misses none. Acknowledgements
// are sent in batches (AckEvery) and each is confirmed by the server, so
// after a crash (the process killed) up to that many events whose handler
// had returned may be delivered again; a handler error, or ctx done, stops
// Run after acknowledging every event handled before it, and the failed
// event is delivered again, first, on the next run. Every event has a
// stable id (Event.ID, the CloudEvents id): to handle each effectively once,
// make the handler's effect and the record of the id one transaction in the
// subscriber's own store, and skip an id already recorded:
//
//	err := sub.Run(ctx, func(ctx context.Context, ev subscriber.Event) error {
//		tx := db.Begin()
//		if tx.Seen(ev.ID) { return tx.Rollback() }
//		apply(tx, ev)
//		tx.MarkSeen(ev.ID)
//		return tx.Commit()
//	})
//
// # Verification
//
// The ledger signs the last event of each subject in each command; the
// events before it in that command are vouched for by the signed event's
// hash chain. The subscriber therefore holds an unsigned event until the
// signed one covers it, and delivers in stream order. An event that fails
// (not signed by the ledger's key, not continuing its subject's chain,
// undecodable, or never vouched for) is reported to OnBreak, not to the
// handler, and acknowledged so that it does not block the stream. After a
// restart the chain of each subject is taken up again from its first
// signed event: the events before the restart were verified when they were
// first delivered.
//
// Decoding, hashing and the signature checks run on GOMAXPROCS goroutines
// ahead of the chain checks; the chain checks, the type filter, the
// handler and the acknowledgements follow stream order, one event at a time.
//
// Run is not safe to call twice at once on one consumer.
package subscriber
