package main

// What can be checked about Dockerfile, .dockerignore, docker-compose.yml
// and the NATS configuration it mounts without a Docker engine: the image's
// user owns the directories the volumes mount on (a new named volume copies
// the image's directory, owner included, so this is what keeps the ledger
// from "mkdir /data/keys: permission denied"); NATS has a healthcheck that
// its image can run, against the monitoring port its configuration enables,
// and the ledger waits for it; both restart; the keys are on a volume of
// their own, not on the one for the projections; the ledger's flags and
// LEDGER_ variables are real ones of `ledger serve`.
//
// And that the files are secure as shipped (rule S7, docker_secure_test.go
// and natsconf_test.go): every port is published on loopback only and the
// monitoring port not at all, and it listens on loopback; the NATS
// configuration includes accounts.conf, so every client authenticates;
// the secrets come from an env_file under ./secrets/, never from the
// compose file; no data directory, secret, key or token enters the image.
//
// The files are parsed with the standard library: a small reader for the
// YAML that docker-compose.yml uses (block mappings and lists, one-line flow
// lists, comments, yaml_test.go) that fails on anything else rather than
// guessing, and a line reader of NATS configuration keys.
//
// Not checked, because it needs an engine: that the image builds, that the
// nats image really has wget, that the volumes are populated as described,
// that the ledger starts.

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/entledger/ledger/server"
)

// distrolessNonroot is the uid of the nonroot user of distroless images.
const distrolessNonroot = 65532

// The files, by path from the repository's root: what a test put in their
// place, or nil for a file it took away. Files not in the map are read from
// the repository.
type repoFiles map[string]*string

func (f repoFiles) get(rel string) (string, error) {
	if s, ok := f[rel]; ok {
		if s == nil {
			return "", &fs.PathError{Op: "open", Path: rel, Err: fs.ErrNotExist}
		}
		return *s, nil
	}
	b, err := os.ReadFile(filepath.Join("..", "..", filepath.FromSlash(rel)))
	return string(b), err
}

func (f repoFiles) set(rel, text string) { f[rel] = &text }

func dockerFiles(t *testing.T) repoFiles {
	t.Helper()
	files := repoFiles{}
	for _, rel := range []string{"Dockerfile", "docker-compose.yml"} {
		s, err := files.get(rel)
		if err != nil {
			t.Fatal(err)
		}
		files.set(rel, s)
	}
	return files
}

// serveFlags are the flags of `ledger serve`, from its help, each with
// whether it takes a value.
func serveFlags(t *testing.T) map[string]bool {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if err := Run(context.Background(), []string{"serve", "-h"}, &stdout, &stderr); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("ledger serve -h: %v, want flag.ErrHelp", err)
	}
	flags := map[string]bool{}
	re := regexp.MustCompile(`^  -([A-Za-z0-9][A-Za-z0-9_-]*)( \S+)?$`)
	for _, line := range strings.Split(stderr.String(), "\n") {
		if m := re.FindStringSubmatch(line); m != nil {
			flags[m[1]] = m[2] != ""
		}
	}
	for _, f := range []string{"data", "http", "nats-url", "signing-key", "checkout-key"} {
		if _, ok := flags[f]; !ok {
			t.Fatalf("ledger serve -h does not list --%s; the help's format changed?\n%s", f, stderr.String())
		}
	}
	return flags
}

func TestDockerComposeAndImage(t *testing.T) {
	for _, err := range checkDocker(dockerFiles(t), serveFlags(t)) {
		t.Error(err)
	}
}

