package api

import (
	"net/http"
	"time"
)

// asOf reads ?as_of=T of a read (H4); ok is false without one.
func asOf(r *http.Request) (t time.Time, ok bool, err error) {
	q := r.URL.Query()
	if !q.Has("as_of") {
		return time.Time{}, false, nil
	}
	t, err = requiredTime("as_of", q.Get("as_of"))
	return t, err == nil, err
}
