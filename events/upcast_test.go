package events_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/entledger/ledger/events"
)

// rule G9: usage.recorded and license.created of version 1 were written
// before countries; they still read, through the upcaster, as country none
// (null): usage served by global seats only, a global licence.
func TestVersion1ReadsAsNoCountry(t *testing.T) {
	for _, typ := range []string{events.TypeUsageRecorded, events.TypeLicenseCreated} {
		raw, err := os.ReadFile(goldenPath(typ, 1))
		if err != nil {
			t.Fatal(err)
		}
		e, err := events.Unmarshal(raw)
		if err != nil {
			t.Fatalf("%s v1: %v", typ, err)
		}
		var got events.Country
		switch d := e.Data.(type) {
		case events.UsageRecorded:
			got = d.Country
		case events.LicenseCreated:
			got = d.Country
		}
		if got != "" {
			t.Errorf("%s v1 reads with country %q, want none", typ, got)
		}
		// A version 1 payload that names a country was not written by a
		// version 1 ledger.
		forged := bytes.Replace(raw, []byte(`"data":{`), []byte(`"data":{"country":"DE",`), 1)
		if _, err := events.Unmarshal(forged); err == nil {
			t.Errorf("%s v1 with a country field decoded", typ)
		}
	}
}

// rule G9: none is null on the wire, both ways; "" is refused.
func TestCountryJSON(t *testing.T) {
	for _, c := range []struct {
		in   events.Country
		want string
	}{{"", "null"}, {"DE", `"DE"`}} {
		b, err := c.in.MarshalJSON()
		if err != nil || string(b) != c.want {
			t.Errorf("%q encodes as %s (%v), want %s", c.in, b, err, c.want)
		}
		var back events.Country = "XX"
		if err := back.UnmarshalJSON(b); err != nil || back != c.in {
			t.Errorf("%s decodes as %q (%v), want %q", b, back, err, c.in)
		}
	}
	var c events.Country
	if err := c.UnmarshalJSON([]byte(`""`)); err == nil {
		t.Error(`"" decoded as a country`)
	}
}
