// Package console serves the administrators' console: server-rendered HTML
// pages at / of `ledger serve`, for a person signed in with an API token.
//
// The console decides nothing. Every page and every form is answered by
// calling the ledger's own HTTP API in-process, with the signed-in token as
// its bearer token, so what a token may see and do (S1, S2: another
// account answers as one that does not exist, a role refusal is 403), every
// rule, every validation and every error code are exactly the API's. The
// console turns the API's answers into pages, and its errors into words.
//
// A sign-in keeps the token in a server-side session, in memory: the
// browser holds only a random 256-bit session id in an HttpOnly,
// SameSite=Strict cookie (Secure over TLS). Sessions end at sign-out,
// after an idle time, at the end of their lifetime, when the same browser
// signs in again, when the API refuses the token (401: revoked), and when
// the process stops. A token holds a bounded number of sessions (its
// oldest ends), and a full store refuses a sign-in rather than end
// another's session. Every form carries the session's CSRF token,
// checked in constant time; a POST without it is refused 403 before the API
// is called. Pages are sent with a Content-Security-Policy that allows no
// inline script, and are never cached; over TLS they carry
// Strict-Transport-Security.
//
// Pages use html/template (contextual auto-escaping); the stylesheet, the
// small script that makes countdowns tick and the templates are embedded in
// the binary. Charts are inline SVG drawn by this package. Everything but
// the ticking works without JavaScript.
//
// A Console is an http.Handler, safe for concurrent use. Owns tells which
// paths are the console's; the rest belongs to the API.
package console
