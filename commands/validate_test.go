package commands_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/entledger/ledger/commands"
)

// wantInvalid checks that err is an invalid_argument naming field.
func wantInvalid(tb testing.TB, err error, field string) {
	tb.Helper()
	if got := commands.CodeOf(err); got != commands.CodeInvalidArgument {
		tb.Fatalf("code: got %q (err %v), want %q", got, err, commands.CodeInvalidArgument)
	}
	var e *commands.Error
	if !errors.As(err, &e) {
		tb.Fatalf("error: got %T, want *commands.Error", err)
	}
	if got := e.Details["field"]; got != field {
		tb.Errorf("details[field]: got %v, want %q", got, field)
	}
	if !strings.HasPrefix(e.Message, field+": ") {
		tb.Errorf("message: got %q, want it to start with the field %q", e.Message, field)
	}
}

// Emails are compared case-insensitively and stored lower-cased (docs/rules.md,
// preamble).
func TestNormalizeEmail(t *testing.T) {
	long254 := strings.Repeat("l", 64) + "@" + strings.Repeat(strings.Repeat("d", 60)+".", 3) + "abcdef"
	if len(long254) != 254 {
		t.Fatalf("long254: got %d bytes, want 254", len(long254))
	}
	tests := []struct {
		name, in, want string // want "" means rejected invalid_argument
	}{
		{"lower-case kept", "a@x.com", "a@x.com"},
		{"upper-case folded", "A@X.COM", "a@x.com"},
		{"mixed case folded", "Bob.Smith@Example.ORG", "bob.smith@example.org"},
		{"surrounding space trimmed", "  Bob@Example.org\t", "bob@example.org"},
		{"plus and dots in local part", "first.last+tag@sub.example.co.uk", "first.last+tag@sub.example.co.uk"},
		{"hyphen inside domain label", "a@my-host.example", "a@my-host.example"},
		{"local part of 64", strings.Repeat("l", 64) + "@x.com", strings.Repeat("l", 64) + "@x.com"},
		{"254 characters", long254, long254},

		{"empty", "", ""},
		{"blank", "   ", ""},
		{"no @", "ax.com", ""},
		{"empty local part", "@x.com", ""},
		{"empty domain", "a@", ""},
		{"domain without dot", "a@x", ""},
		{"two @", "a@b@x.com", ""},
		{"double @", "a@@x.com", ""},
		{"space in local part", "a b@x.com", ""},
		{"space in domain", "a@x .com", ""},
		{"leading dot", ".a@x.com", ""},
		{"trailing dot", "a.@x.com", ""},
		{"consecutive dots", "a..b@x.com", ""},
		{"parenthesis", "a(b)@x.com", ""},
		{"comma", "a,b@x.com", ""},
		{"angle brackets", "<a@x.com>", ""},
		{"quote", `"a"@x.com`, ""},
		{"control character", "a\x01b@x.com", ""},
		{"DEL", "a\x7fb@x.com", ""},
		{"domain label starts with hyphen", "a@-x.com", ""},
		{"domain label ends with hyphen", "a@x-.com", ""},
		{"domain with empty label", "a@x..com", ""},
		{"domain with underscore", "a@x_y.com", ""},
		{"domain ends with dot", "a@x.com.", ""},
		{"local part of 65", strings.Repeat("l", 65) + "@x.com", ""},
		{"255 characters", strings.Repeat("l", 64) + "@" + strings.Repeat(strings.Repeat("d", 60)+".", 3) + "abcdefg", ""},
		// Known bug (see the report): strings.ToLower replaces invalid UTF-8 by
		// U+FFFD before the utf8.ValidString check, so the check never fires
		// and "a\xffb@x.com" is accepted as "a\uFFFDb@x.com" instead of being
		// rejected.
		{"invalid UTF-8", "a\xffb@x.com", ""},
		{"invalid UTF-8 with upper case", "A\xffB@X.COM", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := commands.NormalizeEmail("email", tt.in)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("NormalizeEmail(%q): got %q, nil; want invalid_argument", tt.in, got)
				}
				wantInvalid(t, err, "email")
				if got != "" {
					t.Errorf("NormalizeEmail(%q): got %q with the error, want \"\"", tt.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("NormalizeEmail(%q): got %v, want nil", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("NormalizeEmail(%q): got %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestNormalizeEmailNamesField(t *testing.T) {
	_, err := commands.NormalizeEmail("fulfillment_contact", "nope")
	wantInvalid(t, err, "fulfillment_contact")
}

// rule A3: the entitlement country is an ISO 3166-1 alpha-2 code; it may be
// empty at registration only.
func TestCountry(t *testing.T) {
	tests := []struct {
		name       string
		in         string
		allowEmpty bool
		want       string
		wantErr    bool
	}{
		{"valid DE", "DE", false, "DE", false},
		{"lower-case de normalised", "de", false, "DE", false},
		{"mixed case and spaces", " Fr ", false, "FR", false},
		{"valid US", "US", false, "US", false},
		{"invalid XX", "XX", false, "", true},
		{"not assigned UK", "UK", false, "", true},
		{"not assigned EU", "EU", false, "", true},
		{"alpha-3 DEU", "DEU", false, "", true},
		{"one letter", "D", false, "", true},
		{"digits", "49", false, "", true},
		{"empty allowed at registration", "", true, "", false},
		{"blank allowed at registration", "  ", true, "", false},
		{"empty not allowed", "", false, "", true},
		{"invalid even when empty allowed", "XX", true, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := commands.Country("entitlement_country", tt.in, tt.allowEmpty)
			if tt.wantErr {
				wantInvalid(t, err, "entitlement_country")
				return
			}
			if err != nil {
				t.Fatalf("Country(%q, %v): got %v, want nil", tt.in, tt.allowEmpty, err)
			}
			if got != tt.want {
				t.Errorf("Country(%q, %v): got %q, want %q", tt.in, tt.allowEmpty, got, tt.want)
			}
		})
	}
}

// rule B1: a licence covers a non-empty list of product ids.
func TestProducts(t *testing.T) {
	many := make([]string, 101)
	for i := range many {
		many[i] = fmt.Sprintf("p%03d", i)
	}
	tests := []struct {
		name string
		in   []string
		want []string // nil means rejected
	}{
		{"one", []string{"revit"}, []string{"revit"}},
		{"sorted", []string{"revit", "autocad", "maya"}, []string{"autocad", "maya", "revit"}},
		{"deduped", []string{"revit", "autocad", "revit", "autocad"}, []string{"autocad", "revit"}},
		{"digits, underscore and hyphen", []string{"3ds-max", "civil_3d"}, []string{"3ds-max", "civil_3d"}},
		{"100 allowed", many[:100], many[:100]},

		{"nil", nil, nil},
		{"empty", []string{}, nil},
		{"empty id", []string{"revit", ""}, nil},
		{"upper case", []string{"Revit"}, nil},
		{"leading hyphen", []string{"-revit"}, nil},
		{"space", []string{"re vit"}, nil},
		{"dot", []string{"revit.2026"}, nil},
		{"65 characters", []string{strings.Repeat("p", 65)}, nil},
		{"101 products", many, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.in)
			got, err := commands.Products("products", in)
			if !slices.Equal(in, tt.in) {
				t.Errorf("input: got %q after the call, want it unchanged %q", in, tt.in)
			}
			if tt.want == nil {
				wantInvalid(t, err, "products")
				return
			}
			if err != nil {
				t.Fatalf("Products(%q): got %v, want nil", tt.in, err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Products(%q): got %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// rule A1: an account id is [a-z0-9][a-z0-9-]{0,62}.
func TestAccountID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"acme", true},
		{"a", true},
		{"0", true},
		{"acme-gmbh", true},
		{"acme-", true},
		{"9lives", true},
		{strings.Repeat("a", 63), true},

		{"", false},
		{strings.Repeat("a", 64), false},
		{"-acme", false},
		{"Acme", false},
		{"acme_gmbh", false},
		{"_global", false},
		{"acme.gmbh", false},
		{"acme gmbh", false},
		{"acme*", false},
		{"acme>", false},
		{"acme\n", false},
		{"äcme", false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.id), func(t *testing.T) {
			err := commands.AccountID("account", tt.id)
			if tt.want {
				if err != nil {
					t.Errorf("AccountID(%q): got %v, want nil", tt.id, err)
				}
				return
			}
			wantInvalid(t, err, "account")
		})
	}
}

// rule B1: a licence has an id.
func TestLicenseID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"P1", true},
		{"p", true},
		{"7", true},
		{"LIC-2026.01_a", true},
		{strings.Repeat("L", 64), true},

		{"", false},
		{strings.Repeat("L", 65), false},
		{".P1", false},
		{"-P1", false},
		{"_P1", false},
		{"P 1", false},
		{"P/1", false},
		{"P*1", false},
		{"P>1", false},
		{"Ä1", false},
		{"P1\n", false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.id), func(t *testing.T) {
			err := commands.LicenseID("license_id", tt.id)
			if tt.want {
				if err != nil {
					t.Errorf("LicenseID(%q): got %v, want nil", tt.id, err)
				}
				return
			}
			wantInvalid(t, err, "license_id")
		})
	}
}

