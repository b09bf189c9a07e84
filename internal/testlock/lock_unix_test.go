//go:build unix

package testlock

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// While one holder has the lock, another open of the file cannot take it;
// once released, it can. (On a file of its own: the machine's lock file is
// taken by the heavy tests of other packages the moment it is free.)
func TestLockExcludes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "heavy.lock")
	release, err := lockFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); !errors.Is(err, syscall.EWOULDBLOCK) {
		t.Fatalf("a second holder took the lock while the first held it: %v", err)
	}
	release()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatalf("the lock was not released: %v", err)
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}
