package events_test

import (
	"bytes"
	"reflect"
	"sort"
	"testing"

	"github.com/entledger/ledger/events"
)

// FuzzUnmarshal feeds arbitrary bytes to the decoder. Seeds: every golden
// file and broken variants (also stored in testdata/fuzz/FuzzUnmarshal).
//
// Properties: Unmarshal never panics; every error wraps a codec sentinel;
// an accepted document has a canonical form: Marshal succeeds, the result
// decodes to a DeepEqual event, encodes again to the same bytes and passes
// CheckSchema.
func FuzzUnmarshal(f *testing.F) {
	seeds := fuzzSeeds(f)
	names := make([]string, 0, len(seeds))
	for name := range seeds {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		f.Add(seeds[name])
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		e, err := events.Unmarshal(raw)
		if err != nil {
			if !isCodecError(err) {
				t.Fatalf("Unmarshal error wraps no sentinel: %v", err)
			}
			return
		}
		canon, err := events.Marshal(e)
		if err != nil {
			t.Fatalf("Unmarshal accepted %q but Marshal of the result fails: %v", raw, err)
		}
		e2, err := events.Unmarshal(canon)
		if err != nil {
			t.Fatalf("Unmarshal(Marshal(Unmarshal(%q))) = %v\ncanonical: %s", raw, err, canon)
		}
		if !reflect.DeepEqual(e, e2) {
			t.Fatalf("not idempotent for %q:\nfirst  %#v\nsecond %#v", raw, e, e2)
		}
		if again, err := events.Marshal(e2); err != nil || !bytes.Equal(again, canon) {
			t.Fatalf("canonical bytes not stable for %q:\n%s\n%s (%v)", raw, canon, again, err)
		}
		if err := events.CheckSchema(canon); err != nil {
			t.Fatalf("Unmarshal accepted %q, but CheckSchema rejects its canonical form: %v\n%s", raw, err, canon)
		}
	})
}