// rule A1: an account has a name.
func TestName(t *testing.T) {
	tests := []struct {
		name, in, want string // want "" means rejected
	}{
		{"plain", "Acme GmbH", "Acme GmbH"},
		{"trimmed", "  Acme  ", "Acme"},
		{"unicode", "Büro Müller", "Büro Müller"},
		{"200 runes", strings.Repeat("ü", commands.MaxNameLength), strings.Repeat("ü", commands.MaxNameLength)},

		{"empty", "", ""},
		{"blank", " \t ", ""},
		{"201 runes", strings.Repeat("ü", commands.MaxNameLength+1), ""},
		{"control character", "Acme\x00GmbH", ""},
		{"newline inside", "Acme\nGmbH", ""},
		{"DEL", "Acme\x7f", ""},
		{"invalid UTF-8", "Acme\xff", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := commands.Name("name", tt.in)
			if tt.want == "" {
				wantInvalid(t, err, "name")
				return
			}
			if err != nil {
				t.Fatalf("Name(%q): got %v, want nil", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("Name(%q): got %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestInstant(t *testing.T) {
	cet := time.FixedZone("CET", 3600)
	tests := []struct {
		name string
		in   time.Time
		want time.Time // zero means rejected
	}{
		{"UTC kept", t0, t0},
		{"other zone converted to UTC", time.Date(2026, 1, 5, 1, 0, 0, 0, cet), t0},
		{"first instant of 2000", time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"last instant of 8999", time.Date(9000, 1, 1, 0, 0, 0, -1, time.UTC), time.Date(9000, 1, 1, 0, 0, 0, -1, time.UTC)},

		{"zero", time.Time{}, time.Time{}},
		{"1999", time.Date(1999, 12, 31, 23, 59, 59, 0, time.UTC), time.Time{}},
		{"9000", time.Date(9000, 1, 1, 0, 0, 0, 0, time.UTC), time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := commands.Instant("valid_from", tt.in)
			if tt.want.IsZero() {
				wantInvalid(t, err, "valid_from")
				return
			}
			if err != nil {
				t.Fatalf("Instant(%v): got %v, want nil", tt.in, err)
			}
			if !got.Equal(tt.want) || got.Location() != time.UTC {
				t.Errorf("Instant(%v): got %v (%v), want %v UTC", tt.in, got, got.Location(), tt.want)
			}
		})
	}
}

func TestErrorAndCodeOf(t *testing.T) {
	e := commands.Reject(commands.CodeLicenseLocked, "licence %q is locked", "P1").
		With("locked_until", time.Date(2026, 2, 5, 1, 0, 0, 0, time.FixedZone("CET", 3600))).
		With("n", 3)
	if got, want := e.Error(), `license_locked: licence "P1" is locked`; got != want {
		t.Errorf("Error(): got %q, want %q", got, want)
	}
	wantDetail(t, e, "locked_until", "2026-02-05T00:00:00Z")
	wantDetail(t, e, "n", 3)

	tests := []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"plain error", errors.New("boom"), ""},
		{"rejection", e, commands.CodeLicenseLocked},
		{"wrapped rejection", fmt.Errorf("ledger: assign: %w", e), commands.CodeLicenseLocked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := commands.CodeOf(tt.err); got != tt.want {
				t.Errorf("CodeOf(%v): got %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}