// Each check fails when the files break the way it guards against.
func TestDockerChecksCatchBrokenFiles(t *testing.T) {
	const (
		df       = "Dockerfile"
		dc       = "docker-compose.yml"
		ignore   = ".dockerignore"
		conf     = "deploy/nats/server.conf"
		accounts = accountsConf
	)
	flags := serveFlags(t)
	for _, m := range []struct {
		name, file string
		edits      []string // old, new, old, new...; none: the file is taken away
		want       string
	}{
		{"data not chowned", df, []string{"--chown=65532:65532 ", ""}, "owned by uid 65532"},
		{"chowned to another uid", df, []string{"--chown=65532:65532", "--chown=1000:1000"}, "owned by uid 65532"},
		{"keys directory not made", df, []string{"mkdir -p /out/data/keys", "mkdir -p /out/data"}, "/data/keys"},
		{"runs as root", df, []string{"USER 65532:65532", "USER root"}, "runs as root"},
		{"root base, no USER", df, []string{"static-debian12:nonroot\n", "static-debian12\n", "USER 65532:65532\n", ""}, "runs as root"},
		{"no nats healthcheck", dc, []string{"    healthcheck:\n", "    x-healthcheck:\n"}, "no healthcheck"},
		{"healthcheck disabled", dc, []string{`test: ["CMD", "wget"`, `test: ["NONE", "wget"`}, "healthcheck"},
		{"healthcheck tool not in image", dc, []string{"nats:2.12-alpine", "nats:2.12"}, `"wget"`},
		{"nats too old", dc, []string{"nats:2.12-alpine", "nats:2.11-alpine"}, "2.12"},
		{"nats unpinned", dc, []string{"nats:2.12-alpine", "nats:alpine"}, "2.12"},
		{"healthcheck on another port", dc, []string{"127.0.0.1:8222/healthz", "127.0.0.1:8223/healthz"}, "8223"},
		{"no monitoring port", conf, []string{"http: 127.0.0.1:8222", "# http: 127.0.0.1:8222"}, "monitoring"},
		{"monitoring on another port", conf, []string{"http: 127.0.0.1:8222", "http: 127.0.0.1:8223"}, "8222"},
		{"monitoring port by -m", dc, []string{`"-c", "/etc/nats/server.conf"]`, `"-c", "/etc/nats/server.conf", "-m", "8223"]`}, "8223"},
		{"config not in repo", dc, []string{"./deploy/nats:", "./deploy/natz:"}, "deploy/natz/server.conf"},
		{"config file, not its directory", dc, []string{"./deploy/nats:/etc/nats:ro", "./deploy/nats/server.conf:/etc/nats/server.conf:ro"}, "nothing of the repository is mounted at /etc/nats/accounts.conf"},
		{"config not mounted", dc, []string{"./deploy/nats:/etc/nats:ro", "./deploy/nats:/etc/natsd:ro"}, "mounted at /etc/nats/server.conf"},
		{"store_dir off the volume", dc, []string{"NATS_STORE_DIR: /data", "NATS_STORE_DIR: /tmp/js"}, "store_dir"},
		{"store_dir in the file, off the volume", conf, []string{"store_dir: $NATS_STORE_DIR", "store_dir: /tmp/js"}, "store_dir"},
		{"store_dir from a variable not set", dc, []string{"      NATS_STORE_DIR: /data   # store_dir in the configuration, on the nats-data volume\n", ""}, "store_dir"},
		{"depends_on started", dc, []string{"condition: service_healthy", "condition: service_started"}, "service_healthy"},
		{"depends_on list", dc, []string{"    depends_on:\n      nats:\n        condition: service_healthy\n", "    depends_on:\n      - nats\n"}, "service_healthy"},
		{"nats no restart", dc, []string{"server.conf\"]\n    restart: unless-stopped\n", "server.conf\"]\n"}, "nats: no restart"},
		{"ledger restart no", dc, []string{"    restart: unless-stopped\n    # LEDGER_NATS_PASSWORD", "    restart: \"no\"\n    # LEDGER_NATS_PASSWORD"}, "ledger: restart"},
		{"keys on the projections volume", dc, []string{"      - ledger-keys:/data/keys   # the signing and checkout keys, on their own\n", ""}, "projections only"},
		{"keys with the projections, honestly", dc, []string{
			"      - ledger-data:/data        # projections only; the events live in NATS\n      - ledger-keys:/data/keys   # the signing and checkout keys, on their own\n",
			"      - ledger-data:/data   # projections and keys\n"}, "own volume"},
		{"volume not declared", dc, []string{"  ledger-keys:\n", ""}, "not declared"},
		{"unknown flag", dc, []string{`"--nats-url"`, `"--nats"`}, "--nats"},
		{"named checkout key", dc, []string{`"--nats-url", "nats://nats:4222"]`, `"--nats-url", "nats://nats:4222", "--checkout-key", "/data/keys/checkout.ed25519"]`}, "--checkout-key"},
		{"signing key off the volumes", dc, []string{`"--nats-url", "nats://nats:4222"]`, `"--nats-url", "nats://nats:4222", "--signing-key", "/keys/events.ed25519"]`}, "not on a volume"},
		{"embedded nats", dc, []string{`, "--nats-url", "nats://nats:4222"`, ""}, "--nats-url"},
		{"unknown variable", dc, []string{"LEDGER_LOG_FORMAT", "LEDGER_LOGFORMAT"}, "LEDGER_LOGFORMAT"},
		{"http on loopback", dc, []string{`"--http", "0.0.0.0:8080"`, `"--http", "127.0.0.1:8080"`}, "loopback"},

		// Secure as shipped (S7). Ports: on loopback only; the
		// monitoring port not published, and listening on loopback.
		{"nats port on every interface", dc, []string{`"127.0.0.1:4222:4222"`, `"4222:4222"`}, "nats: port \"4222:4222\" is published on every interface"},
		{"api port on 0.0.0.0", dc, []string{`"127.0.0.1:8080:8080"`, `"0.0.0.0:8080:8080"`}, "ledger: port \"0.0.0.0:8080:8080\" is published on 0.0.0.0"},
		{"nats port, random host port", dc, []string{`"127.0.0.1:4222:4222"`, `"4222"`}, "127.0.0.1 only"},
		{"long syntax without host_ip", dc, []string{`      - "127.0.0.1:8080:8080"`, "      - target: 8080\n        published: 8080"}, "127.0.0.1 only"},
		{"host network", dc, []string{"  ledger:\n    build: .\n", "  ledger:\n    build: .\n    network_mode: host\n"}, "network_mode host"},
		{"monitoring published", dc, []string{`      - "127.0.0.1:4222:4222"` + "\n", `      - "127.0.0.1:4222:4222"` + "\n" + `      - "127.0.0.1:8222:8222"` + "\n"}, "the monitoring port 8222 is published"},
		{"monitoring on every interface", conf, []string{"http: 127.0.0.1:8222", "http: 0.0.0.0:8222"}, "listens on 0.0.0.0"},
		{"monitoring by port only", conf, []string{"http: 127.0.0.1:8222", "http_port: 8222"}, "listens on 0.0.0.0"},
		{"monitoring by port number", conf, []string{"http: 127.0.0.1:8222", "http: 8222"}, "listens on 0.0.0.0"},

		// Every client authenticates.
		{"no accounts", conf, []string{"include ./accounts.conf", "# include ./accounts.conf"}, "does not include deploy/nats/accounts.conf"},
		{"no auth callout", accounts, []string{"authorization {\n  auth_callout {", "authorization {\n  x_auth_callout {"}, "auth_callout"},
		{"no authorization", accounts, []string{"\nauthorization {\n", "\nx_authorization {\n"}, "auth_callout"},
		{"anonymous user", conf, []string{"include ./accounts.conf", "include ./accounts.conf\nno_auth_user: ledger"}, "no_auth_user"},
		{"password in the file", accounts, []string{"password: $LEDGER_NATS_SYS_PASSWORD", `password: "s3cret"`}, "password or token written in the file"},

		// Secrets from an env_file under ./secrets/, never in the compose file.
		{"password in the environment", dc, []string{"LEDGER_LOG_FORMAT: json", "LEDGER_LOG_FORMAT: json\n      LEDGER_NATS_PASSWORD: hunter2"}, "environment LEDGER_NATS_PASSWORD holds a secret"},
		{"callout key in the environment", dc, []string{"LEDGER_LOG_FORMAT: json", "LEDGER_LOG_FORMAT: json\n      LEDGER_NATS_CALLOUT_KEY: SAAEXAMPLE"}, "environment LEDGER_NATS_CALLOUT_KEY holds a secret"},
		{"a key in a list", dc, []string{"    environment:\n      LEDGER_LOG_FORMAT: json\n", "    environment:\n      - LEDGER_LOG_FORMAT=json\n      - SMTP_KEY=abc\n"}, "environment SMTP_KEY holds a secret"},
		{"a password for nats", dc, []string{"      NATS_STORE_DIR: /data", "      LEDGER_NATS_SYS_PASSWORD: x\n      NATS_STORE_DIR: /data"}, "nats: environment LEDGER_NATS_SYS_PASSWORD"},
		{"nats without env_file", dc, []string{"    env_file: ./secrets/nats.env\n    environment:\n      NATS_STORE_DIR", "    environment:\n      NATS_STORE_DIR"}, "nats: no env_file under ./secrets/"},
		{"ledger env_file elsewhere", dc, []string{"    env_file: ./secrets/nats.env\n    environment:\n      LEDGER_LOG_FORMAT", "    env_file: ./nats.env\n    environment:\n      LEDGER_LOG_FORMAT"}, "ledger: no env_file under ./secrets/"},

		// Nothing secret enters the image.
		{"no .dockerignore", ignore, nil, ".dockerignore"},
		{"data in the context", ignore, []string{"\ndata/\n**/data/\n", "\n"}, "data/nats/jetstream"},
		{"nested data in the context", ignore, []string{"**/data/\n", ""}, "old/data/nats/jetstream"},
		{"secrets in the context", ignore, []string{"\nsecrets/\n", "\n"}, "secrets/passwords.txt"},
		{"keys at the root only", ignore, []string{"**/*.ed25519\n", "*.ed25519\n"}, "keys/events.ed25519"},
		{"creds in the context", ignore, []string{"**/*.creds\n", ""}, "subscribers/alpha.creds"},
		{"token let back in", ignore, []string{".git/\n", ".git/\n!data/admin.token\n"}, "data/admin.token"},
		{"copies the data directory", df, []string{"COPY . .\n", "COPY . .\nCOPY ./data/keys /keys\n"}, "COPY ./data/keys"},
		{"copies the secrets", df, []string{"COPY . .\n", "COPY . .\nCOPY secrets/*.env /etc/\n"}, "COPY secrets/*.env"},
	} {
		t.Run(m.name, func(t *testing.T) {
			files := dockerFiles(t)
			s, err := files.get(m.file)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < len(m.edits); i += 2 {
				if strings.Count(s, m.edits[i]) != 1 {
					t.Fatalf("%s holds %q %d times, want once: update this case to the file", m.file, m.edits[i], strings.Count(s, m.edits[i]))
				}
				s = strings.Replace(s, m.edits[i], m.edits[i+1], 1)
			}
			if m.edits == nil {
				files[m.file] = nil
			} else {
				files.set(m.file, s)
			}
			errs := checkDocker(files, flags)
			for _, err := range errs {
				if strings.Contains(err.Error(), m.want) {
					return
				}
			}
			t.Errorf("with %s edited (%q): no error names %q; errors: %v", m.file, m.edits, m.want, errs)
		})
	}
}

