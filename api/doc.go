// Package api serves the ledger's HTTP API: JSON over /v1, as docs/api.md
// describes it, plus /healthz, /readyz and /metrics.
//
// The handlers are split per resource (accounts, users, licences, sessions,
// checks and access, usage, keys). Each decodes its body strictly: a body
// not declared application/json is 415; unknown or differently-cased
// fields, a field given twice, null, trailing data and wrong types are
// rejected with the field named; bodies over 1 MiB are 413. It then builds a
// command of
// package commands with the request's metadata (Idempotency-Key, correlation
// and causation ids), runs it through the write side's exported API
// (package ledger) and answers with a view: the JSON shape of the contract.
// Every rule, including "the account exists", is decided by the write side,
// so this package adds none of its own. Errors are answered in one shape,
// {"error": {"code", "message", "details"}}, with the status of the code from
// one table (errors.go); an error that is not a rejection is logged and
// answered 500 without its internals.
//
// Before any route, a path with dot segments or "//", plain or
// percent-encoded, is refused (paths.go) rather than redirected, and CheckHost, which the
// server wraps around the API, refuses a Host that is not the ledger's
// (DNS rebinding).
//
// Public routes publish what subscribers and client authors need without a
// token: the events' JSON Schemas (schemas.go) and the API's OpenAPI 3.1
// document (openapi.go), built from the route table and one entry per route
// in openapi_routes.go.
//
// An API is safe for concurrent use.
package api
