package api

import (
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/entledger/ledger/commands"
)

// CheckHost serves next only the requests whose Host header names the
// ledger: a page on another site that makes its own DNS name resolve to the
// ledger's address (DNS rebinding) sends that name as the Host, and is
// refused with 421 invalid_host before anything is read.
//
// Each entry of allowed is a host name or an IP address, without a port,
// compared with the Host's (port left out) without regard to case and to a
// trailing dot. Two kinds of entry admit more than themselves:
//   - a loopback address (127.0.0.1, ::1) or localhost admits the loopback
//     names localhost, 127.0.0.1 and ::1, and any loopback address;
//   - an unspecified address (0.0.0.0, ::), where a server listens on every
//     interface, admits any IP address and the loopback names: an address
//     is not a name anyone can point elsewhere. DNS names still have to be
//     listed.
//
// A request without a Host (HTTP/1.0) is served: browsers always send one.
func CheckHost(allowed []string, next http.Handler) http.Handler {
	hosts := newHostSet(allowed)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if host := requestHost(r.Host); host != "" && !hosts.admits(host) {
			writeError(w, r, slog.Default(), commands.Reject(commands.CodeInvalidHost,
				"this ledger does not answer to the host %q; add its name with --public-name", host).With("host", host))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// hostSet is what CheckHost admits.
type hostSet struct {
	names    map[string]bool // lower case, without a trailing dot
	loopback bool            // the loopback names and addresses
	anyIP    bool            // every IP address
}

func newHostSet(allowed []string) hostSet {
	s := hostSet{names: map[string]bool{}}
	for _, h := range allowed {
		h = canonicalHost(strings.Trim(h, "[]"))
		if h == "" {
			continue
		}
		s.names[h] = true
		if h == "localhost" {
			s.loopback = true
		}
		if ip, err := netip.ParseAddr(h); err == nil {
			s.loopback = s.loopback || ip.Unmap().IsLoopback() || ip.IsUnspecified()
			s.anyIP = s.anyIP || ip.IsUnspecified()
		}
	}
	return s
}

// admits reports whether host (canonical, from requestHost) names the ledger.
func (s hostSet) admits(host string) bool {
	if s.names[host] {
		return true
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return s.anyIP || s.loopback && ip.Unmap().IsLoopback()
	}
	return s.loopback && host == "localhost"
}

// requestHost is the host of a Host header, without its port or the
// brackets of an IPv6 address, in canonical form.
func requestHost(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	} else {
		h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	}
	return canonicalHost(h)
}

// canonicalHost lower-cases a host and drops one trailing dot: LEDGER.example.
// and ledger.example are one name.
func canonicalHost(h string) string {
	h = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), ".")
	if ip, err := netip.ParseAddr(h); err == nil {
		return ip.String()
	}
	return h
}
