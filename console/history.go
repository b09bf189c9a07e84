package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"
)

// historyRow is one event of an aggregate's history (H4), as a row: when,
// what, who, and the event's own fields.
type historyRow struct {
	Time, Recorded time.Time
	Type           string
	Actor          string // the actor, with the token's name when the token list may be read
	Fields         []historyField
	ID             string
}

// historyField is one field of an event's data.
type historyField struct{ Name, Value string }

// storedEvent is the part of a stored CloudEvent a history row shows.
type storedEvent struct {
	ID         string                     `json:"id"`
	Type       string                     `json:"type"`
	Time       time.Time                  `json:"time"`
	RecordedAt time.Time                  `json:"recordedat"`
	Actor      string                     `json:"actor"`
	Data       map[string]json.RawMessage `json:"data"`
}

// history reads an aggregate's events from the API's history path. A
// history the API refuses is its error (an *apiError): the page fails with
// the API's status and its refusal in words, as any page's error, and a
// token the API refuses (401) ends the session.
func (c *Console) history(r *http.Request, s session, path string) ([]historyRow, error) {
	var h struct {
		Events []storedEvent `json:"events"`
	}
	if err := c.get(r.Context(), s, path, &h); err != nil {
		return nil, err
	}
	names := c.tokenNames(r, s)
	rows := make([]historyRow, 0, len(h.Events))
	for _, e := range h.Events {
		row := historyRow{Time: e.Time, Recorded: e.RecordedAt, Type: e.Type, Actor: e.Actor, ID: e.ID}
		if id, ok := strings.CutPrefix(e.Actor, "token:"); ok && names[id] != "" {
			row.Actor = fmt.Sprintf("%s (%s)", names[id], e.Actor)
		}
		keys := make([]string, 0, len(e.Data))
		for k := range e.Data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			row.Fields = append(row.Fields, historyField{Name: k, Value: fieldValue(e.Data[k])})
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// fieldValue shows a JSON value of an event's data: a string as itself, a
// time as the console shows times, a list joined, anything else as JSON.
func fieldValue(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return showTime(t)
		}
		return s
	}
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		return strings.Join(list, ", ")
	}
	return string(raw)
}

// tokenNames maps token ids to their names, when the signed-in token may
// list the tokens (admin, auditors of every account); otherwise it is
// empty and the actors are shown by id.
func (c *Console) tokenNames(r *http.Request, s session) map[string]string {
	var list struct {
		Items []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"items"`
	}
	names := map[string]string{}
	if err := c.get(r.Context(), s, apiPath("tokens"), &list); err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			c.logger.Warn("console: reading the token list for a history", logKeyErr, err)
		}
		return names
	}
	for _, t := range list.Items {
		names[t.ID] = t.Name
	}
	return names
}
