package server

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// lockFile is the file under a data directory whose lock a process holds
// while it uses the directory; it names the holder's pid.
const lockFile = "ledger.lock"

// ErrDataDirInUse is returned by OpenDataDir when another process holds the
// data directory.
var ErrDataDirInUse = errors.New("server: data directory in use")

// ErrNoLedger is returned by OpenDataDir for a directory that holds no
// ledger, when one was expected.
var ErrNoLedger = errors.New("server: no ledger in data directory")

// DataDir is a data directory this process holds exclusively: an embedded
// JetStream under nats/, the projections under projections/ and the keys
// under keys/. Every subcommand that opens any of them takes it first, so a
// second process is refused before it opens anything.
type DataDir struct {
	Path string
	f    *os.File
}

// OpenDataDir takes the lock of the data directory at path. With create,
// a missing directory is created; without it (for subcommands that only
// read), the directory must already hold a ledger. The lock is an advisory
// lock on DIR/ledger.lock, released by Close or when the process ends, even
// by a crash, so a stale lock file never stops a later start.
func OpenDataDir(path string, create bool) (*DataDir, error) {
	if path == "" {
		return nil, errors.New("server: --data: a directory is required")
	}
	if create {
		if err := os.MkdirAll(path, 0o750); err != nil {
			return nil, fmt.Errorf("server: --data %s: %w", path, err)
		}
	} else if err := holdsLedger(path); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(path, lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("server: --data %s: %w", path, err)
	}
	if err := lockExclusive(f); err != nil {
		holder := readHolder(f)
		f.Close()
		if errors.Is(err, errLocked) {
			return nil, fmt.Errorf("%w: another ledger process is using %s (%s): stop the ledger first, or give this one another --data",
				ErrDataDirInUse, path, holder)
		}
		return nil, fmt.Errorf("server: lock %s: %w", filepath.Join(path, lockFile), err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &DataDir{Path: path, f: f}, nil
}

// holdsLedger reports whether path is a data directory a ledger has used.
func holdsLedger(path string) error {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: --data %s does not exist; check the path, or start the ledger there first (ledger serve --data %s)",
			ErrNoLedger, path, path)
	}
	if err != nil {
		return fmt.Errorf("server: --data %s: %w", path, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("%w: --data %s is not a directory", ErrNoLedger, path)
	}
	for _, sub := range []string{"nats", "projections"} {
		if st, err := os.Stat(filepath.Join(path, sub)); err == nil && st.IsDir() {
			return nil
		}
	}
	return fmt.Errorf("%w: --data %s has neither nats/ nor projections/; check the path", ErrNoLedger, path)
}

// readHolder names the process that holds the lock, from the pid it wrote.
func readHolder(f *os.File) string {
	buf := make([]byte, 32)
	n, _ := f.ReadAt(buf, 0)
	if pid, err := strconv.Atoi(strings.TrimSpace(string(buf[:n]))); err == nil && pid > 0 {
		return "pid " + strconv.Itoa(pid)
	}
	return "pid unknown"
}

// Close releases the lock.
func (d *DataDir) Close() error {
	if d == nil || d.f == nil {
		return nil
	}
	err := unlock(d.f)
	if cerr := d.f.Close(); err == nil {
		err = cerr
	}
	d.f = nil
	return err
}
