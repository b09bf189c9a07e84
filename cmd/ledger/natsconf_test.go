package main

// The configuration the nats service of docker-compose.yml runs, read from
// the repository through the service's bind mounts: the file its command
// names and the files that file includes, resolved beside it as
// nats-server resolves them.

import (
	"net"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// accountsConf is the file of accounts every NATS server of a deployment
// includes, and the ledger's embedded server runs (package deploy).
const accountsConf = "deploy/nats/accounts.conf"

// checkNATSConfig checks the configuration file the nats service runs with,
// and the files it includes, and returns its monitoring port ("" if it has
// none).
func checkNATSConfig(files repoFiles, nats *ynode, cmd []string, fail func(string, ...any)) string {
	var conf string
	for i, a := range cmd {
		if (a == "-c" || a == "--config") && i+1 < len(cmd) {
			conf = cmd[i+1]
		}
	}
	if conf == "" {
		fail("docker-compose.yml: nats: command %q names no configuration (-c FILE)", cmd)
		return ""
	}
	vols := composeVolumes(nats)
	rel, ok := mountedFrom(vols, conf)
	if !ok {
		fail("docker-compose.yml: nats: no file or directory of the repository is mounted at %s", conf)
		return ""
	}
	text, err := files.get(rel)
	if err != nil {
		fail("docker-compose.yml: nats: the configuration %s: %v", rel, err)
		return ""
	}
	c := parseNATSConf(text)

	// The monitoring port answers without authentication: on loopback
	// only, where the healthcheck asks it from inside the container.
	var monitor, host string
	if v, ok := c.values["http"]; ok {
		if h, p, err := net.SplitHostPort(v); err == nil {
			host, monitor = h, p
		} else {
			monitor = v
		}
	}
	for _, k := range []string{"http_port", "monitor_port"} {
		if v, ok := c.values[k]; ok {
			monitor = v
		}
	}
	for i, a := range cmd {
		if (a == "-m" || a == "--http_port") && i+1 < len(cmd) {
			monitor = cmd[i+1]
		}
	}
	if host == "" {
		host = c.listenHost() // nats-server's default for the monitoring host
	}
	switch {
	case monitor == "":
		fail("%s: no monitoring port (http: 127.0.0.1:PORT); the healthcheck has nothing to ask", rel)
	case !loopback(host):
		fail("%s: the monitoring port %s listens on %s, not on loopback: it answers anyone who reaches it, without authentication (want http: 127.0.0.1:%s)",
			rel, monitor, host, monitor)
	}

	storeDir := c.find("store_dir")
	if name, ok := strings.CutPrefix(storeDir, "$"); ok {
		storeDir = "" // a variable of the service's environment, or nothing
		for _, e := range composeEnv(nats) {
			if e.name == strings.Trim(name, "{}") && e.set {
				storeDir = e.value
			}
		}
	}
	onVolume := false
	for _, v := range vols {
		if v.named && (storeDir == v.target || strings.HasPrefix(storeDir, v.target+"/")) {
			onVolume = true
		}
	}
	if !onVolume {
		fail("%s: jetstream store_dir %q is not on a named volume of the nats service: the events would go with the container", rel, storeDir)
	}

	checkNATSAuth(files, vols, conf, rel, c, fail)
	return monitor
}

// checkNATSAuth checks that every client of the server authenticates: the
// configuration includes accounts.conf, whose users have passwords from
// the environment and whose auth callout sends everyone else to the
// ledger, and nothing lets a client in without credentials. Includes are
// followed, each resolved beside the file that names it.
func checkNATSAuth(files repoFiles, vols []composeVolume, conf, rel string, c natsConf, fail func(string, ...any)) {
	type file struct {
		at, rel string // in the container, in the repository
		c       natsConf
	}
	all := []file{{conf, rel, c}}
	for i := 0; i < len(all); i++ {
		for _, inc := range all[i].c.includes {
			p := inc
			if !path.IsAbs(p) {
				p = path.Join(path.Dir(all[i].at), inc)
			}
			incRel, ok := mountedFrom(vols, p)
			if !ok {
				fail("%s: include %s: nothing of the repository is mounted at %s in the nats container", all[i].rel, inc, p)
				continue
			}
			if slices.ContainsFunc(all, func(f file) bool { return f.rel == incRel }) {
				continue
			}
			text, err := files.get(incRel)
			if err != nil {
				fail("%s: include %s: %v", all[i].rel, inc, err)
				continue
			}
			all = append(all, file{p, incRel, parseNATSConf(text)})
		}
	}
	accounts, callout := false, false
	for _, f := range all {
		accounts = accounts || f.rel == accountsConf
		callout = callout || f.c.values["authorization.auth_callout"] == "{"
		if f.c.find("no_auth_user") != "" {
			fail("%s: no_auth_user lets a client in without credentials", f.rel)
		}
		for _, s := range f.c.secrets {
			if !strings.HasPrefix(s, "$") {
				fail("%s: a password or token written in the file; name a variable ($LEDGER_NATS_...) that secrets/nats.env sets", f.rel)
			}
		}
	}
	if !accounts {
		fail("%s: does not include %s (include ./accounts.conf): without its users and the ledger's auth callout, clients connect with no credentials", rel, accountsConf)
	}
	if !callout {
		fail("%s and what it includes have no authorization { auth_callout }: nothing admits subscribers through the ledger", rel)
	}
}

// mountedFrom is the file of the repository that the service's volumes put
// at the container's path p, if they put one there: the volume mounted
// deepest above p must bind a path of the repository.
func mountedFrom(vols []composeVolume, p string) (string, bool) {
	v := mountAt(vols, p)
	if v == nil || v.named || !strings.HasPrefix(v.source, "./") {
		return "", false
	}
	return path.Join(path.Clean(v.source), strings.TrimPrefix(p, v.target)), true
}

// loopback says whether a listener on host answers this machine (or
// container) only.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// natsConf is what the checks read of a NATS server configuration, line by
// line: each key that starts a line, named with the blocks around it
// ("jetstream.store_dir"), and its value on that line ("{" for a block);
// the files included at the top; and every password and token, wherever
// they are. A value that spans lines is not read.
type natsConf struct {
	values   map[string]string
	includes []string
	secrets  []string
}

var (
	natsKey    = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)(?:\s*[:=]\s*|\s+|$)(.*)$`)
	natsSecret = regexp.MustCompile(`(?:^|[\s{,])(?:password|token)\s*[:=]?\s*("[^"]*"|'[^']*'|[^\s,}\]]+)`)
)

func parseNATSConf(text string) natsConf {
	c := natsConf{values: map[string]string{}}
	var blocks []string // the keys of the blocks around the line; "" for a list item
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(stripNATSComment(line))
		var key, val string
		if m := natsKey.FindStringSubmatch(line); m != nil {
			key, val = m[1], strings.Trim(strings.TrimSpace(m[2]), `"'`)
			c.values[strings.Join(append(blocks[:len(blocks):len(blocks)], key), ".")] = val
			if key == "include" && len(blocks) == 0 {
				c.includes = append(c.includes, val)
			}
		}
		for _, m := range natsSecret.FindAllStringSubmatch(line, -1) {
			c.secrets = append(c.secrets, strings.Trim(m[1], `"'`))
		}
		opened := false
		var quote rune
		for _, r := range line {
			switch {
			case quote != 0:
				if r == quote {
					quote = 0
				}
			case r == '"' || r == '\'':
				quote = r
			case r == '{' || r == '[':
				name := ""
				if !opened && key != "" && strings.HasPrefix(val, string(r)) {
					name = key
				}
				blocks, opened = append(blocks, name), true
			case (r == '}' || r == ']') && len(blocks) > 0:
				blocks = blocks[:len(blocks)-1]
			}
		}
	}
	return c
}

