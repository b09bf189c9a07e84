package events_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/entledger/ledger/events"
)

// Fixed values of the samples, so that their encodings (the golden files) never
// change unless the codec does.
const (
	sampleID        = "01JGZ8Y0000000000000000000"
	sampleCommandID = "01JGZ8Y0000000000000000001"
	sampleAccount   = "acme"
	sampleEmail     = "alice.smith+ledger@acme.example"
	sampleEmail2    = "bob%jones@acme.example"
	sampleLicense   = "lic-0001"
	sampleToken     = "01jgz8y0000000000000000042"
)

var (
	t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	// sampleRecorded has nanoseconds to prove RFC 3339 keeps them.
	sampleRecorded = t0.Add(1500*time.Millisecond + 789)
	sampleHash     = events.Hash([]byte("the previous event"))
	sampleCmdHash  = events.Hash([]byte("the command"))
)

// sampleBuilders makes one valid event of every type. The meta argument is
// a valid envelope to fill in.
var sampleBuilders = map[string]func(meta events.Event) events.Event{
	events.TypeAccountCreated: func(e events.Event) events.Event {
		e.AggregateID = sampleAccount
		e.PrevHash = ""
		e.Data = events.AccountCreated{
			ID:                  sampleAccount,
			Name:                "Acme Ltd",
			FulfillmentContacts: []string{"orders@acme.example"},
			Admins:              []string{"root@acme.example", "ops@acme.example"},
		}
		return e
	},
	events.TypeUserRegistered: func(e events.Event) events.Event {
		e.PrevHash = ""
		e.CausationID = ""
		e.Data = events.UserRegistered{Email: sampleEmail, EntitlementCountry: "DE"}
		return e
	},
	events.TypeUserCountryChanged: func(e events.Event) events.Event {
		e.Data = events.UserCountryChanged{Email: sampleEmail, EntitlementCountry: "FR", Previous: "DE"}
		return e
	},
	events.TypeUserRemoved: func(e events.Event) events.Event {
		e.CommandHash = ""
		e.Data = events.UserRemoved{Email: sampleEmail}
		return e
	},
	events.TypeSessionStarted: func(e events.Event) events.Event {
		e.PrevHash = ""
		e.Data = events.SessionStarted{Email: sampleEmail, MachineID: "WS-0042.acme", ClientVersion: "10.00.18.25",
			ClientTime: time.Date(2025, 1, 2, 3, 2, 59, 0, time.UTC)}
		return e
	},
	events.TypeSessionRefreshed: func(e events.Event) events.Event {
		e.Data = events.SessionRefreshed{Email: sampleEmail, MachineID: "WS-0042.acme", ClientVersion: "10.00.19"}
		return e
	},
	events.TypeSessionEnded: func(e events.Event) events.Event {
		e.Data = events.SessionEnded{Email: sampleEmail, MachineID: "WS-0042.acme", Reason: events.SessionSignedOut}
		return e
	},
	events.TypeSessionCheckedOut: func(e events.Event) events.Event {
		e.Data = events.SessionCheckedOut{Email: sampleEmail, MachineID: "WS-0042.acme", LicenseID: sampleLicense,
			Until: time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)}
		return e
	},
	events.TypeSessionCheckedIn: func(e events.Event) events.Event {
		e.Data = events.SessionCheckedIn{Email: sampleEmail, MachineID: "WS-0042.acme", LicenseID: sampleLicense}
		return e
	},
	events.TypeLicenseCheckedOut: func(e events.Event) events.Event {
		e.AggregateID = sampleLicense
		e.Data = events.LicenseCheckedOut{ID: sampleLicense, Email: sampleEmail, MachineID: "WS-0042.acme",
			Products: []string{"microstation"}, Until: time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)}
		return e
	},
	events.TypeLicenseCheckedIn: func(e events.Event) events.Event {
		e.AggregateID = sampleLicense
		e.Data = events.LicenseCheckedIn{ID: sampleLicense, MachineID: "WS-0042.acme"}
		return e
	},
	events.TypeUsageRecorded: func(e events.Event) events.Event {
		e.AggregateID = "microstation"
		e.PrevHash = ""
		e.Data = events.UsageRecorded{UsageID: "01JGZ8Y0000000000000000009", Email: sampleEmail, Product: "microstation",
			MachineID: "WS-0042.acme", ClientVersion: "10.00.18.25", StartedAt: time.Date(2025, 1, 1, 9, 0, 0, 0, time.UTC),
			EndedAt: time.Date(2025, 1, 1, 17, 30, 0, 0, time.UTC), Offline: true, Classification: events.ClassPractitioner,
			LicenseID: sampleLicense, Digest: sampleHash, Country: "DE"}
		return e
	},
	events.TypeAccessSet: func(e events.Event) events.Event {
		e.AggregateID = "microstation"
		e.PrevHash = ""
		e.Data = events.AccessSet{Product: "microstation", Default: "deny", Allow: []string{sampleEmail}, Deny: []string{}}
		return e
	},
	events.TypeThresholdSet: func(e events.Event) events.Event {
		e.AggregateID = "microstation"
		e.PrevHash = ""
		e.Data = events.ThresholdSet{Product: "microstation", MaxMachines: 40}
		return e
	},
	events.TypeThresholdExceeded: func(e events.Event) events.Event {
		e.AggregateID = "microstation"
		e.Data = events.ThresholdExceeded{Product: "microstation", Day: "2025-01-01",
			IntervalStart: time.Date(2025, 1, 1, 10, 10, 0, 0, time.UTC), Count: 2, MaxMachines: 1, Machines: []string{"WS-0042.acme", "WS-0043.acme"}}
		return e
	},
	events.TypeUsageVoided: func(e events.Event) events.Event {
		e.AggregateID = "microstation"
		e.Data = events.UsageVoided{UsageID: "01JGZ8Y0000000000000000009", Product: "microstation", Reason: "recorded twice by a bad client"}
		return e
	},
	events.TypeLicenseCancelled: func(e events.Event) events.Event {
		e.AggregateID = sampleLicense
		e.Data = events.LicenseCancelled{ID: sampleLicense, EffectiveAt: time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC),
			PreviousValidUntil: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Reason: "sold to the wrong account"}
		return e
	},
	events.TypeUnassignedReminder: func(e events.Event) events.Event {
		e.AggregateID = sampleLicense
		e.Data = events.UnassignedReminder{LicenseID: sampleLicense, Day: "2025-01-02",
			Since: time.Date(2025, 1, 1, 9, 0, 0, 0, time.UTC), AssignableFrom: time.Date(2025, 1, 1, 9, 0, 0, 0, time.UTC)}
		return e
	},
	events.TypeTokenCreated: func(e events.Event) events.Event {
		e.Account, e.AggregateID, e.PrevHash = events.GlobalAccount, sampleToken, ""
		e.Data = events.TokenCreated{ID: sampleToken, Name: "billing export", Role: events.RoleAuditor, Account: sampleAccount,
			SecretHash: sampleHash}
		return e
	},
	events.TypeTokenRevoked: func(e events.Event) events.Event {
		e.Account, e.AggregateID = events.GlobalAccount, sampleToken
		e.Data = events.TokenRevoked{ID: sampleToken, Reason: "left the company"}
		return e
	},
	events.TypeThresholdCleared: func(e events.Event) events.Event {
		e.AggregateID = "microstation"
		e.Data = events.ThresholdCleared{Product: "microstation"}
		return e
	},
	events.TypeCheckRecorded: func(e events.Event) events.Event {
		e.AggregateID = "microstation"
		e.Data = events.CheckRecorded{Email: sampleEmail, Product: "microstation", MachineID: "WS-0042.acme",
			ClientVersion: "10.00.18.25", Granted: true, LicenseType: events.LicenseTypePractitioner,
			LicenseID: sampleLicense, Reason: events.LicenseTypePractitioner}
		return e
	},
	events.TypeUserLicenseAttached: func(e events.Event) events.Event {
		e.Data = events.UserLicenseAttached{Email: sampleEmail, LicenseID: sampleLicense}
		return e
	},
	events.TypeUserLicenseDetached: func(e events.Event) events.Event {
		e.Data = events.UserLicenseDetached{Email: sampleEmail, LicenseID: sampleLicense, Reason: events.ReasonReassigned}
		return e
	},
	events.TypeEmailClaimed: func(e events.Event) events.Event {
		e.Account = events.GlobalAccount
		e.PrevHash = ""
		e.Data = events.EmailClaimed{Email: sampleEmail, Account: sampleAccount}
		return e
	},
	events.TypeDomainClaimed: func(e events.Event) events.Event {
		e.Account = events.GlobalAccount
		e.AggregateID = "acme.example"
		e.PrevHash = ""
		e.Data = events.DomainClaimed{Domain: "acme.example", Account: sampleAccount}
		return e
	},
	events.TypeDomainReleased: func(e events.Event) events.Event {
		e.Account = events.GlobalAccount
		e.AggregateID = "acme.example"
		e.Data = events.DomainReleased{Domain: "acme.example", Account: sampleAccount}
		return e
	},
	events.TypeEmailReleased: func(e events.Event) events.Event {
		e.Account = events.GlobalAccount
		e.Data = events.EmailReleased{Email: sampleEmail, Account: sampleAccount}
		return e
	},
	events.TypeLicenseCreated: func(e events.Event) events.Event {
		e.AggregateID = sampleLicense
		e.PrevHash = ""
		e.Data = events.LicenseCreated{
			ID:         sampleLicense,
			Kind:       events.KindCommercial,
			Products:   []string{"pro", "analytics"},
			Seats:      5,
			ValidFrom:  t0,
			ValidUntil: t0.AddDate(1, 0, 0),
			Country:    "DE",
		}
		return e
	},
	events.TypeLicenseRenewed: func(e events.Event) events.Event {
		e.AggregateID = sampleLicense
		e.Data = events.LicenseRenewed{ID: sampleLicense, ValidUntil: t0.AddDate(2, 0, 0), PreviousValidUntil: t0.AddDate(1, 0, 0)}
		return e
	},
	events.TypeLicenseAssigned: func(e events.Event) events.Event {
		e.AggregateID = sampleLicense
		e.Data = events.LicenseAssigned{
			ID:             sampleLicense,
			Email:          sampleEmail,
			NewWindow:      true,
			WindowOpenedAt: t0,
			WindowClosesAt: t0.Add(24 * time.Hour),
			LockedUntil:    t0.Add(30 * 24 * time.Hour),
		}
		return e
	},
	events.TypeLicenseReassigned: func(e events.Event) events.Event {
		e.AggregateID = sampleLicense
		e.Data = events.LicenseReassigned{
			ID:             sampleLicense,
			Email:          sampleEmail2,
			PreviousEmail:  sampleEmail,
			NewWindow:      false,
			WindowOpenedAt: t0,
			WindowClosesAt: t0.Add(24 * time.Hour),
			LockedUntil:    t0.Add(30 * 24 * time.Hour),
		}
		return e
	},
	events.TypeLicenseUnassigned: func(e events.Event) events.Event {
		e.AggregateID = sampleLicense
		e.Data = events.LicenseUnassigned{
			ID:             sampleLicense,
			PreviousEmail:  sampleEmail2,
			Reason:         events.ReasonAdmin,
			WindowClosesAt: t0.Add(24 * time.Hour),
			LockedUntil:    t0.Add(30 * 24 * time.Hour),
		}
		return e
	},
}

