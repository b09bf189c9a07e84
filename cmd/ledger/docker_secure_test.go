package main

// Secure as shipped (rule S7), what the compose file and the image can be
// checked for without an engine: no port published beyond loopback and
// the NATS monitoring port not at all; the NATS secrets come from an
// env_file under ./secrets/ and never stand in the compose file; the
// .dockerignore keeps the data directory, the secrets and every key and
// token out of the build context, and the Dockerfile copies none in by
// name. (The NATS configuration: natsconf_test.go.)

import (
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/entledger/ledger/server"
)

// checkPorts checks that every service publishes its ports on loopback
// only, and nats not its monitoring port, which answers without
// authentication.
func checkPorts(services *ynode, monitor string, fail func(string, ...any)) {
	for _, name := range services.keys {
		svc := services.get(name)
		if mode, _ := svc.get("network_mode").str(); mode == "host" {
			fail("docker-compose.yml: %s: network_mode host opens every port it listens on, on the host's interfaces", name)
		}
		for _, p := range composePorts(svc) {
			if !loopback(p.host) {
				on := p.host
				if on == "" {
					on = "every interface"
				}
				fail("docker-compose.yml: %s: port %q is published on %s; publish it on 127.0.0.1 only (\"127.0.0.1:HOST:CONTAINER\")", name, p.spec, on)
			}
			if name == "nats" && monitor != "" && p.target == monitor {
				fail("docker-compose.yml: nats: the monitoring port %s is published (%q): it answers without authentication; the healthcheck asks it inside the container", monitor, p.spec)
			}
		}
	}
}

// A port a compose service publishes.
type composePort struct {
	spec                    string // as written
	host, published, target string
}

// composePorts reads the short syntax, [HOST:][PUBLISHED:]TARGET[/PROTOCOL]
// (an IPv6 host in brackets), and the long one (target, published,
// host_ip).
func composePorts(svc *ynode) []composePort {
	var ports []composePort
	for _, item := range svc.get("ports").list() {
		var p composePort
		if s, ok := item.str(); ok {
			p.spec = s
			s, _, _ = strings.Cut(s, "/")
			if strings.HasPrefix(s, "[") {
				if end := strings.Index(s, "]"); end > 0 {
					p.host, s = s[1:end], strings.TrimPrefix(s[end+1:], ":")
				}
			}
			parts := strings.Split(s, ":")
			p.target = parts[len(parts)-1]
			if len(parts) >= 2 {
				p.published = parts[len(parts)-2]
			}
			if len(parts) >= 3 {
				p.host = strings.Join(parts[:len(parts)-2], ":")
			}
		} else {
			p.target, _ = item.get("target").str()
			p.published, _ = item.get("published").str()
			p.host, _ = item.get("host_ip").str()
			p.spec = fmt.Sprintf("target: %s, published: %s, host_ip: %s", p.target, p.published, p.host)
		}
		ports = append(ports, p)
	}
	return ports
}

// secretName is the name of a variable that holds a secret.
var secretName = regexp.MustCompile(`(?i)(PASSWORD|KEY|TOKEN|SECRET|SEED)$`)

// checkSecretsEnv checks that nats and the ledger take their secrets from
// an env_file under ./secrets/ (which .gitignore and .dockerignore keep to
// the host), and that no service's environment holds one: a variable named
// for a secret with a value written in the file. A value from the host's
// environment ($VAR, ${VAR}) is not written there; a LEDGER_<FLAG> is a
// setting of ledger serve, whose flags take no secret (--signing-key is a
// file's name).
func checkSecretsEnv(services *ynode, serveFlags map[string]bool, fail func(string, ...any)) {
	for _, name := range services.keys {
		for _, v := range composeEnv(services.get(name)) {
			if v.set && v.value != "" && !strings.HasPrefix(v.value, "$") && secretName.MatchString(v.name) && !serveSetting(v.name, serveFlags) {
				fail("docker-compose.yml: %s: environment %s holds a secret written in the file; put it in an env_file under ./secrets/ (ledger nats secrets --out secrets/nats.env)", name, v.name)
			}
		}
	}
	for _, name := range []string{"nats", "ledger"} {
		envFiles := composeEnvFiles(services.get(name))
		underSecrets := false
		for _, f := range envFiles {
			underSecrets = underSecrets || strings.HasPrefix(path.Clean(f), "secrets/")
		}
		if !underSecrets {
			fail("docker-compose.yml: %s: no env_file under ./secrets/ (have %q): its NATS secrets would have to be written in the compose file", name, envFiles)
		}
	}
}

// composeEnvFiles are a service's env_file paths: one, a list, or a list
// of {path, required}.
func composeEnvFiles(svc *ynode) []string {
	ef := svc.get("env_file")
	if s, ok := ef.str(); ok {
		return []string{s}
	}
	var paths []string
	for _, item := range ef.list() {
		s, ok := item.str()
		if !ok {
			s, _ = item.get("path").str()
		}
		paths = append(paths, s)
	}
	return paths
}

// secretPaths are files that must never enter an image, where a checkout
// that a ledger ran beside may hold them: the data directory (admin token,
// signing keys, NATS passwords, the callout key, and the events of its
// embedded JetStream), another data directory, the deployment's secrets,
// and key, password and credentials files wherever an operator saved them.
var secretPaths = []string{
	filepath.ToSlash(server.AdminTokenFile("data")),
	"data/keys/events.ed25519",
	filepath.ToSlash(server.LedgerNATSPasswordFile("data")),
	"data/keys/nats-callout.nk",
	"data/nats/jetstream",
	"old/data/nats/jetstream",
	"secrets/nats.env",
	"secrets/passwords.txt",
	"nats.env",
	"admin.token",
	"keys/events.ed25519",
	"keys/nats-ledger.password",
	"subscribers/alpha.creds",
	"tls/server.key",
}

