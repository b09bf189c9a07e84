package console

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// apiError is an answer of the API that is not a success: its status and
// its error body (docs/api.md, Errors).
type apiError struct {
	Status  int
	Code    string
	Message string
	Details map[string]any
}

func (e *apiError) Error() string {
	return fmt.Sprintf("console: the API answered %d %s: %s", e.Status, e.Code, e.Message)
}

// detail is a string detail of the error ("" when absent).
func (e *apiError) detail(key string) string {
	switch v := e.Details[key].(type) {
	case string:
		return v
	case float64:
		return fmt.Sprint(v)
	}
	return ""
}

// recorder is the http.ResponseWriter of an in-process API call.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

// apiPath joins path segments, each escaped, under /v1: apiPath("accounts",
// a, "users", email).
func apiPath(segments ...string) string {
	var b strings.Builder
	b.WriteString("/v1")
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// withQuery adds the non-empty values of q to path.
func withQuery(path string, q url.Values) string {
	for k, vs := range q {
		if len(vs) == 0 || vs[0] == "" {
			delete(q, k)
		}
	}
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

// call sends one request to the API in-process with s's token: body (nil
// for none) as JSON, the answer decoded into out (nil: not read). An
// answer that is not a success is an *apiError.
func (c *Console) call(ctx context.Context, s session, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("console: encoding the body of %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, path, rd)
	if err != nil {
		return fmt.Errorf("console: %s %s: %w", method, path, err)
	}
	if rd == nil {
		req.Body = http.NoBody // as a server's request: never nil
	}
	req.RequestURI = path
	req.Header.Set("Authorization", "Bearer "+s.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := &recorder{header: http.Header{}}
	c.api.ServeHTTP(rec, req)
	if rec.status == 0 {
		rec.status = http.StatusOK // a handler that wrote nothing answered 200, as net/http sends it
	}
	if rec.status/100 != 2 {
		var eb struct {
			Error struct {
				Code    string         `json:"code"`
				Message string         `json:"message"`
				Details map[string]any `json:"details"`
			} `json:"error"`
		}
		json.Unmarshal(rec.body.Bytes(), &eb)
		return &apiError{Status: rec.status, Code: eb.Error.Code, Message: eb.Error.Message, Details: eb.Error.Details}
	}
	if out == nil || rec.status == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(rec.body.Bytes(), out); err != nil {
		return fmt.Errorf("console: decoding the answer of %s %s: %w", method, path, err)
	}
	return nil
}

// get reads one resource of the API into out.
func (c *Console) get(ctx context.Context, s session, path string, out any) error {
	return c.call(ctx, s, http.MethodGet, path, nil, out)
}
