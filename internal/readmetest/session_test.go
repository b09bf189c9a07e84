package readmetest

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/entledger/ledger/internal/poll"
)

// How long the test waits for a block, a ledger to listen, a follow block's
// output and a background process to stop.
const (
	blockTimeout  = 90 * time.Second
	listenTimeout = 90 * time.Second // a serve block may build the binary first
	stopTimeout   = 20 * time.Second
)

// A session is the one bash process the blocks run in, in order, so that a
// block sees the variables and files of the blocks before it, as in a
// reader's terminal; and the blocks running in the background beside it.
type session struct {
	t      *testing.T
	dir    string // blocks/N.sh, and out/N (output) and out/N.failed (failed commands)
	work   string // the copy of the repository: every block's working directory
	env    []string
	stdin  io.WriteCloser
	done   chan string // the numbers of the blocks bash has finished, from its fd 3
	n      int         // blocks written so far
	serves []*background
	jobs   []int // the process groups of follow blocks
}

// startSession builds the ledger once into tmp/bin, puts a `go` on PATH
// that runs it for `go run ./cmd/ledger`, and starts bash in work.
func startSession(t *testing.T, tmp, work string, p ports) *session {
	t.Helper()
	s := &session{t: t, dir: filepath.Join(tmp, "run"), work: work, done: make(chan string, 1)}
	for _, d := range []string{"blocks", "out", "shim", "bin", "tmp"} {
		if err := os.MkdirAll(filepath.Join(s.dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(s.dir, "bin", "ledger")
	build := exec.Command("go", "build", "-o", bin, "./cmd/ledger")
	build.Dir = work
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/ledger in the copy: %v\n%s", err, out)
	}
	s.env = environment(t, s.dir, bin, p)

	cmd := exec.Command("bash", "--norc", "--noprofile")
	cmd.Dir, cmd.Env = work, s.env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.ExtraFiles = []*os.File{w} // fd 3: bash says there which block it finished
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	s.stdin = stdin
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			s.done <- sc.Text()
		}
		close(s.done)
	}()
	t.Cleanup(func() {
		stdin.Close()
		for _, pgid := range s.jobs {
			syscall.Kill(-pgid, syscall.SIGKILL)
		}
		for i := len(s.serves) - 1; i >= 0; i-- {
			s.serves[i].stop(t)
		}
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		r.Close()
	})
	return s
}

