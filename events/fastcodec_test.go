package events_test

import (
	"bytes"
	"reflect"
	"testing"
	"time"

	"github.com/entledger/ledger/events"
)

// The fast codec writes exactly the reference bytes for every event type,
// and reads them back to exactly the reference event.
func TestFastCodecMatchesReference(t *testing.T) {
	for _, e := range samples(t) {
		checkFastCodec(t, e.Type(), e, true)
	}
	u := usageEvent()
	checkFastCodec(t, "usage", u, true)
	// rule G9: a country, or none (null), both on the fast path.
	withCountry := u
	rec := withCountry.Data.(events.UsageRecorded)
	rec.Country = "FR"
	withCountry.Data = rec
	checkFastCodec(t, "usage with a country", withCountry, true)
	// Strings encoding/json escapes or checks for UTF-8 take the reference
	// path on both sides, and still agree.
	odd := u
	odd.Actor, odd.CorrelationID = `<b>"admin" & co</b>`, "ü\u2028\x01\\"
	rec = odd.Data.(events.UsageRecorded)
	rec.UsageID = `<1>&"\`
	odd.Data = rec
	checkFastCodec(t, "escaped", odd, false)
	// A time with a zone is written in UTC by both.
	zoned := u
	zoned.OccurredAt = u.OccurredAt.In(time.FixedZone("X", 3600))
	rec = zoned.Data.(events.UsageRecorded)
	rec.StartedAt = rec.StartedAt.In(time.FixedZone("Y", -7200))
	zoned.Data = rec
	checkFastCodec(t, "zoned", zoned, true)
	// A year encoding/json refuses is refused by Marshal too.
	far := u
	rec = far.Data.(events.UsageRecorded)
	rec.EndedAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	far.Data = rec
	if _, err := events.MarshalReflect(far); err == nil {
		t.Fatal("the reference encodes the year 10000; the case proves nothing")
	}
	if raw, err := events.Marshal(far); err == nil {
		t.Errorf("Marshal encoded an ended_at in the year 10000: %s", raw)
	}
}

// checkFastCodec compares the fast and reference codecs on e; fast says
// whether the fast decoder must accept its bytes.
func checkFastCodec(t *testing.T, name string, e events.Event, fast bool) {
	t.Helper()
	got, err := events.Marshal(e)
	if err != nil {
		t.Fatalf("%s: Marshal: %v", name, err)
	}
	want, err := events.MarshalReflect(e)
	if err != nil {
		t.Fatalf("%s: reference Marshal: %v", name, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: fast encoding differs:\nfast      %s\nreference %s", name, got, want)
	}
	ref, err := events.UnmarshalReflect(want)
	if err != nil {
		t.Fatalf("%s: reference Unmarshal: %v", name, err)
	}
	dec, ok := events.FastUnmarshal(want)
	if fast && !ok {
		t.Fatalf("%s: the fast decoder declined %s", name, want)
	}
	if ok && !reflect.DeepEqual(dec, ref) {
		t.Fatalf("%s: fast decoding differs:\nfast      %#v\nreference %#v", name, dec, ref)
	}
}

// The fast decoder declines what the reference decoder rejects: a few
// near-misses of a canonical usage event.
func TestFastUnmarshalDeclines(t *testing.T) {
	raw, err := events.Marshal(usageEvent())
	if err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func([]byte) []byte{
		"space":   func(b []byte) []byte { return bytes.Replace(b, []byte(`":`), []byte(`": `), 1) },
		"escaped": func(b []byte) []byte { return bytes.Replace(b, []byte(`WS-0042`), []byte(`WS-\u0030042`), 1) },
		"old version": func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"schemaversion":2`), []byte(`"schemaversion":0`), 1)
		},
		"long version": func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"schemaversion":2`), []byte(`"schemaversion":22`), 1)
		},
		"empty prev": func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"prevhash":"`), []byte(`"prevhash":"","x":"`), 1)
		},
		"offset time":   func(b []byte) []byte { return bytes.Replace(b, []byte(`09:00:00Z`), []byte(`10:00:00+01:00`), 1) },
		"trailing":      func(b []byte) []byte { return append(b, ' ') },
		"data trailing": func(b []byte) []byte { return bytes.Replace(b, []byte(`null}}`), []byte(`null} }`), 1) },
		"empty country": func(b []byte) []byte { return bytes.Replace(b, []byte(`"country":null`), []byte(`"country":""`), 1) },
		"no country":    func(b []byte) []byte { return bytes.Replace(b, []byte(`,"country":null`), nil, 1) },
		"bad bool":      func(b []byte) []byte { return bytes.Replace(b, []byte(`false`), []byte(`fals`), 1) },
		"truncated":     func(b []byte) []byte { return b[:len(b)/2] },
		"bad class":     func(b []byte) []byte { return bytes.Replace(b, []byte(`"pooled"`), []byte(`"free"`), 1) },
	} {
		bad := mutate(bytes.Clone(raw))
		if bytes.Equal(bad, raw) {
			t.Fatalf("%s: the mutation changed nothing", name)
		}
		if _, ok := events.FastUnmarshal(bad); ok {
			t.Errorf("%s: the fast decoder accepted %s", name, bad)
		}
		if _, err := events.UnmarshalReflect(bad); err == nil && name != "old version" {
			t.Errorf("%s: the reference decoder accepts it too; the case proves nothing", name)
		}
	}
}

// FuzzFastCodec: whatever the fast decoder accepts, the reference decoder
// accepts as the same event; and a usage event with arbitrary strings encodes
// to the reference bytes.
func FuzzFastCodec(f *testing.F) {
	raw, err := events.Marshal(usageEvent())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw, "u-1", "ana@acme.example", "WS-0042", "importer")
	f.Add([]byte(`{}`), "é", "<x>", "\u2028", "\x00")
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed, "u-2", "b@x.example", "m", "a")
	}
	f.Fuzz(func(t *testing.T, raw []byte, usageID, email, machine, actor string) {
		if e, ok := events.FastUnmarshal(raw); ok {
			ref, err := events.UnmarshalReflect(raw)
			if err != nil {
				t.Fatalf("fast accepted what the reference rejects (%v): %q", err, raw)
			}
			if !reflect.DeepEqual(e, ref) {
				t.Fatalf("decodings differ for %q:\nfast      %#v\nreference %#v", raw, e, ref)
			}
		}
		e := usageEvent()
		u := e.Data.(events.UsageRecorded)
		u.UsageID, u.Email, u.MachineID = usageID, email, machine
		e.Data, e.Actor = u, actor
		got, err1 := events.Marshal(e)
		want, err2 := events.MarshalReflect(e)
		if (err1 == nil) != (err2 == nil) || !bytes.Equal(got, want) {
			t.Fatalf("encodings differ:\nfast      %s (%v)\nreference %s (%v)", got, err1, want, err2)
		}
	})
}
