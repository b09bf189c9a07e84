//go:build unix

package server

import (
	"errors"
	"os"
	"syscall"
)

var errLocked = errors.New("locked")

// lockExclusive takes an exclusive advisory lock on f without waiting.
func lockExclusive(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return errLocked
	}
	return err
}

func unlock(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
