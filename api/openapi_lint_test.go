package api

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The OpenAPI document is linted by Redocly's and Spectral's command-line
// tools, pinned here, which npm installs once into the user's cache
// directory (never into the repository). Without node and npm the lint
// tests are skipped, unless LEDGER_OPENAPI_LINT=1 (as .ci/run sets) makes
// that a failure.
const (
	redoclyPackage  = "@redocly/cli@1.34.20"           // the 1.x line runs on Debian's Node 18
	spectralPackage = "@stoplight/spectral-cli@6.16.3" // Node 18 or later
)

// redoclyConfig is Redocly's recommended rules with every warning an
// error, but one: info-license asks for the licence the API is offered
// under, and the project declares none, so the document cannot name one.
const redoclyConfig = `extends:
  - recommended-strict
rules:
  info-license: off
`

// spectralRuleset is Spectral's recommended OpenAPI rules.
const spectralRuleset = `extends: [["spectral:oas", "recommended"]]
`

var linters struct {
	once sync.Once
	bin  string // node_modules/.bin of the installation
	err  string // why there is none
}

// lintBin returns the directory of the installed linters' commands,
// installing them on first use.
func lintBin(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("LEDGER_OPENAPI_LINT") == "1" {
				t.Fatalf("%s not found, and LEDGER_OPENAPI_LINT=1 requires the OpenAPI lint: apt-get install nodejs npm", tool)
			}
			t.Skipf("%s not found: the OpenAPI lint is skipped (apt-get install nodejs npm, or set LEDGER_OPENAPI_LINT=1 to make this a failure)", tool)
		}
	}
	linters.once.Do(func() { linters.bin, linters.err = installLinters() })
	if linters.err != "" {
		t.Fatal(linters.err)
	}
	return linters.bin
}

// installLinters installs the pinned packages into a directory of the
// user's cache named after them, unless an earlier run did. It installs
// into a fresh directory beside it and renames that into place, so a run
// beside it never sees half an installation.
func installLinters() (bin, problem string) {
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	name := strings.NewReplacer("@", "", "/", "-").Replace(redoclyPackage + "_" + spectralPackage)
	dir := filepath.Join(cache, "entledger-openapi-lint", name)
	bin = filepath.Join(dir, "node_modules", ".bin")
	if _, err := os.Stat(filepath.Join(bin, "spectral")); err == nil {
		return bin, ""
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err.Error()
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "install-")
	if err != nil {
		return "", err.Error()
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command("npm", "install", "--prefix", tmp, "--no-audit", "--no-fund", "--no-save", "--loglevel=error",
		redoclyPackage, spectralPackage)
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", "npm install " + redoclyPackage + " " + spectralPackage + ": " + err.Error() + "\n" + string(out)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(filepath.Join(bin, "spectral")); statErr != nil { // not another run's, in place
			return "", err.Error()
		}
	}
	return bin, ""
}

// lintInput writes the document the API builds and the linter's
// configuration into a temporary directory and returns its path.
func lintInput(t *testing.T, config, configText string) (doc, cfg string) {
	t.Helper()
	dir := t.TempDir()
	doc, cfg = filepath.Join(dir, "openapi.json"), filepath.Join(dir, config)
	if err := os.WriteFile(doc, routeTable().OpenAPI(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte(configText), 0o644); err != nil {
		t.Fatal(err)
	}
	return doc, cfg
}

// lint runs a linter's command and fails t with its output if it finds
// anything.
func lint(t *testing.T, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "REDOCLY_TELEMETRY=off", "REDOCLY_SUPPRESS_UPDATE_NOTICE=true", "NO_COLOR=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("%s %s: %v\n%s\nFix the generator (api/openapi*.go), then go test ./api -run OpenAPI -update", filepath.Base(name), args[0], err, out)
	}
}

// TestOpenAPIRedocly: Redocly's recommended rules find nothing, not even a
// warning.
func TestOpenAPIRedocly(t *testing.T) {
	bin := lintBin(t)
	doc, cfg := lintInput(t, "redocly.yaml", redoclyConfig)
	lint(t, filepath.Join(bin, "redocly"), "lint", "--config", cfg, "--format", "stylish", doc)
}

// TestOpenAPISpectral: Spectral's recommended OpenAPI rules find nothing,
// not even a warning.
func TestOpenAPISpectral(t *testing.T) {
	bin := lintBin(t)
	doc, cfg := lintInput(t, ".spectral.yaml", spectralRuleset)
	lint(t, filepath.Join(bin, "spectral"), "lint", "--ruleset", cfg, "--fail-severity", "hint", "--format", "text", doc)
}
