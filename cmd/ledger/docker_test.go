package main

// What can be checked about Dockerfile and docker-compose.yml without a
// Docker engine: the image's user owns the directories the volumes mount
// on (a new named volume copies the image's directory, owner included, so
// this is what keeps the ledger from "mkdir /data/keys: permission denied");
// NATS has a healthcheck that its image can run, against the monitoring port
// its configuration enables, and the ledger waits for it; both restart; the
// keys are on a volume of their own, not on the one for the projections; the
// ledger's flags and LEDGER_ variables are real ones of `ledger serve`.
//
// The files are parsed with the standard library: a small reader for the
// YAML that docker-compose.yml uses (block mappings and lists, one-line flow
// lists, comments) that fails on anything else rather than guessing.
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
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// distrolessNonroot is the uid of the nonroot user of distroless images.
const distrolessNonroot = 65532

// The files, by path from the repository's root. Files not in the map are
// read from the repository.
type repoFiles map[string]string

func (f repoFiles) get(rel string) (string, error) {
	if s, ok := f[rel]; ok {
		return s, nil
	}
	b, err := os.ReadFile(filepath.Join("..", "..", filepath.FromSlash(rel)))
	return string(b), err
}

func dockerFiles(t *testing.T) repoFiles {
	t.Helper()
	files := repoFiles{}
	for _, rel := range []string{"Dockerfile", "docker-compose.yml"} {
		s, err := files.get(rel)
		if err != nil {
			t.Fatal(err)
		}
		files[rel] = s
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
		df   = "Dockerfile"
		dc   = "docker-compose.yml"
		conf = "docs/nats-server.conf"
	)
	flags := serveFlags(t)
	for _, m := range []struct {
		name, file string
		edits      []string // old, new, old, new...
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
		{"no monitoring port", conf, []string{"http_port: 8222", "# http_port: 8222"}, "monitoring"},
		{"monitoring on another port", conf, []string{"http_port: 8222", "http_port: 8223"}, "8222"},
		{"config not in repo", dc, []string{"./docs/nats-server.conf:", "./docs/nats.conf:"}, "docs/nats.conf"},
		{"store_dir off the volume", conf, []string{"store_dir: /data", "store_dir: /tmp/js"}, "store_dir"},
		{"depends_on started", dc, []string{"condition: service_healthy", "condition: service_started"}, "service_healthy"},
		{"depends_on list", dc, []string{"    depends_on:\n      nats:\n        condition: service_healthy\n", "    depends_on:\n      - nats\n"}, "service_healthy"},
		{"nats no restart", dc, []string{"    restart: unless-stopped\n    ports:", "    ports:"}, "nats: no restart"},
		{"ledger restart no", dc, []string{"    restart: unless-stopped\n    environment:", "    restart: \"no\"\n    environment:"}, "ledger: restart"},
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
			files[m.file] = s
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

	img, err := parseDockerfile(files["Dockerfile"])
	if err != nil {
		return []error{fmt.Errorf("Dockerfile: %w", err)}
	}
	compose, err := parseYAML(files["docker-compose.yml"])
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
	for _, name := range composeEnv(ledger) {
		if !strings.HasPrefix(name, "LEDGER_") {
			continue
		}
		flag := strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(name, "LEDGER_")), "_", "-")
		if _, ok := serveFlags[flag]; !ok {
			fail("docker-compose.yml: ledger: environment %s sets no flag of ledger serve", name)
		}
	}
	if u := given["nats-url"]; !strings.Contains(u, "://nats:") {
		fail("docker-compose.yml: ledger: --nats-url %q does not point at the nats service; without it the ledger runs its own embedded NATS", u)
	}
	if h, _, _ := strings.Cut(given["http"], ":"); h == "" && given["http"] == "" || h == "127.0.0.1" || h == "localhost" {
		fail("docker-compose.yml: ledger: --http %q listens on loopback (or the default 127.0.0.1): the published port cannot reach it", given["http"])
	}
	if _, ok := given["checkout-key"]; ok {
		fail("docker-compose.yml: ledger: --checkout-key names a file that must already exist, so the first start fails; leave it out (DATA/keys/checkout.ed25519 is made on the first start)")
	}
	data := given["data"]
	if !path.IsAbs(data) {
		fail("docker-compose.yml: ledger: --data %q; want an absolute directory on a volume", data)
		return errs
	}

	// Where the ledger keeps what, and which volume holds it.
	vols := composeVolumes(ledger)
	on := func(p string) *composeVolume {
		var best *composeVolume
		for i, v := range vols {
			if (p == v.target || strings.HasPrefix(p, v.target+"/")) && (best == nil || len(v.target) > len(best.target)) {
				best = &vols[i]
			}
		}
		return best
	}
	projections := on(path.Join(data, "projections"))
	if projections == nil || !projections.named {
		fail("docker-compose.yml: ledger: the projections (%s) are not on a named volume", path.Join(data, "projections"))
	}
	signing := given["signing-key"]
	if signing == "" {
		signing = path.Join(data, "keys", "events.ed25519")
	}
	for _, key := range []string{signing, path.Join(data, "keys", "checkout.ed25519")} {
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

// checkNATSConfig checks the configuration file the nats service runs with
// and returns its monitoring port ("" if it has none).
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
	var src string
	for _, v := range vols {
		if v.target == conf && !v.named {
			src = v.source
		}
	}
	if !strings.HasPrefix(src, "./") {
		fail("docker-compose.yml: nats: no file of the repository is mounted at %s", conf)
		return ""
	}
	rel := path.Clean(strings.TrimPrefix(src, "./"))
	text, err := files.get(rel)
	if err != nil {
		fail("docker-compose.yml: nats: the configuration %s: %v", rel, err)
		return ""
	}
	var monitor, storeDir string
	depth := 0
	re := regexp.MustCompile(`^\s*([A-Za-z_]+)\s*[:=]?\s*"?([^"{}\s]*)"?`)
	for _, line := range strings.Split(text, "\n") {
		if i := strings.Index(line, "#"); i >= 0 {
			line = line[:i]
		}
		if m := re.FindStringSubmatch(line); m != nil {
			switch key, val := m[1], m[2]; {
			case depth == 0 && (key == "http_port" || key == "monitor_port"):
				monitor = val
			case depth == 0 && (key == "http" || key == "monitor"):
				_, monitor, _ = strings.Cut(val, ":")
			case key == "store_dir":
				storeDir = val
			}
		}
		depth += strings.Count(line, "{") - strings.Count(line, "}")
	}
	for i, a := range cmd {
		if (a == "-m" || a == "--http_port") && i+1 < len(cmd) {
			monitor = cmd[i+1]
		}
	}
	if monitor == "" {
		fail("%s: no monitoring port (http_port); the healthcheck has nothing to ask", rel)
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
	return monitor
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

// composeEnv returns the names of a service's environment variables.
func composeEnv(svc *ynode) []string {
	env := svc.get("environment")
	if env == nil {
		return nil
	}
	if env.kind == yMap {
		return env.keys
	}
	var names []string
	for _, item := range env.list() {
		s, _ := item.str()
		name, _, _ := strings.Cut(s, "=")
		names = append(names, name)
	}
	return names
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
