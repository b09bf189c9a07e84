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
// once released, it can.
func TestLockExcludes(t *testing.T) {
	release, err := lock()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "entledger-heavy-tests.lock"), os.O_RDWR, 0)
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