// checkDocker returns what is wrong with the Dockerfile and the compose file.
func checkDocker(files repoFiles, serveFlags map[string]bool) []error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	text, err := files.get("Dockerfile")
	if err != nil {
		return []error{err}
	}
	img, err := parseDockerfile(text)
	if err != nil {
		return []error{fmt.Errorf("Dockerfile: %w", err)}
	}
	if text, err = files.get("docker-compose.yml"); err != nil {
		return []error{err}
	}
	compose, err := parseYAML(text)
	if err != nil {
		return []error{fmt.Errorf("docker-compose.yml: %w", err)}
	}
	uid, err := img.runUID()
	if err != nil {
		fail("Dockerfile: %v", err)
	} else if uid == 0 {
		fail("Dockerfile: the final stage runs as root; use USER or the distroless nonroot base")
	}

	declared := compose.get("volumes")
	services := compose.get("services")
	nats, ledger := services.get("nats"), services.get("ledger")
	if nats == nil || ledger == nil {
		return append(errs, fmt.Errorf("docker-compose.yml: want services nats and ledger"))
	}
	for _, svc := range []string{"nats", "ledger"} {
		restart, _ := services.get(svc).get("restart").str()
		switch {
		case restart == "":
			fail("docker-compose.yml: %s: no restart policy", svc)
		case restart != "always" && restart != "unless-stopped" && !strings.HasPrefix(restart, "on-failure"):
			fail("docker-compose.yml: %s: restart %q does not restart it", svc, restart)
		}
		for _, v := range composeVolumes(services.get(svc)) {
			if v.named && declared.get(v.source) == nil {
				fail("docker-compose.yml: %s: volume %q is not declared under volumes", svc, v.source)
			}
		}
	}

	// NATS: a healthcheck its image can run, against its monitoring port.
	natsCmd, _ := nats.get("command").strs()
	image, _ := nats.get("image").str()
	monitor := checkNATSConfig(files, nats, natsCmd, fail)
	hc := nats.get("healthcheck")
	test, _ := hc.get("test").strs()
	if s, ok := hc.get("test").str(); ok {
		test = []string{"CMD-SHELL", s}
	}
	if disabled, _ := hc.get("disable").str(); hc == nil || len(test) < 2 || disabled == "true" {
		fail("docker-compose.yml: nats: no healthcheck (want healthcheck.test)")
	} else {
		var tools []string
		switch test[0] {
		case "CMD":
			tools = []string{test[1]}
		case "CMD-SHELL":
			tools = []string{"sh", strings.Fields(test[1] + " x")[0]}
		default:
			fail("docker-compose.yml: nats: the healthcheck's test starts with %q, want CMD or CMD-SHELL", test[0])
		}
		// The nats image is FROM scratch with nats-server alone; its
		// -alpine variant has busybox.
		have := map[string]bool{"nats-server": true}
		if strings.Contains(image, "alpine") {
			for _, t := range []string{"sh", "wget", "nc"} {
				have[t] = true
			}
		}
		for _, tool := range tools {
			if !have[tool] {
				fail("docker-compose.yml: nats: the healthcheck runs %q, which image %q does not have (the -alpine variant has busybox wget)", tool, image)
			}
		}
		m := regexp.MustCompile(`https?://[^/:\s"]+:(\d+)(/\S*)?`).FindStringSubmatch(strings.Join(test[1:], " "))
		switch {
		case m == nil:
			fail("docker-compose.yml: nats: the healthcheck asks no http://host:port/ URL")
		case !strings.HasPrefix(m[2], "/healthz"):
			fail("docker-compose.yml: nats: the healthcheck asks %q, want the monitoring endpoint /healthz", m[2])
		case monitor != "" && m[1] != monitor:
			fail("docker-compose.yml: nats: the healthcheck asks port %s, the monitoring port is %s", m[1], monitor)
		}
	}
	if v := regexp.MustCompile(`^nats:(\d+)\.(\d+)`).FindStringSubmatch(image); v == nil {
		fail("docker-compose.yml: nats: image %q; pin nats:2.12 or later (atomic batches)", image)
	} else if major, _ := strconv.Atoi(v[1]); major < 2 || major == 2 && atoi(v[2]) < 12 {
		fail("docker-compose.yml: nats: image %q; atomic batches need nats-server 2.12 or later", image)
	}

	// Secure as shipped (S7).
	checkPorts(services, monitor, fail)
	checkSecretsEnv(services, serveFlags, fail)
	checkImageSecrets(files, ledger, img, fail)

	// The ledger waits for a healthy NATS.
	if cond, _ := ledger.get("depends_on").get("nats").get("condition").str(); cond != "service_healthy" {
		fail("docker-compose.yml: ledger: depends_on nats needs condition: service_healthy (have %q)", cond)
	}

	// The ledger's command and environment.
	cmd, _ := ledger.get("command").strs()
	if len(cmd) == 0 || cmd[0] != "serve" {
		fail("docker-compose.yml: ledger: command %q does not run serve", cmd)
		return errs
	}
	given := map[string]string{}
	for i := 1; i < len(cmd); i++ {
		a := cmd[i]
		if !strings.HasPrefix(a, "-") {
			fail("docker-compose.yml: ledger: unexpected argument %q", a)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		takesValue, ok := serveFlags[name]
		if !ok {
			fail("docker-compose.yml: ledger: %s is not a flag of ledger serve", a)
			continue
		}
		if takesValue && !hasValue {
			if i+1 == len(cmd) {
				fail("docker-compose.yml: ledger: %s wants a value", a)
				break
			}
			i++
			value = cmd[i]
		}
		given[name] = value
	}
	for _, v := range composeEnv(ledger) {
		if !strings.HasPrefix(v.name, "LEDGER_") || ledgerSecretEnv[v.name] {
			continue
		}
		if !serveSetting(v.name, serveFlags) {
			fail("docker-compose.yml: ledger: environment %s sets no flag of ledger serve", v.name)
		}
	}
	if u := given["nats-url"]; !strings.Contains(u, "://nats:") {
		fail("docker-compose.yml: ledger: --nats-url %q does not point at the nats service; without it the ledger runs its own embedded NATS", u)
	}
	if h, _, _ := strings.Cut(given["http"], ":"); h == "" && given["http"] == "" || h == "127.0.0.1" || h == "localhost" {
		fail("docker-compose.yml: ledger: --http %q listens on loopback (or the default 127.0.0.1): the published port cannot reach it", given["http"])
	}
	if _, ok := given["checkout-key"]; ok {
		fail("docker-compose.yml: ledger: --checkout-key names a file that must already exist, so the first start fails; leave it out (the checkout key is derived from the signing key)")
	}
	data := given["data"]
	if !path.IsAbs(data) {
		fail("docker-compose.yml: ledger: --data %q; want an absolute directory on a volume", data)
		return errs
	}

	// Where the ledger keeps what, and which volume holds it.
	vols := composeVolumes(ledger)
	on := func(p string) *composeVolume { return mountAt(vols, p) }
	projections := on(path.Join(data, "projections"))
	if projections == nil || !projections.named {
		fail("docker-compose.yml: ledger: the projections (%s) are not on a named volume", path.Join(data, "projections"))
	}
	signing := given["signing-key"]
	if signing == "" {
		signing = path.Join(data, "keys", "events.ed25519")
	}
	for _, key := range []string{signing} { // the checkout key is derived from it
		v := on(key)
		switch {
		case v == nil:
			fail("docker-compose.yml: ledger: the key %s is not on a volume: a new container would make a new key", key)
		case strings.Contains(strings.ToLower(v.comment), "projections only"):
			fail("docker-compose.yml: ledger: the key %s is on volume %q, whose comment says projections only", key, v.source)
		case v == projections:
			fail("docker-compose.yml: ledger: the key %s shares volume %q with the projections; put the keys on their own volume", key, v.source)
		}
	}

	// The image makes every directory a named volume mounts on, owned by
	// its user: a new volume copies that directory, owner included.
	if uid > 0 {
		for _, v := range vols {
			if v.named {
				if err := img.ownsDir(v.target, uid); err != nil {
					fail("Dockerfile: volume %s at %s: %v", v.source, v.target, err)
				}
			}
		}
	}
	return errs
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// A volume of a compose service.
type composeVolume struct {
	source, target string
	named          bool // a named volume, not a bind mount
	comment        string
}

func composeVolumes(svc *ynode) []composeVolume {
	var vols []composeVolume
	for _, item := range svc.get("volumes").list() {
		var v composeVolume
		if s, ok := item.str(); ok {
			parts := strings.Split(s, ":")
			if len(parts) == 1 {
				v.target = parts[0]
			} else {
				v.source, v.target = parts[0], parts[1]
			}
			v.comment = item.comment
		} else {
			v.source, _ = item.get("source").str()
			v.target, _ = item.get("target").str()
			for _, k := range item.keys {
				v.comment += item.m[k].comment + " "
			}
		}
		v.named = v.source != "" && !strings.HasPrefix(v.source, ".") && !strings.HasPrefix(v.source, "/") && !strings.HasPrefix(v.source, "~")
		v.target = path.Clean(v.target)
		vols = append(vols, v)
	}
	return vols
}

// mountAt is the volume mounted deepest above the container's path p, nil
// if none is.
func mountAt(vols []composeVolume, p string) *composeVolume {
	var best *composeVolume
	for i, v := range vols {
		if (p == v.target || strings.HasPrefix(p, v.target+"/")) && (best == nil || len(v.target) > len(best.target)) {
			best = &vols[i]
		}
	}
	return best
}

// An environment variable of a compose service. Without a value (KEY:
// alone, or - KEY) it passes on the host's.
type composeEnvVar struct {
	name, value string
	set         bool
}

// composeEnv returns a service's environment variables.
func composeEnv(svc *ynode) []composeEnvVar {
	env := svc.get("environment")
	var vars []composeEnvVar
	if env != nil && env.kind == yMap {
		for _, k := range env.keys {
			v, set := env.m[k].str()
			vars = append(vars, composeEnvVar{k, v, set})
		}
		return vars
	}
	for _, item := range env.list() {
		s, _ := item.str()
		name, v, set := strings.Cut(s, "=")
		vars = append(vars, composeEnvVar{name, v, set})
	}
	return vars
}

// ledgerSecretEnv are the variables the ledger reads its NATS secrets
// from, deliberately not flags (config.go, server.ReadSecret).
var ledgerSecretEnv = map[string]bool{server.EnvLedgerPassword: true, server.EnvCalloutKey: true}

// serveSetting says whether the variable sets a flag of ledger serve
// (LEDGER_<FLAG>).
func serveSetting(name string, serveFlags map[string]bool) bool {
	rest, ok := strings.CutPrefix(name, "LEDGER_")
	_, isFlag := serveFlags[strings.ReplaceAll(strings.ToLower(rest), "_", "-")]
	return ok && isFlag
}

// A Dockerfile, as far as these checks need it.
type dockerfile struct{ stages []stage }

type stage struct {
	base, name string
	user       string // the last USER, "" if none
	copies     []dockerCopy
	runs       []string
}

type dockerCopy struct {
	from, chown string
	srcs        []string
	dest        string
}

func parseDockerfile(text string) (*dockerfile, error) {
	var df dockerfile
	var logical []string
	var cur strings.Builder
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || trimmed == "" && cur.Len() == 0 {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		logical = append(logical, cur.String())
		cur.Reset()
	}
	for _, line := range logical {
		instr, args, _ := strings.Cut(line, " ")
		args = strings.TrimSpace(args)
		instr = strings.ToUpper(instr)
		if instr == "FROM" {
			f := strings.Fields(args)
			var s stage
			for len(f) > 0 && strings.HasPrefix(f[0], "--") {
				f = f[1:]
			}
			if len(f) == 0 {
				return nil, fmt.Errorf("FROM without an image")
			}
			s.base = f[0]
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				s.name = f[2]
			}
			df.stages = append(df.stages, s)
			continue
		}
		if len(df.stages) == 0 {
			if instr == "ARG" {
				continue
			}
			return nil, fmt.Errorf("%s before FROM", instr)
		}
		s := &df.stages[len(df.stages)-1]
		switch instr {
		case "USER":
			s.user = args
		case "RUN":
			s.runs = append(s.runs, args)
		case "COPY", "ADD":
			var c dockerCopy
			f := strings.Fields(args)
			for len(f) > 0 && strings.HasPrefix(f[0], "--") {
				k, v, _ := strings.Cut(strings.TrimPrefix(f[0], "--"), "=")
				switch k {
				case "from":
					c.from = v
				case "chown":
					c.chown = v
				}
				f = f[1:]
			}
			if len(f) > 0 && strings.HasPrefix(f[0], "[") {
				if err := jsonStrings(strings.Join(f, " "), &f); err != nil {
					return nil, fmt.Errorf("%s %s: %w", instr, args, err)
				}
			}
			if len(f) < 2 {
				return nil, fmt.Errorf("%s %s: want a source and a destination", instr, args)
			}
			c.srcs, c.dest = f[:len(f)-1], path.Clean(f[len(f)-1])
			s.copies = append(s.copies, c)
		}
	}
	if len(df.stages) == 0 {
		return nil, fmt.Errorf("no FROM")
	}
	return &df, nil
}