// sample returns the valid sample event of type typ.
func sample(tb testing.TB, typ string) events.Event {
	tb.Helper()
	build, ok := sampleBuilders[typ]
	if !ok {
		tb.Fatalf("no sample event for type %q: add one to sampleBuilders", typ)
	}
	e := build(events.Event{
		ID:            sampleID,
		Account:       sampleAccount,
		AggregateID:   sampleEmail,
		OccurredAt:    t0,
		RecordedAt:    sampleRecorded,
		Actor:         "root@acme.example",
		CommandID:     sampleCommandID,
		CommandHash:   sampleCmdHash,
		CorrelationID: "req-42",
		CausationID:   "01JGZ8XZZZZZZZZZZZZZZZZZZZ",
		PrevHash:      sampleHash,
	})
	if e.Type() != typ {
		tb.Fatalf("sample for %q has type %q", typ, e.Type())
	}
	return e
}

// samples returns one valid event of every type in the catalogue, in the
// order of events.Types(). It fails the test if a type has no sample or a
// sample has a type the catalogue does not know.
func samples(tb testing.TB) []events.Event {
	tb.Helper()
	types := events.Types()
	known := make(map[string]bool, len(types))
	out := make([]events.Event, 0, len(types))
	for _, typ := range types {
		known[typ] = true
		out = append(out, sample(tb, typ))
	}
	for typ := range sampleBuilders {
		if !known[typ] {
			tb.Errorf("sampleBuilders has %q, which is not in events.Types()", typ)
		}
	}
	return out
}

