// Package auth holds the ledger's API tokens and what each role may do
// (rules S1–S3): the token format, the hash that is all the ledger stores,
// the parsing of an Authorization header, and the access levels of the
// routes. It is pure: nothing here reads the stream or the store, and
// everything is safe for concurrent use.
package auth
