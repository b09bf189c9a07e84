package console

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// An API handler that writes nothing answered 200 (as net/http sends it):
// the console treats it so, and never calls WriteHeader(0), which panics.
func TestAPIAnswerWithoutStatus(t *testing.T) {
	silent := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	c := New(silent, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := c.call(t.Context(), session{token: "t"}, http.MethodPost, "/v1/anything", nil, nil); err != nil {
		t.Errorf("an API answer without a status: %v; want it taken as 200", err)
	}
	// The sign-in reads GET /v1/accounts and gets nothing: a page, not a
	// panic.
	form := httptest.NewRecorder()
	c.ServeHTTP(form, httptest.NewRequest(http.MethodGet, "/sign-in", nil))
	csrf := form.Result().Cookies()[0].Value
	req := httptest.NewRequest(http.MethodPost, "/sign-in", strings.NewReader("csrf="+csrf+"&token=t"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: signInCookie, Value: csrf})
	rec := httptest.NewRecorder()
	func() {
		defer func() {
			if p := recover(); p != nil {
				t.Fatalf("sign-in against an API that answers nothing panicked: %v", p)
			}
		}()
		c.ServeHTTP(rec, req)
	}()
	if rec.Code == 0 || !strings.Contains(rec.Body.String(), "Something went wrong in the console") {
		t.Errorf("sign-in against an API that answers nothing: %d %s", rec.Code, rec.Body)
	}
}

// render takes status 0 as 200 rather than panic in WriteHeader.
func TestRenderStatusZero(t *testing.T) {
	c := New(http.NotFoundHandler(), Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	rec := httptest.NewRecorder()
	func() {
		defer func() {
			if p := recover(); p != nil {
				t.Fatalf("render with status 0 panicked: %v", p)
			}
		}()
		c.render(rec, httptest.NewRequest(http.MethodGet, "/", nil), 0, "problem.html", problemPage{Text: "x"})
	}()
	if rec.Code != http.StatusOK {
		t.Errorf("render with status 0: %d; want 200", rec.Code)
	}
}