// encode marshals e or fails the test.
func encode(tb testing.TB, e events.Event) []byte {
	tb.Helper()
	b, err := events.Marshal(e)
	if err != nil {
		tb.Fatalf("Marshal(%s): %v", e.Type(), err)
	}
	return b
}

// mutate decodes raw into a generic JSON object, lets f change it and
// encodes it again.
func mutate(tb testing.TB, raw []byte, f func(doc map[string]any)) []byte {
	tb.Helper()
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		tb.Fatalf("mutate: %v", err)
	}
	f(doc)
	b, err := json.Marshal(doc)
	if err != nil {
		tb.Fatalf("mutate: %v", err)
	}
	return b
}

// dataOf is the data object of a document given to a mutate function.
func dataOf(doc map[string]any) map[string]any {
	d, _ := doc["data"].(map[string]any)
	return d
}

// normalised returns e with every time, in the envelope and in the data, in
// UTC and without a monotonic reading, so that equal instants compare equal.
func normalised(e events.Event) events.Event {
	e.OccurredAt = e.OccurredAt.Round(0).UTC()
	e.RecordedAt = e.RecordedAt.Round(0).UTC()
	if e.Data == nil {
		return e
	}
	v := reflect.New(reflect.TypeOf(e.Data)).Elem()
	v.Set(reflect.ValueOf(e.Data))
	if v.Kind() == reflect.Struct {
		timeType := reflect.TypeFor[time.Time]()
		for i := 0; i < v.NumField(); i++ {
			if f := v.Field(i); f.Type() == timeType && f.CanSet() {
				f.Set(reflect.ValueOf(f.Interface().(time.Time).Round(0).UTC()))
			}
		}
	}
	e.Data = v.Interface().(events.Data)
	return e
}

