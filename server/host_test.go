package server

import (
	"net"
	"slices"
	"testing"
)

// Item 8 (DNS rebinding): the API answers to the host of --http as written,
// the address it is bound to and the public names.
func TestAllowedHosts(t *testing.T) {
	tcp := func(s string) net.Addr { a, _ := net.ResolveTCPAddr("tcp", s); return a }
	for _, tc := range []struct {
		httpAddr string
		bound    net.Addr
		names    []string
		want     []string
	}{
		{"127.0.0.1:8080", tcp("127.0.0.1:8080"), nil, []string{"127.0.0.1", "127.0.0.1"}},
		{"localhost:0", tcp("127.0.0.1:41234"), nil, []string{"localhost", "127.0.0.1"}},
		{"0.0.0.0:8080", tcp("0.0.0.0:8080"), []string{"ledger.example.com"}, []string{"0.0.0.0", "0.0.0.0", "ledger.example.com"}},
		{":8080", tcp("[::]:8080"), []string{"a.example", "b.example"}, []string{"::", "a.example", "b.example"}},
	} {
		got := allowedHosts(Config{HTTPAddr: tc.httpAddr, PublicNames: tc.names}, tc.bound)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.httpAddr, got, tc.want)
		}
	}
}
