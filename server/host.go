package server

import "net"

// allowedHosts are the hosts the API answers to (api.CheckHost): the host
// of the configured HTTP address as written (a name such as localhost, or
// an address), the address the listener is bound to (0.0.0.0 or :: when it
// listens on every interface, which admits any IP address), and the
// configured public names.
func allowedHosts(cfg Config, bound net.Addr) []string {
	var hosts []string
	if host, _, err := net.SplitHostPort(cfg.HTTPAddr); err == nil && host != "" {
		hosts = append(hosts, host)
	}
	if host, _, err := net.SplitHostPort(bound.String()); err == nil {
		hosts = append(hosts, host)
	}
	return append(hosts, cfg.PublicNames...)
}