// inZone returns e with every time moved to loc (same instants).
func inZone(e events.Event, loc *time.Location) events.Event {
	e.OccurredAt = e.OccurredAt.In(loc)
	e.RecordedAt = e.RecordedAt.In(loc)
	v := reflect.New(reflect.TypeOf(e.Data)).Elem()
	v.Set(reflect.ValueOf(e.Data))
	timeType := reflect.TypeFor[time.Time]()
	for i := 0; i < v.NumField(); i++ {
		if f := v.Field(i); f.Type() == timeType {
			f.Set(reflect.ValueOf(f.Interface().(time.Time).In(loc)))
		}
	}
	e.Data = v.Interface().(events.Data)
	return e
}

func TestSamplesCoverCatalogue(t *testing.T) {
	got := samples(t)
	if len(got) != len(events.Types()) {
		t.Fatalf("got %d samples for %d types", len(got), len(events.Types()))
	}
	for _, typ := range events.Types() {
		if events.SchemaVersion(typ) < 1 {
			t.Errorf("SchemaVersion(%q) = %d, want >= 1", typ, events.SchemaVersion(typ))
		}
	}
}

func TestTypesSortedAndUnique(t *testing.T) {
	types := events.Types()
	for i := 1; i < len(types); i++ {
		if types[i-1] >= types[i] {
			t.Errorf("Types() not strictly sorted at %d: %q, %q", i, types[i-1], types[i])
		}
	}
	if events.SchemaVersion("no.such_type") != 0 {
		t.Errorf("SchemaVersion of an unknown type = %d, want 0", events.SchemaVersion("no.such_type"))
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	plus2 := time.FixedZone("CEST", 2*60*60)
	minus5 := time.FixedZone("", -5*60*60)
	for _, e := range samples(t) {
		for _, tc := range []struct {
			name string
			in   events.Event
		}{
			{"utc", e},
			{"plus2", inZone(e, plus2)},
			{"minus5", inZone(e, minus5)},
			{"monotonic", func() events.Event {
				e := e
				now := time.Now() // carries a monotonic reading
				e.OccurredAt, e.RecordedAt = now, now.Add(time.Second)
				return e
			}()},
		} {
			t.Run(e.Type()+"/"+tc.name, func(t *testing.T) {
				raw := encode(t, tc.in)
				got, err := events.Unmarshal(raw)
				if err != nil {
					t.Fatalf("Unmarshal(%s): %v", raw, err)
				}
				if want := normalised(tc.in); !reflect.DeepEqual(normalised(got), want) {
					t.Errorf("round trip:\n got %#v\nwant %#v", normalised(got), want)
				}
				if got.Type() != e.Type() || got.Aggregate() != e.Aggregate() || got.Subject() != e.Subject() {
					t.Errorf("got type %q aggregate %q subject %q, want %q %q %q",
						got.Type(), got.Aggregate(), got.Subject(), e.Type(), e.Aggregate(), e.Subject())
				}
				// Envelope times always decode as UTC.
				if got.OccurredAt.Location() != time.UTC || got.RecordedAt.Location() != time.UTC {
					t.Errorf("times decode in %v and %v, want UTC", got.OccurredAt.Location(), got.RecordedAt.Location())
				}
			})
		}
	}
}

func TestMarshalDeterministic(t *testing.T) {
	for _, e := range samples(t) {
		a, b := encode(t, e), encode(t, e)
		if !bytes.Equal(a, b) {
			t.Errorf("%s: Marshal gave different bytes:\n%s\n%s", e.Type(), a, b)
		}
		// The same envelope instants in another zone encode to the same bytes.
		moved := e
		moved.OccurredAt = e.OccurredAt.In(time.FixedZone("", -3*60*60))
		moved.RecordedAt = e.RecordedAt.In(time.FixedZone("X", 9*60*60))
		if c := encode(t, moved); !bytes.Equal(a, c) {
			t.Errorf("%s: Marshal depends on the location of envelope times:\n%s\n%s", e.Type(), a, c)
		}
	}
}

func TestMarshalledSamplesPassSchema(t *testing.T) {
	for _, e := range samples(t) {
		raw := encode(t, e)
		if err := events.CheckSchema(raw); err != nil {
			t.Errorf("CheckSchema(%s): %v\n%s", e.Type(), err, raw)
		}
	}
}

func TestMarshalEnvelope(t *testing.T) {
	e := sample(t, events.TypeUserRegistered)
	raw := encode(t, e)
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"specversion":     "1.0",
		"id":              sampleID,
		"source":          "/accounts/acme",
		"type":            "user.registered",
		"subject":         "user/" + sampleEmail,
		"time":            "2025-01-02T03:04:05Z",
		"datacontenttype": "application/json",
		"schemaversion":   float64(1),
		"actor":           "root@acme.example",
		"commandid":       sampleCommandID,
		"commandhash":     sampleCmdHash,
		"correlationid":   "req-42",
		"recordedat":      "2025-01-02T03:04:06.500000789Z",
		"data":            map[string]any{"email": sampleEmail, "entitlement_country": "DE"},
	}
	if !reflect.DeepEqual(doc, want) {
		t.Errorf("envelope:\n got %v\nwant %v", doc, want)
	}
	// Optional attributes are left out when empty.
	for _, k := range []string{"prevhash", "causationid"} {
		if _, ok := doc[k]; ok {
			t.Errorf("empty %s is encoded", k)
		}
	}
	if events.ContentType != "application/cloudevents+json" {
		t.Errorf("ContentType = %q", events.ContentType)
	}
}

