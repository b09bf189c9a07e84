package readmetest

import (
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestREADME runs README.md's shell blocks verbatim, in order (see the
// package doc). Without bash or curl it is skipped, unless
// LEDGER_README_TEST=1 (as .ci/run sets) makes that a failure.
func TestREADME(t *testing.T) {
	for _, tool := range []string{"bash", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("LEDGER_README_TEST") == "1" {
				t.Fatalf("%s not found, and LEDGER_README_TEST=1 requires the README test", tool)
			}
			t.Skipf("%s not found: the README test is skipped (set LEDGER_README_TEST=1 to make this a failure)", tool)
		}
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := parseBlocks(t, string(readme))

	tmp := t.TempDir()
	work := filepath.Join(tmp, "clone")
	copyRepo(t, root, work)
	ports := newPorts(t)
	s := startSession(t, tmp, work, ports)

	var skipped []string
	for _, b := range blocks {
		b.script, b.expect = ports.apply(b.text), ports.applyAll(b.expect)
		switch b.run {
		case runSkip:
			skipped = append(skipped, fmt.Sprintf("%s: %s", b, b.reason))
		case runNATS:
			if _, err := exec.LookPath("nats"); err != nil {
				if os.Getenv("LEDGER_NATSCLI_TEST") == "1" {
					t.Fatalf("%s needs the nats CLI, and LEDGER_NATSCLI_TEST=1 requires it", b)
				}
				skipped = append(skipped, fmt.Sprintf("%s: the nats CLI is not on PATH", b))
				continue
			}
			s.run(b)
		case runServe:
			s.serve(b)
		case runRestart:
			s.stopLastServe()
			s.serve(b)
		case runFollow:
			s.follow(b)
		default:
			s.run(b)
		}
	}
	for _, sk := range skipped {
		t.Logf("skipped %s", sk)
	}
}

// notCloned are the directories at the repository's root that a fresh
// clone does not have (.gitignore ignores them; .git is not a file of it).
var notCloned = map[string]bool{".git": true, "data": true, "bin": true, "secrets": true}

// copyRepo copies the repository's files, as they are in the work tree, to
// dst, as a fresh clone would have them.
func copyRepo(tb testing.TB, root, dst string) {
	tb.Helper()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		switch {
		case d.IsDir() && notCloned[rel]:
			return filepath.SkipDir
		case d.IsDir():
			return os.MkdirAll(to, 0o755)
		case !d.Type().IsRegular():
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(to, raw, info.Mode().Perm())
	})
	if err != nil {
		tb.Fatalf("copying the repository: %v", err)
	}
}

// ports are the free ports that stand in for the README's fixed ones.
type ports map[string]string

// newPorts picks a free port for each address the README names.
func newPorts(tb testing.TB) ports {
	tb.Helper()
	p := ports{}
	for _, addr := range []string{"127.0.0.1:8080", "127.0.0.1:8081", "127.0.0.1:4222"} {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		p[addr] = l.Addr().String()
		l.Close()
	}
	return p
}

func (p ports) apply(s string) string {
	for from, to := range p {
		s = strings.ReplaceAll(s, from, to)
	}
	return s
}

func (p ports) applyAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = p.apply(s)
	}
	return out
}
