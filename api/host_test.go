package api

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// Item 8 (DNS rebinding): a request is served only if its Host names the
// ledger: a listed name, the listen address, the loopback names when it
// listens on loopback, any IP address when it listens on every interface.
func TestCheckHost(t *testing.T) {
	served := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	for _, tc := range []struct {
		name    string
		allowed []string
		host    string
		ok      bool
	}{
		{"loopback: the address", []string{"127.0.0.1"}, "127.0.0.1:8080", true},
		{"loopback: localhost", []string{"127.0.0.1"}, "localhost:8080", true},
		{"loopback: LOCALHOST.", []string{"127.0.0.1"}, "LOCALHOST.:8080", true},
		{"loopback: ::1", []string{"127.0.0.1"}, "[::1]:8080", true},
		{"loopback: another loopback address", []string{"127.0.0.1"}, "127.0.0.2", true},
		{"loopback: no port", []string{"127.0.0.1"}, "localhost", true},
		{"loopback: a rebound name", []string{"127.0.0.1"}, "attacker.example:8080", false},
		{"loopback: a subdomain of localhost", []string{"127.0.0.1"}, "evil.localhost:8080", false},
		{"loopback: another address", []string{"127.0.0.1"}, "10.0.0.5:8080", false},
		{"localhost by name", []string{"localhost"}, "127.0.0.1:8080", true},
		{"IPv6 loopback", []string{"::1"}, "localhost", true},
		{"public name", []string{"127.0.0.1", "ledger.example.com"}, "Ledger.Example.COM:443", true},
		{"public name with a trailing dot", []string{"ledger.example.com."}, "ledger.example.com", true},
		{"public name: a lookalike", []string{"ledger.example.com"}, "ledger.example.com.attacker.example", false},
		{"one address", []string{"10.0.0.5"}, "10.0.0.5:8080", true},
		{"one address: not loopback", []string{"10.0.0.5"}, "localhost:8080", false},
		{"one address: another", []string{"10.0.0.5"}, "10.0.0.6:8080", false},
		{"every interface: an address", []string{"0.0.0.0"}, "192.168.1.20:8080", true},
		{"every interface: an IPv6 address", []string{"::"}, "[fd00::20]:8080", true},
		{"every interface: localhost", []string{"::"}, "localhost:8080", true},
		{"every interface: a name", []string{"0.0.0.0"}, "attacker.example:8080", false},
		{"every interface: a listed name", []string{"0.0.0.0", "ledger.internal"}, "ledger.internal:8080", true},
		{"every interface: the bracketed form", []string{"[::]"}, "10.1.2.3", true},
		{"no Host (HTTP/1.0)", []string{"127.0.0.1"}, "", true},
		{"nothing allowed", nil, "localhost", false},
	} {
		h := CheckHost(tc.allowed, served)
		r := httptest.NewRequest(http.MethodGet, "/healthz", nil)
		r.Host = tc.host
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		switch {
		case tc.ok && w.Code != http.StatusNoContent:
			t.Errorf("%s: Host %q answered %d, want it served: %s", tc.name, tc.host, w.Code, w.Body)
		case !tc.ok && w.Code != http.StatusMisdirectedRequest:
			t.Errorf("%s: Host %q answered %d, want 421", tc.name, tc.host, w.Code)
		}
	}
}