// unknownData claims a type name the catalogue does not know.
type unknownData struct{ events.UserRemoved }

func (unknownData) EventType() string { return "user.exploded" }

func TestMarshalRejects(t *testing.T) {
	base := sample(t, events.TypeUserCountryChanged)
	for _, tc := range []struct {
		name string
		edit func(e *events.Event)
		want error
	}{
		{"nil data", func(e *events.Event) { e.Data = nil }, events.ErrMalformed},
		{"unknown type", func(e *events.Event) { e.Data = unknownData{events.UserRemoved{Email: sampleEmail}} }, events.ErrUnknownType},
		{"empty id", func(e *events.Event) { e.ID = "" }, events.ErrMalformed},
		{"bad id", func(e *events.Event) { e.ID = "not-a-ulid" }, events.ErrMalformed},
		{"empty account", func(e *events.Event) { e.Account = "" }, events.ErrMalformed},
		{"account with dot", func(e *events.Event) { e.Account = "ac.me" }, events.ErrMalformed},
		{"account with slash", func(e *events.Event) { e.Account = "ac/me" }, events.ErrMalformed},
		{"account with space", func(e *events.Event) { e.Account = "ac me" }, events.ErrMalformed},
		{"account wildcard", func(e *events.Event) { e.Account = "*" }, events.ErrMalformed},
		{"account full wildcard", func(e *events.Event) { e.Account = ">" }, events.ErrMalformed},
		{"user event on _global", func(e *events.Event) { e.Account = events.GlobalAccount }, events.ErrMalformed},
		{"empty aggregate id", func(e *events.Event) { e.AggregateID = "" }, events.ErrMalformed},
		{"zero occurred_at", func(e *events.Event) { e.OccurredAt = time.Time{} }, events.ErrMalformed},
		{"zero recorded_at", func(e *events.Event) { e.RecordedAt = time.Time{} }, events.ErrMalformed},
		{"no actor", func(e *events.Event) { e.Actor = "" }, events.ErrMalformed},
		{"no command id", func(e *events.Event) { e.CommandID = "" }, events.ErrMalformed},
		{"no correlation id", func(e *events.Event) { e.CorrelationID = "" }, events.ErrMalformed},
		{"prevhash upper case", func(e *events.Event) { e.PrevHash = strings.ToUpper(sampleHash) }, events.ErrMalformed},
		{"prevhash short", func(e *events.Event) { e.PrevHash = sampleHash[:63] }, events.ErrMalformed},
		{"invalid data", func(e *events.Event) { e.Data = events.UserCountryChanged{Email: sampleEmail} }, events.ErrMalformed},
		{"email claimed on an account", func(e *events.Event) {
			e.Data = events.EmailClaimed{Email: sampleEmail, Account: sampleAccount}
		}, events.ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := base
			tc.edit(&e)
			b, err := events.Marshal(e)
			if !errors.Is(err, tc.want) {
				t.Errorf("Marshal = %s, %v; want %v", b, err, tc.want)
			}
		})
	}
}