// checkImageSecrets checks that the ledger's build context leaves out
// every secret path (.dockerignore) and that the Dockerfile copies none in
// by name.
func checkImageSecrets(files repoFiles, ledger *ynode, img *dockerfile, fail func(string, ...any)) {
	buildDir, _ := ledger.get("build").str()
	if c, ok := ledger.get("build").get("context").str(); ok {
		buildDir = c
	}
	rel := path.Join(path.Clean(buildDir), ".dockerignore")
	if text, err := files.get(rel); err != nil {
		fail("%v: without it, COPY . . puts the data directory, the secrets, keys and tokens in the image", err)
	} else {
		patterns := parseDockerignore(text)
		for _, p := range secretPaths {
			if !dockerignored(patterns, p) {
				fail("%s: %s is in the build context, so COPY . . puts it in the image", rel, p)
			}
		}
	}
	for _, st := range img.stages {
		for _, c := range st.copies {
			if c.from != "" {
				continue // from another stage, not from the context
			}
			for _, src := range c.srcs {
				s := path.Clean(strings.TrimPrefix(src, "/"))
				if s == "." {
					continue // what .dockerignore lets in
				}
				for _, p := range secretPaths {
					if match, _ := path.Match(s, p); match || strings.HasPrefix(p, s+"/") {
						fail("Dockerfile: COPY %s copies %s into the image", src, p)
						break
					}
				}
			}
		}
	}
}

// A pattern of a .dockerignore.
type ignorePattern struct {
	re      *regexp.Regexp
	include bool // "!": back into the context
}

// parseDockerignore reads a .dockerignore as Docker does
// (github.com/moby/patternmatcher): a pattern is cleaned and matches from
// the context's root, * and ? within one name, ** across any number of
// directories (none included).
func parseDockerignore(text string) []ignorePattern {
	var patterns []ignorePattern
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var p ignorePattern
		if rest, ok := strings.CutPrefix(line, "!"); ok {
			p.include, line = true, strings.TrimSpace(rest)
		}
		line = strings.TrimPrefix(path.Clean(line), "/")
		var re strings.Builder
		re.WriteString("^")
		for i := 0; i < len(line); i++ {
			switch {
			case strings.HasPrefix(line[i:], "**/"):
				re.WriteString("(.*/)?")
				i += 2
			case strings.HasPrefix(line[i:], "**"):
				re.WriteString(".*")
				i++
			case line[i] == '*':
				re.WriteString("[^/]*")
			case line[i] == '?':
				re.WriteString("[^/]")
			default:
				re.WriteString(regexp.QuoteMeta(line[i : i+1]))
			}
		}
		re.WriteString("$")
		p.re = regexp.MustCompile(re.String())
		patterns = append(patterns, p)
	}
	return patterns
}

// dockerignored says whether the patterns leave rel out of the build
// context: the last pattern that matches rel or a directory above it
// decides.
func dockerignored(patterns []ignorePattern, rel string) bool {
	ignored := false
	for _, p := range patterns {
		for dir := rel; dir != "."; dir = path.Dir(dir) {
			if p.re.MatchString(dir) {
				ignored = !p.include
				break
			}
		}
	}
	return ignored
}

// The .dockerignore reader answers as Docker's documentation says.
func TestDockerignoreMatching(t *testing.T) {
	for _, c := range []struct {
		patterns, path string
		want           bool
	}{
		{"*.nk", "callout.nk", true},
		{"*.nk", "keys/callout.nk", false}, // from the root only
		{"**/*.nk", "keys/callout.nk", true},
		{"**/*.nk", "callout.nk", true},
		{"data/", "data/keys/events.ed25519", true}, // a directory above
		{"/data", "data/admin.token", true},
		{"data/", "old/data/admin.token", false},
		{"**/data/", "old/data/admin.token", true},
		{"*/temp*", "somedir/temporary.txt", true},
		{"*/temp*", "a/b/temporary.txt", false},
		{"temp?", "tempa", true},
		{"data/\n!data/admin.token", "data/admin.token", false},
		{"data/\n!data/admin.token", "data/keys/events.ed25519", true},
		{"!data/admin.token\ndata/", "data/admin.token", true}, // the last match decides
		{"# data/", "data/admin.token", false},
		{"secrets/**", "secrets/nats.env", true},
		{"*.env", "a.env.bak", false},
	} {
		if got := dockerignored(parseDockerignore(c.patterns), c.path); got != c.want {
			t.Errorf("%q ignores %s: %v, want %v", c.patterns, c.path, got, c.want)
		}
	}
}

// A secret from the host's environment, or passed on from it, is not
// written in the compose file, and the ledger reads the NATS secrets'
// variables: the checks take both.
func TestDockerChecksTakeSecretsFromTheEnvironment(t *testing.T) {
	files := dockerFiles(t)
	dc, _ := files.get("docker-compose.yml")
	const old = "      LEDGER_LOG_FORMAT: json\n"
	if strings.Count(dc, old) != 1 {
		t.Fatalf("docker-compose.yml holds %q %d times, want once: update this test to the file", old, strings.Count(dc, old))
	}
	files.set("docker-compose.yml", strings.Replace(dc, old, old+
		"      "+server.EnvLedgerPassword+": ${"+server.EnvLedgerPassword+"}\n"+
		"      "+server.EnvCalloutKey+":\n", 1))
	for _, err := range checkDocker(files, serveFlags(t)) {
		t.Error(err)
	}
}
