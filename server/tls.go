package server

import (
	"crypto/tls"
	"fmt"
	"os"
)

// loadTLS loads the API's certificate and key (none: plain HTTP). A key
// file that others may read is refused: it would let them impersonate the
// ledger.
func loadTLS(certFile, keyFile string) (*tls.Config, error) {
	if certFile == "" && keyFile == "" {
		return nil, nil
	}
	if certFile == "" || keyFile == "" {
		return nil, fmt.Errorf("server: --tls-cert and --tls-key go together")
	}
	st, err := os.Stat(keyFile)
	if err != nil {
		return nil, fmt.Errorf("server: --tls-key: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("server: --tls-key %s is readable by others (mode %04o): chmod 600 it", keyFile, st.Mode().Perm())
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("server: --tls-cert/--tls-key: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}