// Invalid payloads of every type that validate must refuse, in both
// directions: Marshal refuses to write them and Unmarshal to read them.
func TestDataValidation(t *testing.T) {
	lic := sample(t, events.TypeLicenseCreated).Data.(events.LicenseCreated)
	asg := sample(t, events.TypeLicenseAssigned).Data.(events.LicenseAssigned)
	for _, tc := range []struct {
		name string
		data events.Data
	}{
		{"account without admins", events.AccountCreated{ID: "acme", Name: "Acme", FulfillmentContacts: []string{"a@b"}}},
		{"account with empty admin", events.AccountCreated{ID: "acme", Name: "Acme", FulfillmentContacts: []string{"a@b"}, Admins: []string{""}}},
		{"account without name", events.AccountCreated{ID: "acme", FulfillmentContacts: []string{"a@b"}, Admins: []string{"a@b"}}},
		{"user without email", events.UserRegistered{EntitlementCountry: "DE"}},
		{"detached with unknown reason", events.UserLicenseDetached{Email: sampleEmail, LicenseID: sampleLicense, Reason: "bored"}},
		{"claim without account", events.EmailClaimed{Email: sampleEmail}},
		{"licence of unknown kind", func() events.Data { d := lic; d.Kind = "gold"; return d }()},
		{"commercial without seats", func() events.Data { d := lic; d.Seats = 0; return d }()},
		{"trial with seats", func() events.Data { d := lic; d.Kind = events.KindTrial; return d }()},
		{"licence ends before it starts", func() events.Data { d := lic; d.ValidUntil = d.ValidFrom; return d }()},
		{"licence without products", func() events.Data { d := lic; d.Products = nil; return d }()},
		{"renewal that shortens", events.LicenseRenewed{ID: sampleLicense, ValidUntil: t0, PreviousValidUntil: t0.Add(time.Hour)}},
		{"timers out of order", func() events.Data { d := asg; d.WindowClosesAt = d.LockedUntil.Add(time.Hour); return d }()},
		{"window closes when it opens", func() events.Data { d := asg; d.WindowClosesAt = d.WindowOpenedAt; return d }()},
		{"missing timer", func() events.Data { d := asg; d.LockedUntil = time.Time{}; return d }()},
		{"reassigned to the same email", events.LicenseReassigned{ID: sampleLicense, Email: sampleEmail, PreviousEmail: sampleEmail,
			WindowOpenedAt: asg.WindowOpenedAt, WindowClosesAt: asg.WindowClosesAt, LockedUntil: asg.LockedUntil}},
		{"unassigned without reason", events.LicenseUnassigned{ID: sampleLicense, PreviousEmail: sampleEmail,
			WindowClosesAt: asg.WindowClosesAt, LockedUntil: asg.LockedUntil}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			good := sample(t, tc.data.EventType())
			e := good
			e.Data = tc.data
			if b, err := events.Marshal(e); !errors.Is(err, events.ErrMalformed) {
				t.Errorf("Marshal = %s, %v; want ErrMalformed", b, err)
			}
			// The same payload spliced into a valid document is refused on read.
			bad, err := json.Marshal(tc.data)
			if err != nil {
				t.Fatal(err)
			}
			raw := mutate(t, encode(t, good), func(doc map[string]any) { doc["data"] = json.RawMessage(bad) })
			if got, err := events.Unmarshal(raw); !errors.Is(err, events.ErrMalformed) {
				t.Errorf("Unmarshal(%s) = %+v, %v; want ErrMalformed", raw, got, err)
			}
		})
	}
}

