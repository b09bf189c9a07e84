package commands

import (
	"crypto/sha256"
	"encoding/hex"
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
	if err := UsageID("usage_id", r.UsageID); err != nil {
		return r, err.(*Error)
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

// HeldAt returns the practitioner licence the user held at t, or "".
func (u *User) HeldAt(t time.Time) string { return heldAt(u.Holdings, t) }

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
	// Malformed holds, by index into Records, the records the caller could
	// not even decode (a time that is not RFC 3339, say): Normalize rejects
	// them with the others, with the caller's error.
	Malformed map[int]*Error
}

// BadRecord is one record that made a batch fail.
type BadRecord struct {
	Index   int    `json:"index"`
	UsageID string `json:"usage_id"`
	Code    string `json:"code"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// badRecord describes record i of a batch, failing with err.
func badRecord(i int, usageID string, err *Error) BadRecord {
	field, _ := err.Details["field"].(string)
	return BadRecord{Index: i, UsageID: usageID, Code: err.Code, Field: field, Message: err.Message}
}

// RejectBatch builds the rejection of a batch with bad records, given in
// record order: the code (and so the HTTP status) of the first bad record,
// with every bad record, its index and its own code in details.records. The
// same batch always gets the same answer, whatever the mix of codes.
func RejectBatch(bad []BadRecord) *Error {
	noun := "records are"
	if len(bad) == 1 {
		noun = "record is"
	}
	e := Reject(bad[0].Code, "%d of the batch's %s rejected; nothing was recorded (first: record %d: %s)",
		len(bad), noun, bad[0].Index, bad[0].Message)
	return e.With("records", bad)
}

// Normalize validates the batch's size and every record on its own (F1, D4),
// and returns the batch in canonical form, or a rejection naming each bad
// record. It is the one place a batch's shape is checked.
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
		if err := c.Malformed[i]; err != nil {
			bad = append(bad, badRecord(i, r.UsageID, err))
			continue
		}
		n, err := r.Normalize()
		if err != nil {
			bad = append(bad, badRecord(i, r.UsageID, err))
		}
		out[i] = n
	}
	if len(bad) > 0 {
		return c, RejectBatch(bad)
	}
	c.Records, c.Malformed = out, nil
	return c, nil
}

// KnownUsage is what the ledger already recorded under a usage id.
type KnownUsage struct {
	Digest         string    `json:"digest"`
	Classification string    `json:"classification"`
	LicenseID      string    `json:"license_id"`
	CommandID      string    `json:"command_id"`
	Product        string    `json:"product"`
	Email          string    `json:"email"`
	MachineID      string    `json:"machine_id"`
	StartedAt      time.Time `json:"started_at"`
	EndedAt        time.Time `json:"ended_at"`
	Seq            uint64    `json:"seq"`               // the stream sequence of its usage.recorded event
	Country        string    `json:"country,omitempty"` // recorded with it (G9)
	// Leak is set for a pooled record whose email held, at started_at, a
	// practitioner licence active then and covering the product, used from
	// a client too old for it (F4, G11).
	Leak bool `json:"leak,omitempty"`
	// VoidedSeq is the stream sequence of the usage.voided event that
	// corrected it (0: not voided). A voided record stays known: sent again,
	// it is a duplicate (F2), and it never counts again.
	VoidedSeq uint64 `json:"voided_seq,omitempty"`
}

// UsageResult is the answer for one record.
type UsageResult struct {
	UsageID        string
	Classification string
	LicenseID      string
	Duplicate      bool
}

// UsageFacts is what a usage batch is decided against.
type UsageFacts struct {
	Users    map[string]User       // by email: the batch's users
	Licenses map[string]License    // by id: the licences the users held
	Pooled   map[string][]License  // by product: the commercial and trial licences covering it
	Known    map[string]KnownUsage // by usage id: records already recorded
	Logs     map[string]time.Time  // by product: the last event of the usage subject it is appended to
	Horizon  time.Duration         // late-arrival horizon (F3)
}

// Decide records the batch whole or not at all. Records already recorded
// with the same content are duplicates and count once (F2); the same id
// with other content is usage_id_conflict. Each new record is classified as
// of its started_at (F4) and the classification is written into its event.
func (c RecordUsage) Decide(facts UsageFacts, now time.Time) ([]events.Event, []UsageResult, error) {
	horizon := facts.Horizon
	if horizon <= 0 {
		horizon = DefaultUsageHorizon
	}
	var out []events.Event
	results, bad := c.sortOut(facts.Known, func(i int, r UsageRecord) (UsageResult, *Error) {
		switch {
		case r.StartedAt.Before(now.Add(-horizon)):
			return UsageResult{}, Reject(CodeUsageTooOld, "started_at %s is older than the late-arrival horizon of %s",
				r.StartedAt.Format(time.RFC3339), horizon)
		case r.StartedAt.After(now.Add(FutureSkew)) || r.EndedAt.After(now.Add(FutureSkew)):
			return UsageResult{}, Reject(CodeUsageInFuture, "the record ends more than %s after the ledger's clock", FutureSkew)
		}
		user := facts.Users[r.Email]
		if !user.Registered {
			return UsageResult{}, userNotFound(c.Account, r.Email)
		}
		class, lic := classifyRecord(r, user, facts)
		out = append(out, event(c.Account, r.Product, time.Time{}, events.UsageRecorded{
			UsageID: r.UsageID, Email: r.Email, Product: r.Product, MachineID: r.MachineID,
			ClientVersion: r.ClientVersion, StartedAt: r.StartedAt, EndedAt: r.EndedAt, Offline: r.Offline,
			Classification: class, LicenseID: lic, Digest: r.Digest(), Country: events.Country(user.CountryAt(r.StartedAt)),
		}))
		return UsageResult{UsageID: r.UsageID, Classification: class, LicenseID: lic}, nil
	})
	if len(bad) > 0 {
		return nil, nil, RejectBatch(bad)
	}
	// The events' business time: the ledger's clock, never before the last
	// event of the usage subject they go to, so each subject stays in order.
	for i := range out {
		at, err := businessTime(time.Time{}, now, facts.Logs[out[i].AggregateID])
		if err != nil {
			return nil, nil, err
		}
		out[i].OccurredAt = at
	}
	return out, results, nil
}

// Replay answers a batch that was recorded before by command commandID, as
// Decide answered it then: known holds what the ledger recorded under the
// batch's usage ids, this command's records among them.
func (c RecordUsage) Replay(known map[string]KnownUsage, commandID string) []UsageResult {
	before := make(map[string]KnownUsage, len(known))
	for id, k := range known {
		if k.CommandID != commandID {
			before[id] = k
		}
	}
	results, _ := c.sortOut(before, func(i int, r UsageRecord) (UsageResult, *Error) {
		k := known[r.UsageID]
		return UsageResult{UsageID: r.UsageID, Classification: k.Classification, LicenseID: k.LicenseID}, nil
	})
	return results
}

// sortOut answers every record of the batch in order: a record already known
// or repeated earlier in the batch with the same content is a duplicate,
// classified as the first (F2), with other content usage_id_conflict; every
// other record is answered by fresh. It returns the results, or the bad
// records in record order.
func (c RecordUsage) sortOut(known map[string]KnownUsage, fresh func(i int, r UsageRecord) (UsageResult, *Error)) ([]UsageResult, []BadRecord) {
	var bad []BadRecord
	results := make([]UsageResult, len(c.Records))
	first := map[string]int{} // usage id → index of its first new record in the batch
	digests := map[string]string{}
	for i, r := range c.Records {
		digest := r.Digest()
		if k, ok := known[r.UsageID]; ok {
			if k.Digest != digest {
				bad = append(bad, badRecord(i, r.UsageID, Reject(CodeUsageIDConflict,
					"usage_id %q was recorded before with other content", r.UsageID)))
				continue
			}
			results[i] = UsageResult{UsageID: r.UsageID, Classification: k.Classification, LicenseID: k.LicenseID, Duplicate: true}
			continue
		}
		if d, ok := digests[r.UsageID]; ok {
			if d != digest {
				bad = append(bad, badRecord(i, r.UsageID, Reject(CodeUsageIDConflict,
					"usage_id %q appears twice in the batch with other content", r.UsageID)))
				continue
			}
			results[i] = results[first[r.UsageID]]
			results[i].Duplicate = true
			continue
		}
		res, err := fresh(i, r)
		if err != nil {
			bad = append(bad, badRecord(i, r.UsageID, err))
			continue
		}
		digests[r.UsageID], first[r.UsageID] = digest, i
		results[i] = res
	}
	return results, bad
}

// classifyRecord applies F4 as of the record's started_at: practitioner when the
// email then held a practitioner licence active at that time, covering the
// product, with a client of at least MinPractitionerVersion; otherwise trial
// if only a trial covers it; otherwise pooled.
func classifyRecord(r UsageRecord, user User, facts UsageFacts) (class, licenseID string) {
	t := r.StartedAt
	if id := heldAt(user.Holdings, t); id != "" {
		lic := facts.Licenses[id]
		v, _ := ParseVersion("client_version", r.ClientVersion)
		if lic.ActiveAt(t) && slices.Contains(lic.Products, r.Product) && v.Compare(MinPractitionerVersion) >= 0 {
			return events.ClassPractitioner, id
		}
	}
	pooled := facts.Pooled[r.Product]
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

// VoidUsage voids mis-recorded usage records (H1: a correction is a new
// event): from the usage.voided event on, they count in no peak, QTL or
// summary; reports as of an earlier sequence still count them.
type VoidUsage struct {
	Account  string
	UsageIDs []string
	Reason   string
	At       time.Time
}

// Normalize validates the command: 1 to MaxUsageBatch usage ids, sorted,
// without repeats, and a reason.
func (c VoidUsage) Normalize() (VoidUsage, error) {
	if err := AccountID("account", c.Account); err != nil {
		return c, err
	}
	if len(c.UsageIDs) == 0 || len(c.UsageIDs) > MaxUsageBatch {
		return c, Invalid("usage_ids", "1 to %d usage ids, not %d", MaxUsageBatch, len(c.UsageIDs))
	}
	ids := slices.Clone(c.UsageIDs)
	for _, id := range ids {
		if err := UsageID("usage_ids", id); err != nil {
			return c, err
		}
	}
	slices.Sort(ids)
	c.UsageIDs = slices.Compact(ids)
	var err error
	c.Reason, err = Name("reason", c.Reason)
	return c, err
}

// Decide voids every known record of the command that is not voided yet,
// each with a usage.voided event on its product's usage subject; logs holds
// the time of the last event of each product's usage subject. A usage id the
// ledger never recorded is not_found, and nothing is voided.
func (c VoidUsage) Decide(known map[string]KnownUsage, logs map[string]time.Time, now time.Time) ([]events.Event, error) {
	var unknown []string
	for _, id := range c.UsageIDs {
		if _, ok := known[id]; !ok {
			unknown = append(unknown, id)
		}
	}
	if len(unknown) > 0 {
		return nil, Reject(CodeNotFound, "%d of the usage ids were never recorded in account %q (first: %s); nothing was voided",
			len(unknown), c.Account, unknown[0]).With("usage_ids", unknown)
	}
	var out []events.Event
	for _, id := range c.UsageIDs {
		k := known[id]
		if k.VoidedSeq != 0 {
			continue // voided before
		}
		at, err := businessTime(c.At, now, logs[k.Product])
		if err != nil {
			return nil, err
		}
		out = append(out, event(c.Account, k.Product, at, events.UsageVoided{UsageID: id, Product: k.Product, Reason: c.Reason}))
	}
	return out, nil
}