// jsonStrings parses a one-line list of quoted strings, ["a", "b"].
func jsonStrings(s string, out *[]string) error {
	n, err := parseFlow(s)
	if err != nil {
		return err
	}
	*out = nil
	for _, item := range n.seq {
		*out = append(*out, item.scalar)
	}
	return nil
}

func resolveUID(user string) (int, error) {
	name, _, _ := strings.Cut(user, ":")
	switch name {
	case "root":
		return 0, nil
	case "nonroot":
		return distrolessNonroot, nil
	}
	uid, err := strconv.Atoi(name)
	if err != nil {
		return 0, fmt.Errorf("user %q: name it by uid (the checks cannot read the image's /etc/passwd)", user)
	}
	return uid, nil
}

// runUID is the uid the final stage runs as.
func (df *dockerfile) runUID() (int, error) {
	final := df.stages[len(df.stages)-1]
	if final.user != "" {
		return resolveUID(final.user)
	}
	if regexp.MustCompile(`^gcr\.io/distroless/[^:]+:(.*-)?nonroot$`).MatchString(final.base) {
		return distrolessNonroot, nil
	}
	return 0, nil
}

// ownsDir says whether the final stage makes dir owned by uid: copied with
// --chown=uid from a build stage that makes it with mkdir.
func (df *dockerfile) ownsDir(dir string, uid int) error {
	final := df.stages[len(df.stages)-1]
	for _, c := range final.copies {
		if dir != c.dest && !strings.HasPrefix(dir, c.dest+"/") {
			continue
		}
		if c.chown == "" {
			return fmt.Errorf("%s is copied in without --chown, so it is root's, not owned by uid %d", c.dest, uid)
		}
		if owner, err := resolveUID(c.chown); err != nil || owner != uid {
			return fmt.Errorf("%s is copied in with --chown=%s, not owned by uid %d, the user the image runs as", c.dest, c.chown, uid)
		}
		if c.from == "" || len(c.srcs) != 1 {
			return fmt.Errorf("%s: copy one directory from a build stage that makes it", c.dest)
		}
		var from *stage
		for i := range df.stages[:len(df.stages)-1] {
			if df.stages[i].name == c.from || strconv.Itoa(i) == c.from {
				from = &df.stages[i]
			}
		}
		if from == nil {
			return fmt.Errorf("%s: --from=%s is no build stage of this Dockerfile", c.dest, c.from)
		}
		want := path.Join(path.Clean(c.srcs[0]), strings.TrimPrefix(dir, c.dest))
		for _, run := range from.runs {
			words := strings.FieldsFunc(run, func(r rune) bool { return r == ' ' || r == ';' || r == '&' })
			mkdir, parents := false, false
			for _, w := range words {
				switch {
				case w == "mkdir":
					mkdir, parents = true, false
				case mkdir && w == "-p":
					parents = true
				case mkdir && strings.HasPrefix(w, "-"):
				case mkdir && (path.Clean(w) == want || parents && strings.HasPrefix(path.Clean(w), want+"/")):
					return nil
				case !strings.HasPrefix(w, "/"):
					mkdir = false
				}
			}
		}
		return fmt.Errorf("stage %s makes no %s (mkdir) for COPY %s %s", c.from, want, c.srcs[0], c.dest)
	}
	return fmt.Errorf("the image does not make %s, so the volume is root's and uid %d cannot write it (want COPY --from=build --chown=%d:%d DIR %s)", dir, uid, uid, uid, dir)
}