// stripNATSComment cuts a line at a comment: # or // at its start or after
// a space, outside quotes (nats-route://host is no comment).
func stripNATSComment(line string) string {
	var quote byte
	for i := 0; i < len(line); i++ {
		switch ch := line[i]; {
		case quote != 0:
			if ch == quote {
				quote = 0
			}
		case ch == '"' || ch == '\'':
			quote = ch
		case (ch == '#' || strings.HasPrefix(line[i:], "//")) && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t'):
			return line[:i]
		}
	}
	return line
}

// find is the value of key in any block, "" if there is none.
func (c natsConf) find(key string) string {
	for k, v := range c.values {
		if k == key || strings.HasSuffix(k, "."+key) {
			return v
		}
	}
	return ""
}

// listenHost is the host of the client listener, and so of the monitoring
// port when http names none: host, net or listen, else every interface.
func (c natsConf) listenHost() string {
	for _, k := range []string{"host", "net"} {
		if v := c.values[k]; v != "" {
			return v
		}
	}
	if h, _, err := net.SplitHostPort(c.values["listen"]); err == nil && h != "" {
		return h
	}
	return "0.0.0.0"
}

// accounts.conf counts when a file the configuration includes includes it.
func TestDockerChecksFollowNATSIncludes(t *testing.T) {
	files := dockerFiles(t)
	conf, err := files.get("deploy/nats/server.conf")
	if err != nil {
		t.Fatal(err)
	}
	const include = "include ./accounts.conf"
	if strings.Count(conf, include) != 1 {
		t.Fatalf("deploy/nats/server.conf holds %q %d times, want once: update this test to the file", include, strings.Count(conf, include))
	}
	files.set("deploy/nats/server.conf", strings.Replace(conf, include, `include "more/auth.conf"`, 1))
	files.set("deploy/nats/more/auth.conf", "include ../accounts.conf\n")
	for _, err := range checkDocker(files, serveFlags(t)) {
		t.Error(err)
	}
}
