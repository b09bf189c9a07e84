package events_test

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/entledger/ledger/events"
)

func TestUnmarshalRejects(t *testing.T) {
	user := encode(t, sample(t, events.TypeUserCountryChanged))
	account := encode(t, sample(t, events.TypeAccountCreated))
	claim := encode(t, sample(t, events.TypeEmailClaimed))
	set := func(raw []byte, key string, v any) []byte {
		return mutate(t, raw, func(doc map[string]any) { doc[key] = v })
	}
	del := func(raw []byte, key string) []byte {
		return mutate(t, raw, func(doc map[string]any) { delete(doc, key) })
	}
	for _, tc := range []struct {
		name string
		raw  []byte
		want error // nil: any of the codec's sentinels
	}{
		{"empty input", nil, events.ErrMalformed},
		{"not json", []byte("ledger"), events.ErrMalformed},
		{"json array", []byte("[]"), events.ErrMalformed},
		{"json null", []byte("null"), events.ErrMalformed},
		{"truncated", user[:len(user)-1], events.ErrMalformed},
		{"trailing garbage", append(bytes.Clone(user), "garbage"...), events.ErrMalformed},
		{"trailing second document", append(bytes.Clone(user), user...), events.ErrMalformed},
		{"trailing brace", append(bytes.Clone(user), '}'), events.ErrMalformed},
		{"unknown type", set(user, "type", "user.exploded"), events.ErrUnknownType},
		{"type of another case", set(user, "type", "User.Country_Changed"), events.ErrUnknownType},
		{"schemaversion 0", set(user, "schemaversion", 0), events.ErrUnknownVersion},
		{"schemaversion 2", set(user, "schemaversion", 2), events.ErrUnknownVersion},
		{"schemaversion -1", set(user, "schemaversion", -1), events.ErrUnknownVersion},
		{"missing schemaversion", del(user, "schemaversion"), nil},
		{"schemaversion as string", set(user, "schemaversion", "1"), events.ErrMalformed},
		{"schemaversion fractional", set(user, "schemaversion", 1.5), events.ErrMalformed},
		{"unknown envelope attribute", set(user, "traceparent", "00-abc"), events.ErrMalformed},
		{"unknown data field", mutate(t, user, func(doc map[string]any) { dataOf(doc)["nickname"] = "al" }), events.ErrMalformed},
		{"missing data", del(user, "data"), events.ErrMalformed},
		{"null data", set(user, "data", nil), events.ErrMalformed},
		{"empty data", set(user, "data", map[string]any{}), events.ErrMalformed},
		{"data not an object", set(user, "data", "hello"), events.ErrMalformed},
		{"data field of wrong type", mutate(t, user, func(doc map[string]any) { dataOf(doc)["email"] = 42 }), events.ErrMalformed},
		{"specversion 0.3", set(user, "specversion", "0.3"), events.ErrMalformed},
		{"missing specversion", del(user, "specversion"), events.ErrMalformed},
		{"datacontenttype text", set(user, "datacontenttype", "text/plain"), events.ErrMalformed},
		{"missing datacontenttype", del(user, "datacontenttype"), events.ErrMalformed},
		{"non-UTC time", set(user, "time", "2025-01-02T05:04:05+02:00"), events.ErrMalformed},
		{"time with +00:00", set(user, "time", "2025-01-02T03:04:05+00:00"), events.ErrMalformed},
		{"non-UTC recordedat", set(user, "recordedat", "2025-01-01T22:04:05-05:00"), events.ErrMalformed},
		{"time not RFC 3339", set(user, "time", "Thu, 02 Jan 2025 03:04:05 GMT"), events.ErrMalformed},
		{"time without zone", set(user, "time", "2025-01-02T03:04:05"), events.ErrMalformed},
		{"zero time", set(user, "time", "0001-01-01T00:00:00Z"), events.ErrMalformed},
		{"missing time", del(user, "time"), events.ErrMalformed},
		{"missing recordedat", del(user, "recordedat"), events.ErrMalformed},
		{"bad ULID", set(user, "id", "not-a-ulid"), events.ErrMalformed},
		{"ULID with invalid letter", set(user, "id", "01JGZ8Y000000000000000000U"), events.ErrMalformed},
		{"ULID overflow", set(user, "id", "81JGZ8Y0000000000000000000"), events.ErrMalformed},
		{"ULID too long", set(user, "id", sampleID+"0"), events.ErrMalformed},
		{"missing id", del(user, "id"), events.ErrMalformed},
		{"prevhash upper-case hex", set(user, "prevhash", strings.ToUpper(sampleHash)), events.ErrMalformed},
		{"prevhash 63 chars", set(user, "prevhash", sampleHash[:63]), events.ErrMalformed},
		{"prevhash 65 chars", set(user, "prevhash", sampleHash+"0"), events.ErrMalformed},
		{"prevhash not hex", set(user, "prevhash", strings.Repeat("g", 64)), events.ErrMalformed},
		{"subject of another aggregate", set(user, "subject", "license/"+sampleLicense), events.ErrMalformed},
		{"subject without aggregate", set(user, "subject", sampleEmail), events.ErrMalformed},
		{"subject with empty id", set(user, "subject", "user/"), events.ErrMalformed},
		{"missing subject", del(user, "subject"), events.ErrMalformed},
		{"source without /accounts/", set(user, "source", "acme"), events.ErrMalformed},
		{"source with empty account", set(user, "source", "/accounts/"), events.ErrMalformed},
		{"source with dotted account", set(user, "source", "/accounts/ac.me"), events.ErrMalformed},
		{"source with wildcard account", set(user, "source", "/accounts/*"), events.ErrMalformed},
		{"user event on _global", set(user, "source", "/accounts/"+events.GlobalAccount), events.ErrMalformed},
		{"account event on _global", set(account, "source", "/accounts/"+events.GlobalAccount), events.ErrMalformed},
		{"email event on an account", set(claim, "source", "/accounts/acme"), events.ErrMalformed},
		{"missing actor", del(user, "actor"), events.ErrMalformed},
		{"missing commandid", del(user, "commandid"), events.ErrMalformed},
		{"missing correlationid", del(user, "correlationid"), events.ErrMalformed},
		{"invalid data", mutate(t, user, func(doc map[string]any) { dataOf(doc)["entitlement_country"] = "" }), events.ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := events.Unmarshal(tc.raw)
			if tc.want == nil && !isCodecError(err) || tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("Unmarshal(%s) = %+v, %v; want %v", tc.raw, got, err, tc.want)
			}
		})
	}
}

