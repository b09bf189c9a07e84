// Package natsproc runs real nats-server processes for tests: the binary is
// built once from the nats-server module this project already depends on
// (the version in go.mod), and each server starts from a configuration file
// as an operator would start it, with command-line flags only for what a
// test must choose (ports, store directory, server name). It is for tests
// only.
//
// A Proc is safe to use from one goroutine at a time.
package natsproc

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/entledger/ledger/internal/poll"
)

// module is the package path of nats-server's main.
const module = "github.com/nats-io/nats-server/v2"

var build struct {
	once sync.Once
	path string
	err  error
}

// Binary builds nats-server (once per test binary; the Go build cache makes
// later builds cheap) and returns its path.
func Binary(tb testing.TB) string {
	tb.Helper()
	build.once.Do(func() {
		dir, err := os.MkdirTemp("", "natsproc-")
		if err != nil {
			build.err = err
			return
		}
		build.path = filepath.Join(dir, "nats-server")
		cmd := exec.Command("go", "build", "-o", build.path, module)
		cmd.Dir = moduleRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("go build %s: %v\n%s", module, err, out)
		}
	})
	if build.err != nil {
		tb.Fatalf("natsproc: %v", build.err)
	}
	return build.path
}

// moduleRoot is this repository's root (where go.mod is), so that the build
// uses the nats-server version go.mod requires.
func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Root is the repository's root directory: tests start servers from the
// configuration files shipped there.
func Root() string { return moduleRoot() }

// FreePorts returns n distinct free loopback ports.
func FreePorts(tb testing.TB, n int) []int {
	tb.Helper()
	var ports []int
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}

// Options say how to start one server.
type Options struct {
	Config string   // the configuration file, as shipped
	Env    []string // KEY=VALUE added to the environment (the configuration's $VARIABLES)
	Port   int      // client port (-p)
	// Args are further command-line flags, e.g. "-sd", dir or "--cluster",
	// url, "--routes", urls, "-n", name.
	Args []string
	// Dir is the working directory (relative paths in the configuration,
	// such as store_dir, resolve against it); default: a temporary one.
	Dir string
}

// Proc is a running nats-server.
type Proc struct {
	tb   testing.TB
	opts Options
	cmd  *exec.Cmd
	log  *bytes.Buffer
	mu   sync.Mutex // guards log
	done chan struct{}
}

// Start starts a server and waits until it accepts connections; the test's
// cleanup stops it.
func Start(tb testing.TB, o Options) *Proc {
	tb.Helper()
	if o.Dir == "" {
		o.Dir = tb.TempDir()
	}
	p := &Proc{tb: tb, opts: o}
	p.start()
	tb.Cleanup(p.Kill)
	return p
}

func (p *Proc) start() {
	p.tb.Helper()
	args := []string{"-c", p.opts.Config, "-a", "127.0.0.1", "-p", fmt.Sprint(p.opts.Port)}
	args = append(args, p.opts.Args...)
	p.cmd = exec.Command(Binary(p.tb), args...)
	p.cmd.Dir = p.opts.Dir
	p.cmd.Env = append(os.Environ(), p.opts.Env...)
	p.log = &bytes.Buffer{}
	p.cmd.Stdout, p.cmd.Stderr = (*lockedWriter)(p), (*lockedWriter)(p)
	if err := p.cmd.Start(); err != nil {
		p.tb.Fatalf("natsproc: start nats-server -c %s: %v", p.opts.Config, err)
	}
	p.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { cmd.Wait(); close(done) }(p.cmd, p.done)
	exited := false
	up := poll.Within(30*time.Second, func() bool {
		select {
		case <-p.done:
			exited = true
			return true
		default:
		}
		return p.answers()
	})
	switch {
	case exited:
		p.tb.Fatalf("natsproc: nats-server -c %s exited at start:\n%s", p.opts.Config, p.Log())
	case !up:
		p.tb.Fatalf("natsproc: nats-server -c %s not accepting connections after 30s:\n%s", p.opts.Config, p.Log())
	}
}

// answers reports whether the client port sends the server's INFO line.
func (p *Proc) answers() bool {
	c, err := net.DialTimeout("tcp", p.Addr(), time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "INFO ")
}

type lockedWriter Proc

func (w *lockedWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.log.Write(b)
}

// Log is what the server printed so far.
func (p *Proc) Log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// Addr is the client address, host:port.
func (p *Proc) Addr() string { return fmt.Sprintf("127.0.0.1:%d", p.opts.Port) }

// URL is the client URL, without credentials.
func (p *Proc) URL() string { return "nats://" + p.Addr() }

// Kill ends the process with SIGKILL and waits for it; calling it twice is
// fine.
func (p *Proc) Kill() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	select {
	case <-p.done:
	default:
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
	}
}

// Pause stops the process (SIGSTOP): its connections stay open and
// nothing on them is answered, as with a server that hangs. Resume or
// Kill ends the pause.
func (p *Proc) Pause() {
	p.tb.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		p.tb.Fatalf("natsproc: pause: %v", err)
	}
}

// Resume continues a paused process (SIGCONT).
func (p *Proc) Resume() {
	p.tb.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		p.tb.Fatalf("natsproc: resume: %v", err)
	}
}

// Restart starts the killed server again with the same options.
func (p *Proc) Restart() {
	p.tb.Helper()
	p.Kill()
	p.start()
}
