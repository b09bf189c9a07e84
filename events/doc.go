// Package events is the ledger's event catalogue: the envelope every fact is
// stored in, the stable type names and schema versions, the codec, the
// per-aggregate hash chain and the JSON Schemas that describe each payload.
//
// An event travels as a CloudEvents 1.0 JSON document in structured mode
// (content type application/cloudevents+json). The envelope carries the
// ledger's metadata as extension attributes:
//
//	schemaversion  integer schema version of data for this type
//	actor          who issued the command (H2)
//	commandid      the command that produced the event; several events of one
//	               command share it
//	commandhash    digest of the command's request, used to answer a replayed
//	               Idempotency-Key with the first answer
//	correlationid  the request or workflow the command belongs to
//	causationid    the event or request that caused the command
//	recordedat     when the ledger recorded the event (time is the business time)
//	prevhash       SHA-256 of the exact bytes of the previous event of the same
//	               aggregate; absent on an aggregate's first event (H3)
//
// Beside the document, messages carry two NATS headers (sign.go):
// Ledger-Mac on every message, an HMAC the ledger's own projections check
// cheaply, and Ledger-Signature, an Ed25519 signature over subject and bytes
// that anyone with the public key can check, on the last message of each
// subject in each command. Its hash chain vouches for the messages before it
// (chain.go).
//
// The canonical bytes are defined by encoding/json; fastcodec.go writes and
// reads them without reflection and is tested against it.
//
// Decoding is strict: an unknown type, an unknown schema version, a missing
// attribute or an unknown field in data is an error, never a silent skip.
// Old schema versions are lifted to the current one by upcasters keyed by
// (type, version).
//
// Everything in this package is pure and safe for concurrent use.
package events