// Unmarshal accepts only the canonical form Marshal writes: the ledger is the
// only writer of its subjects, so any other spelling of the same event
// (whitespace, attribute order, another time format) was not written by it.
func TestUnmarshalCanonicalOnly(t *testing.T) {
	e := sample(t, events.TypeUserRegistered)
	user := encode(t, e)
	if _, err := events.Unmarshal(user); err != nil {
		t.Fatalf("Unmarshal(Marshal(e)): %v", err)
	}
	e.PrevHash = sampleHash
	if _, err := events.Unmarshal(encode(t, e)); err != nil {
		t.Fatalf("Unmarshal with prevhash: %v", err)
	}
	for _, tc := range []struct {
		name string
		raw  []byte
	}{
		{"trailing newline", append(bytes.Clone(user), '\n')},
		{"surrounding whitespace", append(append([]byte(" \t\n"), user...), " \r\n"...)},
		{"attributes in another order", mutate(t, user, func(map[string]any) {})},
		{"fractional seconds", mutate(t, user, func(doc map[string]any) { doc["time"] = "2025-01-02T03:04:05.000Z" })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := events.Unmarshal(tc.raw); !errors.Is(err, events.ErrMalformed) {
				t.Fatalf("Unmarshal(%s) = %v, want ErrMalformed", tc.raw, err)
			}
		})
	}
}

// isCodecError reports whether err wraps one of the codec's sentinels.
func isCodecError(err error) bool {
	return errors.Is(err, events.ErrMalformed) || errors.Is(err, events.ErrUnknownType) ||
		errors.Is(err, events.ErrUnknownVersion)
}

// Every error of Unmarshal wraps one of the codec's sentinels.
func TestUnmarshalErrorsAreSentinels(t *testing.T) {
	for _, raw := range [][]byte{nil, []byte("{"), []byte(`{"type":"x"}`), []byte(`{"specversion":"1.0","datacontenttype":"application/json","type":"user.removed"}`)} {
		if _, err := events.Unmarshal(raw); !isCodecError(err) {
			t.Errorf("Unmarshal(%s) = %v, want a codec sentinel", raw, err)
		}
	}
}

// An account token with whitespace makes Event.Subject an invalid NATS
// subject, so Marshal must refuse it (and Unmarshal must not accept it).
func TestAccountWithWhitespaceRejected(t *testing.T) {
	base := sample(t, events.TypeUserRemoved)
	raw := encode(t, base)
	// The bytes nats-server's IsValidSubject refuses inside a token.
	for _, account := range []string{"ac\tme", "ac\nme", "ac\rme", "ac\fme", "acme\t"} {
		t.Run(strings.NewReplacer("\t", `\t`, "\n", `\n`, "\r", `\r`, "\f", `\f`).Replace(account), func(t *testing.T) {
			e := base
			e.Account = account
			if _, err := events.Marshal(e); !errors.Is(err, events.ErrMalformed) {
				t.Errorf("Marshal with account %q: err = %v, want ErrMalformed (subject would be %q)", account, err, e.Subject())
			}
			in := mutate(t, raw, func(doc map[string]any) { doc["source"] = "/accounts/" + account })
			if got, err := events.Unmarshal(in); !errors.Is(err, events.ErrMalformed) {
				t.Errorf("Unmarshal with account %q: account %q, err = %v; want ErrMalformed", account, got.Account, err)
			}
		})
	}
}

// Decoding, encoding and decoding again gives the same event: the decoded
// form is canonical. A time inside data written with a "+00:00" offset must
// not decode into an event that encodes differently.
func TestUnmarshalCanonicalDataTimes(t *testing.T) {
	raw := encode(t, sample(t, events.TypeLicenseCreated))
	for _, ts := range []string{"2025-01-02T03:04:05+00:00", "2025-01-02T05:04:05+02:00", "2025-01-02T03:04:05.000000000Z"} {
		t.Run(ts, func(t *testing.T) {
			in := mutate(t, raw, func(doc map[string]any) { dataOf(doc)["valid_from"] = ts })
			e1, err := events.Unmarshal(in)
			if err != nil {
				// Refusing non-canonical times is a correct answer too.
				t.Skipf("Unmarshal refuses %s: %v", ts, err)
			}
			b := encode(t, e1)
			e2, err := events.Unmarshal(b)
			if err != nil {
				t.Fatalf("Unmarshal(Marshal(Unmarshal(x))): %v", err)
			}
			if !reflect.DeepEqual(e1, e2) {
				t.Errorf("valid_from %s: decode→encode→decode changed the event:\n first %#v\nsecond %#v",
					ts, e1.Data.(events.LicenseCreated).ValidFrom, e2.Data.(events.LicenseCreated).ValidFrom)
			}
		})
	}
}
