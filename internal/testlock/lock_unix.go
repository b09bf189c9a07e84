//go:build unix

package testlock

import (
	"os"
	"path/filepath"
	"syscall"
)

// lock takes an exclusive flock on the machine's heavy-test lock file.
func lock() (func(), error) {
	return lockFile(filepath.Join(os.TempDir(), "entledger-heavy-tests.lock"))
}

// lockFile takes an exclusive flock on the file at path; the kernel
// releases it if the process dies.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
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
