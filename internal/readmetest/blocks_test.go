package readmetest

import (
	"bufio"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// How the test runs a block, from the marker before it (see the package doc).
const (
	runShell   = ""           // in the one bash session, in order
	runSkip    = "skip"       // not at all
	runServe   = "serve"      // in the background, until the test ends
	runRestart = "restart"    // stop the last serve, then as serve
	runFollow  = "follow"     // in the background until its expectations appear
	runNATS    = "needs nats" // in the session, when the nats CLI is there
)

// A block is one ```sh block of the README.
type block struct {
	line   int      // the line of its opening fence, for messages
	text   string   // the commands, as the README has them
	script string   // text with the test's ports for the README's, as run
	run    string   // one of the run constants
	reason string   // why it is skipped
	expect []string // the texts of its `# →` comments, in order
}

func (b block) String() string {
	first, _, _ := strings.Cut(strings.TrimSpace(b.text), "\n")
	return fmt.Sprintf("README.md:%d (%s)", b.line, first)
}

var (
	markerRE = regexp.MustCompile(`^\s*<!--\s*readme-test:\s*(.*?)\s*-->\s*$`)
	expectRE = regexp.MustCompile(`(?:^|\s)#[^→]*→\s*(.*?)\s*$`)
)

// parseBlocks returns the README's ```sh blocks. A block may be indented
// (in a list); its lines lose that indentation.
func parseBlocks(tb testing.TB, readme string) []block {
	tb.Helper()
	var (
		blocks  []block
		cur     *block
		indent  string
		marker  string // the marker on the last non-blank line, if any
		markAt  int
		lines   []string
		scanner = bufio.NewScanner(strings.NewReader(readme))
	)
	for n := 1; scanner.Scan(); n++ {
		line := scanner.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case cur != nil && trimmed == "```":
			cur.text = strings.Join(lines, "\n") + "\n"
			blocks = append(blocks, *cur)
			cur, lines = nil, nil
		case cur != nil:
			lines = append(lines, strings.TrimPrefix(line, indent))
			if m := expectRE.FindStringSubmatch(line); m != nil {
				cur.expect = append(cur.expect, m[1])
			}
		case trimmed == "```sh":
			cur = &block{line: n}
			indent = line[:len(line)-len(strings.TrimLeft(line, " "))]
			if marker != "" && markAt == n-1 {
				cur.run, cur.reason = parseMarker(tb, n-1, marker)
			}
		case trimmed != "":
			marker, markAt = "", 0
			if m := markerRE.FindStringSubmatch(line); m != nil {
				marker, markAt = m[1], n
			} else if strings.Contains(line, "readme-test") {
				tb.Fatalf("README.md:%d: a readme-test marker this test cannot read: %q", n, line)
			}
		}
	}
	if cur != nil {
		tb.Fatalf("README.md:%d: a ```sh block that never ends", cur.line)
	}
	return blocks
}

// parseMarker reads the words of a marker comment.
func parseMarker(tb testing.TB, line int, m string) (run, reason string) {
	tb.Helper()
	if r, ok := strings.CutPrefix(m, "skip:"); ok && strings.TrimSpace(r) != "" {
		return runSkip, strings.TrimSpace(r)
	}
	switch m {
	case runServe, runRestart, runFollow, runNATS:
		return m, ""
	}
	tb.Fatalf("README.md:%d: unknown readme-test marker %q; want skip: REASON, serve, restart, follow or needs nats", line, m)
	return "", ""
}

func TestParseBlocks(t *testing.T) {
	readme := "text\n\n```sh\necho a   # → a\necho b # a remark → b c \necho '#' → not\n```\n\n" +
		"<!-- readme-test: skip: needs Docker -->\n```sh\ndocker compose up\n```\n" +
		"- a list\n\n  <!-- readme-test: serve -->\n  ```sh\n  ledger serve\n  ```\n" +
		"<!-- readme-test: follow -->\n\nnot right before\n```sh\nx\n```\n"
	got := parseBlocks(t, readme)
	want := []block{
		{line: 3, text: "echo a   # → a\necho b # a remark → b c \necho '#' → not\n", expect: []string{"a", "b c"}},
		{line: 10, text: "docker compose up\n", run: runSkip, reason: "needs Docker"},
		{line: 16, text: "ledger serve\n", run: runServe},
		{line: 22, text: "x\n"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseBlocks:\n got %#v\nwant %#v", got, want)
	}
}
