package events_test

import (
	"encoding/json"
	"errors"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/entledger/ledger/events"
)

var schemaName = regexp.MustCompile(`^([a-z]+\.[a-z_]+)\.v([0-9]+)\.json$`)

// readSchema parses schemas/<name> from events.Schemas.
func readSchema(tb testing.TB, name string) map[string]any {
	tb.Helper()
	b, err := fs.ReadFile(events.Schemas, "schemas/"+name)
	if err != nil {
		tb.Fatalf("schema %s: %v", name, err)
	}
	var s map[string]any
	if err := json.Unmarshal(b, &s); err != nil {
		tb.Fatalf("schema %s: %v", name, err)
	}
	return s
}

func TestSchemaFiles(t *testing.T) {
	seen := map[string]bool{}
	err := fs.WalkDir(events.Schemas, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		name := path.Base(p)
		seen[name] = true
		b, err := fs.ReadFile(events.Schemas, p)
		if err != nil {
			return err
		}
		var s map[string]any
		if err := json.Unmarshal(b, &s); err != nil {
			t.Errorf("%s is not a JSON object: %v", p, err)
			return nil
		}
		if s["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
			t.Errorf("%s: $schema = %v, want draft 2020-12", p, s["$schema"])
		}
		if s["type"] != "object" || s["additionalProperties"] != false {
			t.Errorf("%s: want a closed object schema (type object, additionalProperties false)", p)
		}
		if name == "envelope.json" {
			return nil
		}
		m := schemaName.FindStringSubmatch(name)
		if m == nil {
			t.Errorf("%s: name is not <type>.v<version>.json", p)
			return nil
		}
		version, _ := strconv.Atoi(m[2])
		if cur := events.SchemaVersion(m[1]); cur == 0 || version < 1 || version > cur {
			t.Errorf("%s: type %q version %d is not in the catalogue (current version %d)", p, m[1], version, cur)
		}
		if want := m[1] + " data, version " + m[2]; s["title"] != want {
			t.Errorf("%s: title %v, want %q", p, s["title"], want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !seen["envelope.json"] {
		t.Error("no envelope.json")
	}
	for _, typ := range events.Types() {
		name := typ + ".v" + strconv.Itoa(events.SchemaVersion(typ)) + ".json"
		if !seen[name] {
			t.Errorf("type %s has no schema %s for its current version", typ, name)
		}
	}
}

// The data schema of each type describes exactly the fields the Go type
// encodes, and requires all of them (Marshal always writes every field).
func TestSchemaMatchesDataFields(t *testing.T) {
	for _, e := range samples(t) {
		b, err := json.Marshal(e.Data)
		if err != nil {
			t.Fatal(err)
		}
		var fields map[string]any
		if err := json.Unmarshal(b, &fields); err != nil {
			t.Fatal(err)
		}
		s := readSchema(t, e.Type()+".v"+strconv.Itoa(events.SchemaVersion(e.Type()))+".json")
		props, _ := s["properties"].(map[string]any)
		var req []string
		for _, r := range s["required"].([]any) {
			req = append(req, r.(string))
		}
		sort.Strings(req)
		var keys, propKeys []string
		for k := range fields {
			keys = append(keys, k)
		}
		for k := range props {
			propKeys = append(propKeys, k)
		}
		sort.Strings(keys)
		sort.Strings(propKeys)
		if !slices.Equal(keys, propKeys) {
			t.Errorf("%s: Go fields %v, schema properties %v", e.Type(), keys, propKeys)
		}
		if !slices.Equal(keys, req) {
			t.Errorf("%s: Go fields %v, schema requires %v", e.Type(), keys, req)
		}
	}
}

func TestCheckSchemaRejects(t *testing.T) {
	user := encode(t, sample(t, events.TypeUserRegistered))
	lic := encode(t, sample(t, events.TypeLicenseCreated))
	asg := encode(t, sample(t, events.TypeLicenseAssigned))
	with := func(raw []byte, f func(doc, data map[string]any)) []byte {
		return mutate(t, raw, func(doc map[string]any) { f(doc, dataOf(doc)) })
	}
	for _, tc := range []struct {
		name string
		raw  []byte
	}{
		{"not json", []byte("{")},
		{"not an object", []byte("[1]")},
		{"json null", []byte("null")},
		{"missing required data field", with(user, func(_, d map[string]any) { delete(d, "entitlement_country") })},
		{"missing required data field (bool)", with(asg, func(_, d map[string]any) { delete(d, "new_window") })},
		{"missing email", with(user, func(_, d map[string]any) { delete(d, "email") })},
		{"wrong type: seats as string", with(lic, func(_, d map[string]any) { d["seats"] = "5" })},
		{"wrong type: seats fractional", with(lic, func(_, d map[string]any) { d["seats"] = 1.5 })},
		{"wrong type: seats negative", with(lic, func(_, d map[string]any) { d["seats"] = -1 })},
		{"wrong type: new_window as string", with(asg, func(_, d map[string]any) { d["new_window"] = "true" })},
		{"wrong type: products as string", with(lic, func(_, d map[string]any) { d["products"] = "pro" })},
		{"wrong type: product as number", with(lic, func(_, d map[string]any) { d["products"] = []any{1} })},
		{"wrong type: data as array", with(user, func(doc, _ map[string]any) { doc["data"] = []any{} })},
		{"empty products", with(lic, func(_, d map[string]any) { d["products"] = []any{} })},
		{"unknown kind", with(lic, func(_, d map[string]any) { d["kind"] = "gold" })},
		{"extra data property", with(user, func(_, d map[string]any) { d["nickname"] = "al" })},
		{"bad date-time", with(lic, func(_, d map[string]any) { d["valid_from"] = "tomorrow" })},
		{"bad date-time: no zone", with(lic, func(_, d map[string]any) { d["valid_from"] = "2025-01-02T03:04:05" })},
		{"bad date-time: 30 February", with(lic, func(_, d map[string]any) { d["valid_until"] = "2025-02-30T00:00:00Z" })},
		{"bad date-time: envelope time", with(user, func(doc, _ map[string]any) { doc["time"] = "2025-01-02 03:04:05Z" })},
		{"bad email", with(user, func(_, d map[string]any) { d["email"] = "alice" })},
		{"bad country", with(user, func(_, d map[string]any) { d["entitlement_country"] = "de" })},
		{"extra envelope attribute", with(user, func(doc, _ map[string]any) { doc["extra"] = 1 })},
		{"missing envelope attribute", with(user, func(doc, _ map[string]any) { delete(doc, "actor") })},
		{"missing data", with(user, func(doc, _ map[string]any) { delete(doc, "data") })},
		{"empty actor", with(user, func(doc, _ map[string]any) { doc["actor"] = "" })},
		{"specversion 0.3", with(user, func(doc, _ map[string]any) { doc["specversion"] = "0.3" })},
		{"lower-case ULID", with(user, func(doc, _ map[string]any) { doc["id"] = strings.ToLower(sampleID) })},
		{"upper-case prevhash", with(user, func(doc, _ map[string]any) { doc["prevhash"] = strings.ToUpper(sampleHash) })},
		{"bad source", with(user, func(doc, _ map[string]any) { doc["source"] = "/accounts/Acme" })},
		{"schemaversion 0", with(user, func(doc, _ map[string]any) { doc["schemaversion"] = 0 })},
		{"schemaversion fractional", with(user, func(doc, _ map[string]any) { doc["schemaversion"] = 1.5 })},
		{"schemaversion without a schema", with(user, func(doc, _ map[string]any) { doc["schemaversion"] = 99 })},
		{"type without a schema", with(user, func(doc, _ map[string]any) { doc["type"] = "user.exploded" })},
		{"type with a path", with(user, func(doc, _ map[string]any) { doc["type"] = "../envelope" })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := events.CheckSchema(tc.raw); !errors.Is(err, events.ErrSchema) {
				t.Errorf("CheckSchema(%s) = %v, want ErrSchema", tc.raw, err)
			}
		})
	}
}

func TestCheckSchemaAccepts(t *testing.T) {
	user := encode(t, sample(t, events.TypeUserRegistered))
	for _, tc := range []struct {
		name string
		raw  []byte
	}{
		{"as written", user},
		{"empty country", mutate(t, user, func(doc map[string]any) { dataOf(doc)["entitlement_country"] = "" })},
		{"with prevhash", mutate(t, user, func(doc map[string]any) { doc["prevhash"] = sampleHash })},
		{"integer written as 1.0", []byte(strings.Replace(string(user), `"schemaversion":1`, `"schemaversion":1.0`, 1))},
	} {
		if err := events.CheckSchema(tc.raw); err != nil {
			t.Errorf("%s: CheckSchema(%s) = %v", tc.name, tc.raw, err)
		}
	}
}

// Whatever Marshal writes must satisfy the published schema: the schemas are
// the contract for subscribers that do not use this package, and the API
// requires that emitted events validate against them. Each case is an event
// Marshal must either refuse or encode into a schema-valid document.
func TestMarshalOutputSatisfiesSchema(t *testing.T) {
	for _, tc := range []struct {
		name string
		typ  string
		edit func(e *events.Event)
	}{
		{"lower-case ULID id", events.TypeUserRegistered, func(e *events.Event) { e.ID = strings.ToLower(sampleID) }},
		{"account with upper case", events.TypeUserRegistered, func(e *events.Event) { e.Account = "Acme" }},
		{"account with underscore", events.TypeUserRegistered, func(e *events.Event) { e.Account = "acme_corp" }},
		{"account starting with _global", events.TypeUserRegistered, func(e *events.Event) { e.Account = "_globalx" }},
		{"command hash not a SHA-256", events.TypeUserRegistered, func(e *events.Event) { e.CommandHash = "cmd-1" }},
		{"email with upper case", events.TypeUserRegistered, func(e *events.Event) {
			e.Data = events.UserRegistered{Email: "Alice@Example.com", EntitlementCountry: "DE"}
		}},
		{"email without @", events.TypeUserRemoved, func(e *events.Event) { e.Data = events.UserRemoved{Email: "alice"} }},
		{"country not ISO 3166 alpha-2", events.TypeUserRegistered, func(e *events.Event) {
			e.Data = events.UserRegistered{Email: sampleEmail, EntitlementCountry: "Germany"}
		}},
		{"product with space", events.TypeLicenseCreated, func(e *events.Event) {
			d := e.Data.(events.LicenseCreated)
			d.Products = []string{"Pro Plan"}
			e.Data = d
		}},
		{"licence id starting with '-'", events.TypeUserLicenseAttached, func(e *events.Event) {
			e.Data = events.UserLicenseAttached{Email: sampleEmail, LicenseID: "-lic"}
		}},
		{"claimed account not an account id", events.TypeEmailClaimed, func(e *events.Event) {
			e.Data = events.EmailClaimed{Email: sampleEmail, Account: "ACME"}
		}},
		{"account name longer than 200", events.TypeAccountCreated, func(e *events.Event) {
			d := e.Data.(events.AccountCreated)
			d.Name = strings.Repeat("x", 201)
			e.Data = d
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := sample(t, tc.typ)
			tc.edit(&e)
			raw, err := events.Marshal(e)
			if err != nil {
				return // refusing is correct
			}
			if err := events.CheckSchema(raw); err != nil {
				t.Errorf("Marshal wrote an event its own schema rejects: %v\n%s", err, raw)
			}
		})
	}
}

// Decoding is strict (doc.go): a document Unmarshal accepts must satisfy
// the schema. Each case is a variant of a valid document that Unmarshal must
// either refuse or that CheckSchema accepts.
func TestUnmarshalAcceptsOnlySchemaValid(t *testing.T) {
	user := encode(t, sample(t, events.TypeUserRegistered))
	changed := encode(t, sample(t, events.TypeUserCountryChanged))
	asg := encode(t, sample(t, events.TypeLicenseAssigned))
	lic := encode(t, sample(t, events.TypeLicenseCreated))
	for _, tc := range []struct {
		name string
		raw  []byte
	}{
		{"data missing new_window", mutate(t, asg, func(doc map[string]any) { delete(dataOf(doc), "new_window") })},
		{"data missing entitlement_country", mutate(t, user, func(doc map[string]any) { delete(dataOf(doc), "entitlement_country") })},
		{"data missing previous", mutate(t, changed, func(doc map[string]any) { delete(dataOf(doc), "previous") })},
		{"trial licence missing seats", mutate(t, lic, func(doc map[string]any) {
			dataOf(doc)["kind"] = events.KindTrial
			delete(dataOf(doc), "seats")
		})},
		{"envelope attribute in upper case", mutate(t, user, func(doc map[string]any) {
			doc["SpecVersion"] = doc["specversion"]
			delete(doc, "specversion")
		})},
		{"data field in upper case", mutate(t, user, func(doc map[string]any) {
			dataOf(doc)["EMAIL"] = dataOf(doc)["email"]
			delete(dataOf(doc), "email")
		})},
		{"lower-case ULID", mutate(t, user, func(doc map[string]any) { doc["id"] = strings.ToLower(sampleID) })},
		{"command hash not a SHA-256", mutate(t, user, func(doc map[string]any) { doc["commandhash"] = "x" })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := events.Unmarshal(tc.raw); err != nil {
				return // refusing is correct
			}
			if err := events.CheckSchema(tc.raw); err != nil {
				t.Errorf("Unmarshal accepted a document its schema rejects: %v\n%s", err, tc.raw)
			}
		})
	}
}

// CheckSchema is safe for concurrent use (doc.go) and its caches give the
// same answers as a first call.
func TestCheckSchemaConcurrent(t *testing.T) {
	raws := [][]byte{}
	for _, e := range samples(t) {
		raws = append(raws, encode(t, e))
	}
	errs := make(chan error, 4*len(raws))
	for i := 0; i < 4; i++ {
		go func() {
			for _, raw := range raws {
				errs <- events.CheckSchema(raw)
			}
		}()
	}
	for i := 0; i < 4*len(raws); i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
