// Package deploy holds the files the project ships to run NATS for the
// ledger, and embeds the one every server includes, nats/accounts.conf: the
// ledger's embedded server is started from the same account layout as a
// deployment's servers, so what the tests prove of one holds for the other.
package deploy

import _ "embed"

// Accounts is nats/accounts.conf: the accounts, users, exports and imports
// of every NATS server that holds the LEDGER stream (rules S5, S6, S8).
//
//go:embed nats/accounts.conf
var Accounts string
