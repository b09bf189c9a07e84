//go:build unix

package testlock

import (
	"os"
	"path/filepath"
	"syscall"
)

// lock takes an exclusive flock on a file in the temporary directory; the
// kernel releases it if the process dies.
func lock() (func(), error) {
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "entledger-heavy-tests.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
