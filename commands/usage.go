package commands

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/entledger/ledger/events"
)

// Usage rules (F).
const (
	// MaxUsageBatch is the most records one request may carry.
	MaxUsageBatch = 1000
	// MaxUsageSpan is the longest a record may span (F1).
	MaxUsageSpan = 7 * 24 * time.Hour
	// DefaultUsageHorizon is how late usage may arrive (F3).
	DefaultUsageHorizon = 35 * 24 * time.Hour
)

// Codes of the usage rules.
const (
	CodeUsageIDConflict = "usage_id_conflict"
	CodeUsageTooOld     = "usage_too_old"
	CodeUsageInFuture   = "usage_in_future"
	CodeUsageRejected   = "usage_rejected" // a batch whose bad records fail for different reasons
)

// UsageRecord is one record of usage as a client sends it (F1).
type UsageRecord struct {
	UsageID       string
	Email         string
	Product       string
	MachineID     string
	ClientVersion string
	StartedAt     time.Time
	EndedAt       time.Time
	Offline       bool
}

// Digest identifies a record's content: the same usage_id with another
// digest is usage_id_conflict (F2).
func (r UsageRecord) Digest() string {
	h := sha256.New()
	for _, f := range []string{r.UsageID, r.Email, r.Product, r.MachineID, r.ClientVersion,
		r.StartedAt.UTC().Format(time.RFC3339Nano), r.EndedAt.UTC().Format(time.RFC3339Nano), strconv.FormatBool(r.Offline)} {
		h.Write([]byte(f))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Normalize validates one record on its own (F1, D4) and returns it in
// canonical form.
func (r UsageRecord) Normalize() (UsageRecord, *Error) {
	if !events.UsageIDPattern.MatchString(r.UsageID) {
		return r, Invalid("usage_id", "%q is not a usage id: 1 to 128 printable ASCII characters without spaces (a ULID is recommended)", r.UsageID)
	}
	var err error
	if r.Email, err = NormalizeEmail("email", r.Email); err != nil {
		return r, err.(*Error)
	}
	if err := ProductID("product", r.Product); err != nil {
		return r, err.(*Error)
	}
	if err := MachineID("machine_id", r.MachineID); err != nil {
		return r, err.(*Error)
	}
	if _, err := ParseVersion("client_version", r.ClientVersion); err != nil {
		return r, err.(*Error)
	}
	if r.StartedAt, err = Instant("started_at", r.StartedAt); err != nil {
		return r, err.(*Error)
	}
	if r.EndedAt, err = Instant("ended_at", r.EndedAt); err != nil {
		return r, err.(*Error)
	}
	if r.EndedAt.Before(r.StartedAt) {
		return r, Invalid("ended_at", "ended_at is before started_at")
	}
	if r.EndedAt.Sub(r.StartedAt) > MaxUsageSpan {
		return r, Invalid("ended_at", "a record spans at most %s", MaxUsageSpan)
	}
	return r, nil
}

// Holding is an interval during which a user held a practitioner licence:
// [From, To), To zero while still held.
type Holding struct {
	LicenseID string    `json:"license_id"`
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`
}

// heldAt returns the licence id held at t, or "".
func heldAt(hs []Holding, t time.Time) string {
	for i := len(hs) - 1; i >= 0; i-- {
		h := hs[i]
		if !t.Before(h.From) && (h.To.IsZero() || t.Before(h.To)) {
			return h.LicenseID
		}
	}
	return ""
}

// RecordUsage records a batch of usage records (F1–F5).
type RecordUsage struct {
	Account string
	Records []UsageRecord
}

// BadRecord is one record that made a batch fail.
type BadRecord struct {
	Index   int    `json:"index"`
	UsageID string `json:"usage_id"`
	Code    string `json:"code"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// RejectBatch builds the rejection of a batch with bad records: the
// records' code if they share one, usage_rejected otherwise, with the index
// and reason of each bad record.
func RejectBatch(bad []BadRecord) *Error {
	code := bad[0].Code
	for _, b := range bad[1:] {
		if b.Code != code {
			code = CodeUsageRejected
			break
		}
	}
	e := Reject(code, "%d of the batch's records are rejected; nothing was recorded (first: record %d: %s)",
		len(bad), bad[0].Index, bad[0].Message)
	return e.With("records", bad)
}

// Normalize validates every record and returns the batch in canonical form,
// or a rejection naming each bad record.
func (c RecordUsage) Normalize() (RecordUsage, error) {
	if err := AccountID("account", c.Account); err != nil {
		return c, err
	}
	if len(c.Records) == 0 || len(c.Records) > MaxUsageBatch {
		return c, Invalid("records", "a batch holds 1 to %d records, not %d", MaxUsageBatch, len(c.Records))
	}
	out := make([]UsageRecord, len(c.Records))
	var bad []BadRecord
	for i, r := range c.Records {
		n, err := r.Normalize()
		if err != nil {
			field, _ := err.Details["field"].(string)
			bad = append(bad, BadRecord{Index: i, UsageID: r.UsageID, Code: err.Code, Field: field, Message: err.Message})
		}
		out[i] = n
	}
	if len(bad) > 0 {
		return c, RejectBatch(bad)
	}
	c.Records = out
	return c, nil
}

// KnownUsage is what the ledger already recorded under a usage id.
type KnownUsage struct {
	Digest         string `json:"digest"`
	Classification string `json:"classification"`
	LicenseID      string `json:"license_id"`
	CommandID      string `json:"command_id"`
}

// UsageResult is the answer for one record.
type UsageResult struct {
	UsageID        string
	Classification string
	LicenseID      string
	Duplicate      bool
}

// UsageContext is what a usage batch is decided against.
type UsageContext struct {
	Users    map[string]User       // by email: the batch's users
	Licenses map[string]License    // by id: the licences the users held
	Pooled   map[string][]License  // by product: the commercial and trial licences covering it
	Known    map[string]KnownUsage // by usage id: records already recorded
	Logs     map[string]time.Time  // by product: the last event of its usage subject
	Horizon  time.Duration         // late-arrival horizon (F3)
}

// Decide records the batch whole or not at all. Records already recorded
// with the same content are duplicates and count once (F2); the same id
// with other content is usage_id_conflict. Each new record is classified as
// of its started_at (F4) and the classification is written into its event.
func (c RecordUsage) Decide(ctx UsageContext, now time.Time) ([]events.Event, []UsageResult, error) {
	horizon := ctx.Horizon
	if horizon <= 0 {
		horizon = DefaultUsageHorizon
	}
	var bad []BadRecord
	results := make([]UsageResult, len(c.Records))
	seen := map[string]string{} // usage id → digest, within this batch
	var out []events.Event
	for i, r := range c.Records {
		digest := r.Digest()
		fail := func(code, format string, args ...any) {
			bad = append(bad, BadRecord{Index: i, UsageID: r.UsageID, Code: code, Message: fmt.Sprintf(format, args...)})
		}
		if k, ok := ctx.Known[r.UsageID]; ok {
			if k.Digest != digest {
				fail(CodeUsageIDConflict, "usage_id %q was recorded before with other content", r.UsageID)
				continue
			}
			results[i] = UsageResult{UsageID: r.UsageID, Classification: k.Classification, LicenseID: k.LicenseID, Duplicate: true}
			continue
		}
		if d, ok := seen[r.UsageID]; ok {
			if d != digest {
				fail(CodeUsageIDConflict, "usage_id %q appears twice in the batch with other content", r.UsageID)
				continue
			}
			results[i] = UsageResult{UsageID: r.UsageID, Duplicate: true} // filled in below
			continue
		}
		switch {
		case r.StartedAt.Before(now.Add(-horizon)):
			fail(CodeUsageTooOld, "started_at %s is older than the late-arrival horizon of %s",
				r.StartedAt.Format(time.RFC3339), horizon)
			continue
		case r.StartedAt.After(now.Add(FutureSkew)) || r.EndedAt.After(now.Add(FutureSkew)):
			fail(CodeUsageInFuture, "the record ends more than %s after the ledger's clock", FutureSkew)
			continue
		}
		user := ctx.Users[r.Email]
		if !user.Registered {
			fail(CodeUserNotFound, "%s is not a user of account %q", r.Email, c.Account)
			continue
		}
		seen[r.UsageID] = digest
		class, lic := classify(r, user, ctx)
		results[i] = UsageResult{UsageID: r.UsageID, Classification: class, LicenseID: lic}
		out = append(out, event(c.Account, r.Product, time.Time{}, events.UsageRecorded{
			UsageID: r.UsageID, Email: r.Email, Product: r.Product, MachineID: r.MachineID,
			ClientVersion: r.ClientVersion, StartedAt: r.StartedAt, EndedAt: r.EndedAt, Offline: r.Offline,
			Classification: class, LicenseID: lic, Digest: digest,
		}))
	}
	if len(bad) > 0 {
		return nil, nil, RejectBatch(bad)
	}
	first := map[string]UsageResult{}
	for _, res := range results {
		if !res.Duplicate {
			first[res.UsageID] = res
		}
	}
	for i, res := range results {
		if f, ok := first[res.UsageID]; ok && res.Duplicate {
			results[i].Classification, results[i].LicenseID = f.Classification, f.LicenseID
		}
	}
	// The events' business time: the ledger's clock, never before the last
	// event of a product's usage log, so each log stays in order.
	for i := range out {
		at, err := businessTime(time.Time{}, now, ctx.Logs[out[i].AggregateID])
		if err != nil {
			return nil, nil, err
		}
		out[i].OccurredAt = at
	}
	return out, results, nil
}

// classify applies F4 as of the record's started_at: practitioner when the
// email then held a practitioner licence active at that time, covering the
// product, with a client of at least MinPractitionerVersion; otherwise trial
// if only a trial covers it; otherwise pooled.
func classify(r UsageRecord, user User, ctx UsageContext) (class, licenseID string) {
	t := r.StartedAt
	if id := heldAt(user.Holdings, t); id != "" {
		lic := ctx.Licenses[id]
		v, _ := ParseVersion("client_version", r.ClientVersion)
		if lic.ActiveAt(t) && slices.Contains(lic.Products, r.Product) && v.Compare(MinPractitionerVersion) >= 0 {
			return events.ClassPractitioner, id
		}
	}
	pooled := ctx.Pooled[r.Product]
	if id := activeCovering(pooled, events.KindCommercial, r.Product, t); id != "" {
		return events.ClassPooled, id
	}
	if id := activeCovering(pooled, events.KindTrial, r.Product, t); id != "" {
		return events.ClassTrial, id
	}
	return events.ClassPooled, ""
}

// UsageLog is the state of a product's usage aggregate: how many records it
// holds and its last event's time.
type UsageLog struct {
	Records     int       `json:"records"`
	LastEventAt time.Time `json:"last_event_at"`
}

// Apply folds one event of the usage subject into the state.
func (l *UsageLog) Apply(e events.Event) {
	l.LastEventAt = e.OccurredAt
	if _, ok := e.Data.(events.UsageRecorded); ok {
		l.Records++
	}
}
