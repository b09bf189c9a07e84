// Package readmetest holds one test, which follows the repository's
// README.md as a newcomer would: it copies the repository into a temporary
// directory (a fresh clone: no data directory, nothing left behind in the
// repository), then runs every ```sh block of the README with bash, in
// order and verbatim, against the ledger the README's own blocks start.
//
// A block's stated output is checked: every comment `# → TEXT` in a block
// says that TEXT appears in the block's output, in the order of the
// comments. A block that answers an API error (`"error":{`) or in which a
// command fails fails the test, unless a `# →` comment expects the error.
//
// An HTML comment right before a block tells the test how to run it, and is
// how the README marks, visibly in its source, what cannot run here:
//
//	<!-- readme-test: skip: REASON -->    not run; the test lists it and REASON
//	<!-- readme-test: serve -->           a ledger: runs in the background until the test
//	                                      ends; the blocks after it wait for its "listening on"
//	<!-- readme-test: restart -->         stops the last serve block's ledger, then as serve
//	<!-- readme-test: follow -->          runs until its `# →` texts have appeared, then is
//	                                      interrupted, as a reader would with Ctrl-C
//	<!-- readme-test: needs nats -->      runs when the nats CLI is on PATH, else is skipped
//	                                      (a failure when LEDGER_NATSCLI_TEST=1)
//
// Three things differ from a reader's terminal, each for a reason: the
// addresses 127.0.0.1:8080, :8081 and :4222 become free ports (the test may
// run beside a ledger; LEDGER_HTTP and LEDGER_URL point the defaults there);
// `go run ./cmd/ledger ARGS` runs a binary built once from the copy (the same
// package, built the same way; `go` is otherwise the real one); and TMPDIR
// is inside the test's temporary directory.
//
// The package has no code of its own; it is for tests only.
package readmetest
