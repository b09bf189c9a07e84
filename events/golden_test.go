package events_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"testing"

	"github.com/entledger/ledger/events"
)

// update rewrites the golden files and the FuzzUnmarshal seed files, and
// the event catalogue docs/events.md made from them:
//
//	go test ./events -run Golden -update
//	go test ./events -run Catalogue -update
var update = flag.Bool("update", false, "rewrite testdata/golden, testdata/fuzz/FuzzUnmarshal seeds and docs/events.md")

const (
	goldenDir   = "testdata/golden"
	fuzzSeedDir = "testdata/fuzz/FuzzUnmarshal"
)

// goldenName matches <type>.v<version>.json.
var goldenName = regexp.MustCompile(`^([a-z]+\.[a-z_]+)\.v([0-9]+)\.json$`)

func goldenPath(typ string, version int) string {
	return filepath.Join(goldenDir, fmt.Sprintf("%s.v%d.json", typ, version))
}

// goldens reads every golden file, keyed by file name.
func goldens(tb testing.TB) map[string][]byte {
	tb.Helper()
	ents, err := os.ReadDir(goldenDir)
	if err != nil {
		tb.Fatalf("read golden files: %v (generate them with -update)", err)
	}
	out := make(map[string][]byte, len(ents))
	for _, ent := range ents {
		b, err := os.ReadFile(filepath.Join(goldenDir, ent.Name()))
		if err != nil {
			tb.Fatal(err)
		}
		out[ent.Name()] = b
	}
	return out
}

// TestGolden proves that every golden payload still decodes, and that the
// payloads of current schema versions re-encode to exactly the same bytes.
// Golden files of older versions are kept when a version is added: they must
// still decode (through the upcasters) but are not rewritten.
func TestGolden(t *testing.T) {
	if *update {
		if err := os.MkdirAll(goldenDir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, e := range samples(t) {
			path := goldenPath(e.Type(), events.SchemaVersion(e.Type()))
			if err := os.WriteFile(path, encode(t, e), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("wrote %s", path)
		}
	}
	files := goldens(t)
	for _, typ := range events.Types() {
		name := filepath.Base(goldenPath(typ, events.SchemaVersion(typ)))
		if _, ok := files[name]; !ok {
			t.Errorf("no golden file %s for the current version of %s (run with -update)", name, typ)
		}
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		raw := files[name]
		t.Run(name, func(t *testing.T) {
			m := goldenName.FindStringSubmatch(name)
			if m == nil {
				t.Fatalf("golden file name %q is not <type>.v<version>.json", name)
			}
			typ := m[1]
			version, _ := strconv.Atoi(m[2])
			current := events.SchemaVersion(typ)
			if current == 0 {
				t.Fatalf("golden file for unknown type %q", typ)
			}
			if version > current {
				t.Fatalf("golden file of version %d, but %s is at version %d", version, typ, current)
			}
			e, err := events.Unmarshal(raw)
			if err != nil {
				t.Fatalf("old payload no longer decodes: %v\n%s", err, raw)
			}
			if e.Type() != typ {
				t.Errorf("decoded type %q, want %q", e.Type(), typ)
			}
			if version < current {
				return // an old version: decoding is all it promises
			}
			got := encode(t, e)
			if !bytes.Equal(got, raw) {
				t.Errorf("re-encoding differs from the golden file (run with -update if the change is intended):\n got %s\nwant %s", got, raw)
			}
			if err := events.CheckSchema(raw); err != nil {
				t.Errorf("CheckSchema: %v", err)
			}
		})
	}
}

// fuzzSeeds are the FuzzUnmarshal seeds: every golden file, broken variants
// of one and an unusual valid one, keyed by seed file name.
func fuzzSeeds(tb testing.TB) map[string][]byte {
	tb.Helper()
	seeds := map[string][]byte{}
	files := goldens(tb)
	for name, raw := range files {
		seeds["golden-"+name] = raw
	}
	base := files[filepath.Base(goldenPath(events.TypeLicenseAssigned, events.SchemaVersion(events.TypeLicenseAssigned)))]
	if base == nil {
		tb.Fatalf("no golden file for %s", events.TypeLicenseAssigned)
	}
	set := func(key string, v any) []byte {
		return mutate(tb, base, func(doc map[string]any) { doc[key] = v })
	}
	setData := func(key string, v any) []byte {
		return mutate(tb, base, func(doc map[string]any) { dataOf(doc)[key] = v })
	}
	broken := map[string][]byte{
		"empty":              {},
		"null":               []byte("null"),
		"truncated":          base[:len(base)/2],
		"trailing-garbage":   append(bytes.Clone(base), "}x"...),
		"unknown-type":       set("type", "license.stolen"),
		"schemaversion-0":    set("schemaversion", 0),
		"schemaversion-2":    set("schemaversion", 2),
		"unknown-attribute":  set("extra", true),
		"unknown-data-field": setData("extra", true),
		"missing-data":       mutate(tb, base, func(doc map[string]any) { delete(doc, "data") }),
		"non-utc-time":       set("time", "2025-01-02T05:04:05+02:00"),
		"bad-ulid":           set("id", "01JGZ8Y000000000000000000!"),
		"bad-prevhash":       set("prevhash", "ABC"),
		"wrong-aggregate":    set("subject", "user/"+sampleEmail),
		"global-account":     set("source", "/accounts/"+events.GlobalAccount),
		"timers-reversed":    setData("locked_until", "2025-01-01T00:00:00Z"),
	}
	for name, raw := range broken {
		seeds["broken-"+name] = raw
	}
	// Valid but unusual: a time in data with an offset.
	seeds["odd-data-time-offset"] = setData("locked_until", "2025-02-01T05:04:05+02:00")
	return seeds
}

// fuzzCorpusFile is the "go test fuzz v1" encoding of one []byte argument.
func fuzzCorpusFile(b []byte) []byte {
	return []byte(fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b))
}

// TestGoldenFuzzSeeds keeps testdata/fuzz/FuzzUnmarshal in step with the
// golden files. Other files there (crashers the fuzzer saved) are left alone.
func TestGoldenFuzzSeeds(t *testing.T) {
	seeds := fuzzSeeds(t)
	if *update {
		if err := os.MkdirAll(fuzzSeedDir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, raw := range seeds {
			if err := os.WriteFile(filepath.Join(fuzzSeedDir, name), fuzzCorpusFile(raw), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name, raw := range seeds {
		got, err := os.ReadFile(filepath.Join(fuzzSeedDir, name))
		if err != nil {
			t.Errorf("seed file missing (run with -update): %v", err)
			continue
		}
		if !bytes.Equal(got, fuzzCorpusFile(raw)) {
			t.Errorf("seed file %s is out of date (run with -update)", name)
		}
	}
}
