package events

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Country is an ISO 3166-1 alpha-2 country code (A3, G9), or none: "" is
// written as JSON null and null reads as "". Usage is recorded with its
// user's entitlement country, which may be none; a commercial licence names
// the country whose pool its seats serve, or none (global seats).
type Country string

// MarshalJSON writes the code as a string, or null for none.
func (c Country) MarshalJSON() ([]byte, error) {
	if c == "" {
		return []byte("null"), nil
	}
	return json.Marshal(string(c))
}

// UnmarshalJSON reads a string or null. The empty string is refused: none
// is written null, so "" would not be read back as written.
func (c *Country) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		*c = ""
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if s == "" {
		return fmt.Errorf("country \"\": want a country code or null")
	}
	*c = Country(s)
	return nil
}

// String is the code, or "" for none.
func (c Country) String() string { return string(c) }

// CountryPattern is the regular expression a country code matches.
const CountryPattern = `^[A-Z]{2}$`