func TestHash(t *testing.T) {
	// SHA-256 of the empty input, FIPS 180-2.
	if got, want := events.Hash(nil), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"; got != want {
		t.Errorf("Hash(nil) = %s, want %s", got, want)
	}
	seen := map[string]string{}
	for _, e := range samples(t) {
		raw := encode(t, e)
		h := events.Hash(raw)
		if len(h) != 64 || strings.ToLower(h) != h {
			t.Errorf("Hash = %q, want 64 lower-case hex digits", h)
		}
		if _, err := hex.DecodeString(h); err != nil {
			t.Errorf("Hash = %q: %v", h, err)
		}
		if h != events.Hash(bytes.Clone(raw)) {
			t.Errorf("Hash is not a function of the bytes")
		}
		if other, ok := seen[h]; ok {
			t.Errorf("%s and %s hash alike", e.Type(), other)
		}
		seen[h] = e.Type()
		// One byte more changes it.
		if events.Hash(append(bytes.Clone(raw), ' ')) == h {
			t.Errorf("%s: Hash ignores a trailing byte", e.Type())
		}
		// The hash of an event is a valid prevhash for the next one.
		next := sample(t, e.Type())
		next.PrevHash = h
		if _, err := events.Marshal(next); err != nil {
			t.Errorf("Hash as prevhash: %v", err)
		}
	}
}

func TestNewID(t *testing.T) {
	a, b := events.NewID(), events.NewID()
	if a == b {
		t.Errorf("NewID twice = %s", a)
	}
	e := sample(t, events.TypeUserRemoved)
	e.ID = a
	raw := encode(t, e)
	if err := events.CheckSchema(raw); err != nil {
		t.Errorf("NewID %s: %v", a, err)
	}
}
