//go:build !unix

package server

import (
	"errors"
	"os"
)

var errLocked = errors.New("locked")

// lockExclusive is not implemented off Unix: the data directory is not
// protected from a second process there (Pebble's own lock still guards the
// projections).
func lockExclusive(*os.File) error { return nil }

func unlock(*os.File) error { return nil }