// environment is the blocks' environment: the test's, without any
// LEDGER_ setting of its own, with the ledger's defaults on the test's
// ports, the shim first on PATH and TMPDIR inside dir.
func environment(tb testing.TB, dir, bin string, p ports) []string {
	tb.Helper()
	realGo, err := exec.LookPath("go")
	if err != nil {
		tb.Fatal(err)
	}
	if realGo, err = filepath.Abs(realGo); err != nil {
		tb.Fatal(err)
	}
	shim := "#!/usr/bin/env bash\n" +
		"# readmetest: `go run ./cmd/ledger ARGS` runs the ledger built once from this copy; any other go command is go.\n" +
		"if [ \"$1\" = run ] && [ \"$2\" = ./cmd/ledger ]; then shift 2; exec " + bin + " \"$@\"; fi\n" +
		"exec " + realGo + " \"$@\"\n"
	if err := os.WriteFile(filepath.Join(dir, "shim", "go"), []byte(shim), 0o755); err != nil {
		tb.Fatal(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		switch {
		case strings.HasPrefix(kv, "LEDGER_"), strings.HasPrefix(kv, "PATH="), strings.HasPrefix(kv, "TMPDIR="):
			continue
		}
		env = append(env, kv)
	}
	http := p["127.0.0.1:8080"]
	return append(env,
		"PATH="+filepath.Join(dir, "shim")+string(os.PathListSeparator)+os.Getenv("PATH"),
		"TMPDIR="+filepath.Join(dir, "tmp"),
		"LEDGER_HTTP="+http, "LEDGER_URL=http://"+http)
}

// write puts b's text in blocks/N.sh and returns N.
func (s *session) write(b block) int {
	s.n++
	if err := os.WriteFile(s.path("blocks", s.n, ".sh"), []byte(b.script), 0o644); err != nil {
		s.t.Fatal(err)
	}
	return s.n
}

func (s *session) path(sub string, n int, suffix string) string {
	return filepath.Join(s.dir, sub, fmt.Sprint(n)+suffix)
}

// run runs b in the session and checks it: no command failed, no API error
// unless expected, and its `# →` texts in its output.
func (s *session) run(b block) {
	s.t.Helper()
	n := s.write(b)
	failed := s.path("out", n, ".failed")
	// A command of the block that fails is noted by the ERR trap (a command
	// in a condition, as in `until ...`, is not a failure), and the block goes on.
	fmt.Fprintf(s.stdin, "trap '[[ $BASH_COMMAND == \"source \"* ]] || echo \"exit $? at line $LINENO: $BASH_COMMAND\" >>%q' ERR\n"+
		"source %q </dev/null >%q 2>&1 3>&-\ntrap - ERR\necho %d >&3\n",
		failed, s.path("blocks", n, ".sh"), s.path("out", n, ""), n)
	select {
	case got, ok := <-s.done:
		if !ok || got != fmt.Sprint(n) {
			s.t.Fatalf("%s: bash ended while running it:\n%s", b, s.output(n))
		}
	case <-time.After(blockTimeout):
		s.t.Fatalf("%s: not done within %s:\n%s", b, blockTimeout, s.output(n))
	}
	if f, err := os.ReadFile(failed); err == nil {
		s.t.Fatalf("%s: a command failed:\n%s\noutput:\n%s", b, f, s.output(n))
	}
	s.check(b, n)

}

// output is what block n printed so far.
func (s *session) output(n int) string {
	raw, _ := os.ReadFile(s.path("out", n, ""))
	return string(raw)
}

// check checks block n's output against its `# →` texts, in order, and
// fails on an API error no `# →` text expects.
func (s *session) check(b block, n int) {
	s.t.Helper()
	out := s.output(n)
	if !holds(out, b.expect) {
		s.t.Errorf("%s: the README says that these texts appear, in order:\n%s\nthe output:\n%s", b, strings.Join(b.expect, "\n"), out)
	}
	if strings.Contains(out, `"error":{`) && !strings.Contains(strings.Join(b.expect, "\n"), `"error"`) {
		s.t.Errorf("%s: the API answered an error the README does not expect:\n%s", b, out)
	}
}

// A background is a block running beside the session: a ledger, or a
// command that follows the stream.
type background struct {
	b    block
	cmd  *exec.Cmd
	out  string
	done chan struct{}
}

// start runs b with bash in the background, in a process group of its own.
func (s *session) start(b block) *background {
	s.t.Helper()
	n := s.write(b)
	bg := &background{b: b, out: s.path("out", n, ""), done: make(chan struct{})}
	f, err := os.Create(bg.out)
	if err != nil {
		s.t.Fatal(err)
	}
	defer f.Close()
	bg.cmd = exec.Command("bash", "--norc", "--noprofile", s.path("blocks", n, ".sh"))
	bg.cmd.Dir, bg.cmd.Env, bg.cmd.Stdout, bg.cmd.Stderr = s.work, s.env, f, f
	bg.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := bg.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	go func() { bg.cmd.Wait(); close(bg.done) }()
	return bg
}

func (bg *background) output() string {
	raw, _ := os.ReadFile(bg.out)
	return string(raw)
}

func (bg *background) exited() bool {
	select {
	case <-bg.done:
		return true
	default:
		return false
	}
}

// stop interrupts bg's process group, as Ctrl-C would, and waits for it.
func (bg *background) stop(tb testing.TB) {
	tb.Helper()
	if bg.exited() {
		return
	}
	syscall.Kill(-bg.cmd.Process.Pid, syscall.SIGINT)
	select {
	case <-bg.done:
	case <-time.After(stopTimeout):
		syscall.Kill(-bg.cmd.Process.Pid, syscall.SIGKILL)
		<-bg.done
		tb.Errorf("%s: still running %s after an interrupt; killed:\n%s", bg.b, stopTimeout, bg.output())
	}
}

// serve starts b, a ledger, and waits until it listens.
func (s *session) serve(b block) {
	s.t.Helper()
	bg := s.start(b)
	s.serves = append(s.serves, bg)
	ok := poll.Within(listenTimeout, func() bool {
		return bg.exited() || strings.Contains(bg.output(), "listening on")
	})
	if !ok || bg.exited() {
		s.t.Fatalf("%s: no \"listening on\" within %s:\n%s", b, listenTimeout, bg.output())
	}
}

// stopLastServe stops the ledger the last serve block started.
func (s *session) stopLastServe() {
	s.t.Helper()
	if len(s.serves) == 0 {
		s.t.Fatal("a restart block with no serve block before it")
	}
	last := s.serves[len(s.serves)-1]
	s.serves = s.serves[:len(s.serves)-1]
	last.stop(s.t)
}

// follow runs b in the session, in the background as a job of its own, until
// its `# →` texts have appeared, then interrupts it as Ctrl-C would.
func (s *session) follow(b block) {
	s.t.Helper()
	if len(b.expect) == 0 {
		s.t.Fatalf("%s: a follow block needs a `# →` text to wait for", b)
	}
	n := s.write(b)
	fmt.Fprintf(s.stdin, "set -m\n{ source %q </dev/null >%q 2>&1 3>&-; } &\nset +m\necho $! >&3\n",
		s.path("blocks", n, ".sh"), s.path("out", n, ""))
	var pid int
	if line, ok := <-s.done; !ok {
		s.t.Fatalf("%s: bash ended", b)
	} else if _, err := fmt.Sscan(line, &pid); err != nil {
		s.t.Fatalf("%s: bash answered %q, not the job's pid", b, line)
	}
	s.jobs = append(s.jobs, pid)
	poll.Within(blockTimeout, func() bool {
		return syscall.Kill(-pid, 0) != nil || holds(s.output(n), b.expect)
	})
	syscall.Kill(-pid, syscall.SIGINT)
	fmt.Fprintf(s.stdin, "wait %d; echo $? >&3\n", pid)
	select {
	case <-s.done:
	case <-time.After(stopTimeout):
		syscall.Kill(-pid, syscall.SIGKILL)
		<-s.done
		s.t.Errorf("%s: still running %s after an interrupt; killed", b, stopTimeout)
	}
	s.check(b, n)
}

// holds reports whether out holds the texts of want, in order.
func holds(out string, want []string) bool {
	for _, w := range want {
		i := strings.Index(out, w)
		if i < 0 {
			return false
		}
		out = out[i+len(w):]
	}
	return true
}
