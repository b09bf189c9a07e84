package commands

import (
	"errors"
	"testing"
)

// rule A5: an email is stored in NFC and lower case, so a decomposed "josé"
// and the composed one are one email; the look-alikes of issue 19 are
// refused invalid_argument, naming the field.
func TestNormalizeEmailA5(t *testing.T) {
	composed, err := NormalizeEmail("email", "Jos\u00e9@X.example")
	if err != nil {
		t.Fatal(err)
	}
	decomposed, err := NormalizeEmail("email", " jose\u0301@x.example ")
	if err != nil {
		t.Fatal(err)
	}
	if composed != decomposed || composed != "jos\u00e9@x.example" {
		t.Fatalf("composed %q, decomposed %q: want one email in NFC", composed, decomposed)
	}
	for _, e := range []string{"b\u043eb@x.example", "\uff42\uff4f\uff42@x.example", "\U0001d41bob@x.example",
		"b\u0131ll@x.example", "bob\u3164@x.example", "a/./b@x.example", "/lead@x.example", "a//b@x.example"} {
		_, err := NormalizeEmail("email", e)
		var ce *Error
		if !errors.As(err, &ce) || ce.Code != CodeInvalidArgument || ce.Details["field"] != "email" {
			t.Errorf("%q: %v, want invalid_argument naming email", e, err)
		}
	}
}
