package commands_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
)

// Rules F1–F4 at the level of the commands: RecordUsage.Normalize and
// RecordUsage.Decide, decided against states folded from real events the
// way the write side builds a UsageContext.

// useNow is the ledger's clock in most usage tests: inside every standard
// term, 35 days after the worked example's t0 is still inside the horizon.
var useNow = time.Date(2026, 2, 1, 12, 0, 0, 0, time.UTC)

// useBook is a world plus what the usage projection would know: the records
// already recorded by usage id and each product's usage log.
type useBook struct {
	w       *world
	known   map[string]commands.KnownUsage
	logs    map[string]time.Time
	horizon time.Duration
}

// useNewBook is a book on chkWorld(lics...): acme users a, b, c and alt.a
// @x.com, globex user g@x.com.
func useNewBook(tb testing.TB, lics ...chkLic) *useBook {
	tb.Helper()
	return &useBook{w: chkWorld(tb, lics...), known: map[string]commands.KnownUsage{}, logs: map[string]time.Time{}}
}

// useRec is a valid record of a@x.com on revit from machine m1 with a client
// that may use a practitioner licence, started at start, lasting d.
func useRec(id string, start time.Time, d time.Duration) commands.UsageRecord {
	return commands.UsageRecord{UsageID: id, Email: "a@x.com", Product: "revit", MachineID: "m1",
		ClientVersion: "10.00.18.25", StartedAt: start, EndedAt: start.Add(d)}
}

// useWith returns r changed by f.
func useWith(r commands.UsageRecord, f func(*commands.UsageRecord)) commands.UsageRecord {
	f(&r)
	return r
}

// context builds the UsageContext the write side would: the users of the
// batch's emails, the licences they held, the commercial and trial licences
// covering each product, the known records and the usage logs.
func (b *useBook) context(c commands.RecordUsage) commands.UsageFacts {
	ctx := commands.UsageFacts{Users: map[string]commands.User{}, Licenses: map[string]commands.License{},
		Pooled: map[string][]commands.License{}, Known: map[string]commands.KnownUsage{}, Logs: map[string]time.Time{},
		Horizon: b.horizon}
	for _, r := range c.Records {
		u := b.w.user(c.Account, r.Email)
		ctx.Users[r.Email] = u
		for _, h := range u.Holdings {
			ctx.Licenses[h.LicenseID] = b.w.license(c.Account, h.LicenseID)
		}
		ctx.Pooled[r.Product] = chkPooled(b.w, c.Account, r.Product)
		ctx.Logs[r.Product] = b.logs[r.Product]
		if k, ok := b.known[r.UsageID]; ok {
			ctx.Known[r.UsageID] = k
		}
	}
	return ctx
}

// record normalises and decides a batch of acme at now. On success it folds
// the events into the world (which checks each against its JSON Schema) and
// into the known records, as the projection does.
func (b *useBook) record(tb testing.TB, now time.Time, recs ...commands.UsageRecord) ([]events.Event, []commands.UsageResult, error) {
	tb.Helper()
	c, err := commands.RecordUsage{Account: acct, Records: recs}.Normalize()
	if err != nil {
		return nil, nil, err
	}
	evs, res, err := c.Decide(b.context(c), now)
	if err != nil {
		if len(evs) != 0 || len(res) != 0 {
			tb.Errorf("a rejected batch got %d events and %d results, want none", len(evs), len(res))
		}
		return nil, nil, err
	}
	b.w.apply(tb, evs)
	for _, e := range evs {
		u, ok := e.Data.(events.UsageRecorded)
		if !ok {
			tb.Fatalf("a usage batch emitted %s, want only %s", e.Type(), events.TypeUsageRecorded)
		}
		if _, dup := b.known[u.UsageID]; dup {
			tb.Errorf("usage %s recorded twice", u.UsageID)
		}
		b.known[u.UsageID] = commands.KnownUsage{Digest: u.Digest, Classification: u.Classification, LicenseID: u.LicenseID, CommandID: "c1"}
		b.logs[e.AggregateID] = e.OccurredAt
	}
	return evs, res, nil
}

// mustRecord records a batch that must be accepted.
func (b *useBook) mustRecord(tb testing.TB, now time.Time, recs ...commands.UsageRecord) ([]events.Event, []commands.UsageResult) {
	tb.Helper()
	evs, res, err := b.record(tb, now, recs...)
	if err != nil {
		tb.Fatalf("got rejection %v, want the batch recorded", err)
	}
	if len(res) != len(recs) {
		tb.Fatalf("results: got %d, want one per record (%d)", len(res), len(recs))
	}
	for i, r := range res {
		if r.UsageID != recs[i].UsageID {
			tb.Errorf("result %d: usage_id got %q, want %q", i, r.UsageID, recs[i].UsageID)
		}
	}
	return evs, res
}

// useBad is what a rejection must say about one bad record.
type useBad struct {
	index          int
	usageID, code  string
	field          string // "" when the rule names no field
	messageMatches string // a substring of the message, "" for any non-empty one
}

// useRejected checks that err rejects a batch with code, naming exactly the
// bad records want, in order.
func useRejected(tb testing.TB, err error, code string, want ...useBad) *commands.Error {
	tb.Helper()
	var e *commands.Error
	if !errors.As(err, &e) {
		tb.Fatalf("error: got %v (%T), want a *commands.Error %q", err, err, code)
	}
	if e.Code != code {
		tb.Errorf("code: got %q (%v), want %q", e.Code, e, code)
	}
	if e.Message == "" {
		tb.Errorf("message: got empty, want one a person can act on")
	}
	bad, ok := e.Details["records"].([]commands.BadRecord)
	if !ok {
		tb.Fatalf("details[records]: got %T %v, want []commands.BadRecord", e.Details["records"], e.Details["records"])
	}
	if len(bad) != len(want) {
		tb.Fatalf("bad records: got %+v, want %d: %+v", bad, len(want), want)
	}
	for i, w := range want {
		g := bad[i]
		if g.Index != w.index || g.UsageID != w.usageID || g.Code != w.code || g.Field != w.field {
			tb.Errorf("bad record %d: got {index %d, usage_id %q, code %q, field %q}, want {%d, %q, %q, %q}",
				i, g.Index, g.UsageID, g.Code, g.Field, w.index, w.usageID, w.code, w.field)
		}
		if g.Message == "" || !strings.Contains(g.Message, w.messageMatches) {
			tb.Errorf("bad record %d: message %q, want a non-empty one containing %q", i, g.Message, w.messageMatches)
		}
	}
	return e
}

// useClass checks a result's classification and licence id.
func useClass(tb testing.TB, what string, res commands.UsageResult, class, licenseID string) {
	tb.Helper()
	if res.Classification != class || res.LicenseID != licenseID {
		tb.Errorf("%s: got %s %q, want %s %q", what, res.Classification, res.LicenseID, class, licenseID)
	}
}

// rule F1
func TestUseF1FieldValidation(t *testing.T) {
	start := useNow.Add(-2 * time.Hour)
	inv, ver := commands.CodeInvalidArgument, commands.CodeInvalidClientVersion
	cases := []struct {
		name, field, code string
		f                 func(*commands.UsageRecord)
	}{
		{"usage_id empty", "usage_id", inv, func(r *commands.UsageRecord) { r.UsageID = "" }},
		{"usage_id with space", "usage_id", inv, func(r *commands.UsageRecord) { r.UsageID = "u 1" }},
		{"usage_id with tab", "usage_id", inv, func(r *commands.UsageRecord) { r.UsageID = "u\t1" }},
		{"usage_id with DEL", "usage_id", inv, func(r *commands.UsageRecord) { r.UsageID = "u\x7f" }},
		{"usage_id with newline", "usage_id", inv, func(r *commands.UsageRecord) { r.UsageID = "u1\n" }},
		{"usage_id of 129 chars", "usage_id", inv, func(r *commands.UsageRecord) { r.UsageID = strings.Repeat("u", 129) }},
		{"usage_id not ASCII", "usage_id", inv, func(r *commands.UsageRecord) { r.UsageID = "üsage" }},
		{"email empty", "email", inv, func(r *commands.UsageRecord) { r.Email = "" }},
		{"email without @", "email", inv, func(r *commands.UsageRecord) { r.Email = "a.x.com" }},
		{"email without domain", "email", inv, func(r *commands.UsageRecord) { r.Email = "a@" }},
		{"email with two @", "email", inv, func(r *commands.UsageRecord) { r.Email = "a@b@x.com" }},
		{"product empty", "product", inv, func(r *commands.UsageRecord) { r.Product = "" }},
		{"product upper case", "product", inv, func(r *commands.UsageRecord) { r.Product = "Revit" }},
		{"product with space", "product", inv, func(r *commands.UsageRecord) { r.Product = "re vit" }},
		{"product with .", "product", inv, func(r *commands.UsageRecord) { r.Product = "re.vit" }},
		{"machine_id empty", "machine_id", inv, func(r *commands.UsageRecord) { r.MachineID = "" }},
		{"machine_id starting with .", "machine_id", inv, func(r *commands.UsageRecord) { r.MachineID = ".m1" }},
		{"machine_id with /", "machine_id", inv, func(r *commands.UsageRecord) { r.MachineID = "m/1" }},
		{"machine_id of 129 chars", "machine_id", inv, func(r *commands.UsageRecord) { r.MachineID = strings.Repeat("m", 129) }},
		{"client_version empty", "client_version", ver, func(r *commands.UsageRecord) { r.ClientVersion = "" }},
		{"client_version with letters", "client_version", ver, func(r *commands.UsageRecord) { r.ClientVersion = "10.x.18" }},
		{"client_version with v", "client_version", ver, func(r *commands.UsageRecord) { r.ClientVersion = "v10.00.18" }},
		{"client_version with empty part", "client_version", ver, func(r *commands.UsageRecord) { r.ClientVersion = "10..18" }},
		{"client_version with trailing .", "client_version", ver, func(r *commands.UsageRecord) { r.ClientVersion = "10.00.18." }},
		{"client_version negative", "client_version", ver, func(r *commands.UsageRecord) { r.ClientVersion = "-10.00.18" }},
		{"started_at missing", "started_at", inv, func(r *commands.UsageRecord) { r.StartedAt = time.Time{} }},
		{"ended_at missing", "ended_at", inv, func(r *commands.UsageRecord) { r.EndedAt = time.Time{} }},
		{"started_at before 2000", "started_at", inv, func(r *commands.UsageRecord) {
			r.StartedAt = time.Date(1999, 12, 31, 23, 0, 0, 0, time.UTC)
		}},
		{"ended_at before started_at", "ended_at", inv, func(r *commands.UsageRecord) { r.EndedAt = r.StartedAt.Add(-time.Nanosecond) }},
		{"span of 7 days and 1ns", "ended_at", inv, func(r *commands.UsageRecord) {
			r.EndedAt = r.StartedAt.Add(7*24*time.Hour + time.Nanosecond)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			good := useRec("u0", start, time.Hour)
			bad := useWith(useRec("u1", start, time.Hour), tc.f)
			_, err := commands.RecordUsage{Account: acct, Records: []commands.UsageRecord{good, bad}}.Normalize()
			useRejected(t, err, tc.code, useBad{index: 1, usageID: bad.UsageID, code: tc.code, field: tc.field})
		})
	}
}

// rule F1
func TestUseF1ValidRecordsNormalised(t *testing.T) {
	b := useNewBook(t, chkC1)
	start := useNow.Add(-7 * 24 * time.Hour)
	cet := time.FixedZone("CET", 3600)
	recs := []commands.UsageRecord{
		useRec(strings.Repeat("u", 128), useNow.Add(-time.Hour), time.Hour), // longest usage id
		useRec("01JH8XK3V5Q7R9T1W3Y5Z7B9D1", start, 7*24*time.Hour),         // a ULID; span exactly 7 days
		useRec("a.b_c:d-e", useNow.Add(-time.Hour), 0),                      // ended_at == started_at
		useRec("-u/1@{x}~!", useNow.Add(-time.Hour), time.Minute),           // any printable ASCII but space
		useRec("!", useNow.Add(-time.Hour), time.Minute),                    // the shortest
		useWith(useRec("upper", useNow.Add(-time.Hour), time.Hour), func(r *commands.UsageRecord) {
			r.Email = " A@X.COM "
			r.MachineID = strings.Repeat("m", 128)
			r.ClientVersion = "10"
		}),
		useWith(useRec("zoned", useNow.Add(-time.Hour).In(cet), time.Hour), func(r *commands.UsageRecord) { r.Product = "re_vit-2" }),
	}
	c, err := commands.RecordUsage{Account: acct, Records: recs}.Normalize()
	if err != nil {
		t.Fatalf("Normalize: got %v, want the batch accepted", err)
	}
	if got := c.Records[5].Email; got != "a@x.com" {
		t.Errorf("email: got %q, want it trimmed and lower-cased", got)
	}
	if loc := c.Records[6].StartedAt.Location(); loc != time.UTC || c.Records[6].EndedAt.Location() != time.UTC {
		t.Errorf("started_at location: got %v, want UTC", loc)
	}
	if !c.Records[6].StartedAt.Equal(useNow.Add(-time.Hour)) {
		t.Errorf("started_at: got %v, want the same instant %v", c.Records[6].StartedAt, useNow.Add(-time.Hour))
	}
	evs, res := b.mustRecord(t, useNow, recs...)
	if len(evs) != len(recs) {
		t.Fatalf("events: got %d, want %d", len(evs), len(recs))
	}
	for i, r := range res {
		if r.Duplicate {
			t.Errorf("result %d: got duplicate, want a new record", i)
		}
	}
}

// rule F1
func TestUseF1BatchSize(t *testing.T) {
	for _, n := range []int{0, commands.MaxUsageBatch + 1} {
		recs := make([]commands.UsageRecord, n)
		for i := range recs {
			recs[i] = useRec(fmt.Sprintf("u%d", i), useNow.Add(-time.Hour), time.Minute)
		}
		_, err := commands.RecordUsage{Account: acct, Records: recs}.Normalize()
		if commands.CodeOf(err) != commands.CodeInvalidArgument {
			t.Fatalf("batch of %d: got %v, want invalid_argument", n, err)
		}
		var e *commands.Error
		errors.As(err, &e)
		wantDetail(t, e, "field", "records")
	}
	if commands.MaxUsageBatch != 1000 {
		t.Errorf("MaxUsageBatch: got %d, want 1000 (docs/api.md)", commands.MaxUsageBatch)
	}
	b := useNewBook(t, chkC1)
	recs := make([]commands.UsageRecord, 1000)
	for i := range recs {
		recs[i] = useRec(fmt.Sprintf("u%04d", i), useNow.Add(-time.Hour), time.Minute)
		recs[i].MachineID = fmt.Sprintf("m%d", i%17)
	}
	evs, _ := b.mustRecord(t, useNow, recs...)
	if len(evs) != 1000 {
		t.Errorf("batch of 1000: got %d events, want 1000", len(evs))
	}
}

// rule F1
func TestUseF1EveryBadRecordNamed(t *testing.T) {
	start := useNow.Add(-2 * time.Hour)
	good := func(id string) commands.UsageRecord { return useRec(id, start, time.Hour) }
	badEmail := useWith(good("u1"), func(r *commands.UsageRecord) { r.Email = "nope" })
	badVersion := useWith(good("u3"), func(r *commands.UsageRecord) { r.ClientVersion = "ten" })
	badProduct := useWith(good("u4"), func(r *commands.UsageRecord) { r.Product = "Re Vit" })

	// Bad records that fail for different reasons: the first one's code.
	_, err := commands.RecordUsage{Account: acct, Records: []commands.UsageRecord{good("u0"), badEmail, good("u2"), badVersion}}.Normalize()
	useRejected(t, err, commands.CodeInvalidArgument,
		useBad{index: 1, usageID: "u1", code: commands.CodeInvalidArgument, field: "email"},
		useBad{index: 3, usageID: "u3", code: commands.CodeInvalidClientVersion, field: "client_version"})

	// Bad records that share a reason: that reason's code.
	_, err = commands.RecordUsage{Account: acct, Records: []commands.UsageRecord{badEmail, good("u2"), badProduct}}.Normalize()
	useRejected(t, err, commands.CodeInvalidArgument,
		useBad{index: 0, usageID: "u1", code: commands.CodeInvalidArgument, field: "email"},
		useBad{index: 2, usageID: "u4", code: commands.CodeInvalidArgument, field: "product"})

	// The rules of Decide, too, name every bad record and record nothing.
	b := useNewBook(t, chkC1)
	b.mustRecord(t, useNow, good("known"))
	conflict := useWith(good("known"), func(r *commands.UsageRecord) { r.MachineID = "m2" })
	old := useRec("old", useNow.Add(-36*24*time.Hour), time.Hour)
	future := useRec("future", useNow.Add(time.Hour), time.Hour)
	stranger := useWith(good("stranger"), func(r *commands.UsageRecord) { r.Email = "nobody@x.com" })
	_, _, err = b.record(t, useNow, good("n0"), old, future, good("n3"), stranger, conflict)
	useRejected(t, err, commands.CodeUsageTooOld,
		useBad{index: 1, usageID: "old", code: commands.CodeUsageTooOld},
		useBad{index: 2, usageID: "future", code: commands.CodeUsageInFuture},
		useBad{index: 4, usageID: "stranger", code: commands.CodeUserNotFound},
		useBad{index: 5, usageID: "known", code: commands.CodeUsageIDConflict})
	if _, ok := b.known["n0"]; ok {
		t.Errorf("a good record of a rejected batch was recorded")
	}
	// Whole or nothing: the good records are new when sent alone.
	_, res := b.mustRecord(t, useNow, good("n0"), good("n3"))
	for i, r := range res {
		if r.Duplicate {
			t.Errorf("result %d: got duplicate, want new: the rejected batch recorded nothing", i)
		}
	}
}

// rule F1
func TestUseF1RejectBatch(t *testing.T) {
	one := commands.RejectBatch([]commands.BadRecord{{Index: 2, UsageID: "u2", Code: commands.CodeUsageTooOld, Message: "too old"}})
	if one.Code != commands.CodeUsageTooOld {
		t.Errorf("one bad record: code %q, want its own %q", one.Code, commands.CodeUsageTooOld)
	}
	// Whatever the mix of codes, the batch answers with its first bad
	// record's: the same batch, the same answer.
	mixed := commands.RejectBatch([]commands.BadRecord{
		{Index: 0, UsageID: "u0", Code: commands.CodeUserNotFound, Message: "no such user"},
		{Index: 1, UsageID: "u1", Code: commands.CodeUsageTooOld, Message: "too old"},
	})
	if mixed.Code != commands.CodeUserNotFound {
		t.Errorf("mixed: code %q, want the first record's %q", mixed.Code, commands.CodeUserNotFound)
	}
	if recs, _ := mixed.Details["records"].([]commands.BadRecord); len(recs) != 2 || recs[1].Code != commands.CodeUsageTooOld {
		t.Errorf("mixed: records %+v, want both, each with its own code", mixed.Details["records"])
	}
	if !strings.Contains(mixed.Message, "nothing was recorded") {
		t.Errorf("message %q: want it to say nothing was recorded", mixed.Message)
	}
}

// rule F2
func TestUseF2ResendIsDuplicate(t *testing.T) {
	b := useNewBook(t, chkP1, chkC1)
	b.w.must(t)(b.w.assign("P1", "a@x.com", t0))
	recs := []commands.UsageRecord{
		useRec("u1", t0.Add(time.Hour), time.Hour),
		useWith(useRec("u2", t0.Add(time.Hour), time.Hour), func(r *commands.UsageRecord) { r.Email = "b@x.com" }),
	}
	_, first := b.mustRecord(t, useNow, recs...)
	useClass(t, "u1", first[0], events.ClassPractitioner, "P1")
	useClass(t, "u2", first[1], events.ClassPooled, "C1")

	// Reassigned since, and far later than the horizon: still duplicates
	// with the classification recorded first, never usage_too_old.
	b.w.must(t)(b.w.reassign("P1", "b@x.com", t0.Add(2*time.Hour)))
	for _, now := range []time.Time{useNow, useNow.Add(400 * 24 * time.Hour)} {
		evs, again := b.mustRecord(t, now, recs...)
		if len(evs) != 0 {
			t.Errorf("resent at %v: got %d events, want none", now, len(evs))
		}
		for i := range again {
			if !again[i].Duplicate {
				t.Errorf("resent at %v: result %d not a duplicate", now, i)
			}
			useClass(t, fmt.Sprintf("resent %s", recs[i].UsageID), again[i], first[i].Classification, first[i].LicenseID)
		}
	}

	// The same content written differently is the same record.
	cet := time.FixedZone("CET", 3600)
	same := useWith(recs[0], func(r *commands.UsageRecord) {
		r.Email = "A@X.COM"
		r.StartedAt, r.EndedAt = r.StartedAt.In(cet), r.EndedAt.In(cet)
	})
	evs, res := b.mustRecord(t, useNow, same, useRec("u3", useNow.Add(-time.Hour), time.Hour))
	if len(evs) != 1 || !res[0].Duplicate || res[1].Duplicate {
		t.Errorf("resent in other case and zone with a new record: got %d events, results %+v; want 1 event, u1 duplicate", len(evs), res)
	}
}

// rule F2
func TestUseF2ConflictOtherContent(t *testing.T) {
	start := t0.Add(time.Hour)
	orig := useRec("u1", start, time.Hour)
	cases := []struct {
		name string
		f    func(*commands.UsageRecord)
	}{
		{"email", func(r *commands.UsageRecord) { r.Email = "b@x.com" }},
		{"product", func(r *commands.UsageRecord) { r.Product = "autocad" }},
		{"machine_id", func(r *commands.UsageRecord) { r.MachineID = "m2" }},
		{"client_version", func(r *commands.UsageRecord) { r.ClientVersion = "10.00.18.26" }},
		{"started_at", func(r *commands.UsageRecord) { r.StartedAt = r.StartedAt.Add(-time.Nanosecond) }},
		{"ended_at", func(r *commands.UsageRecord) { r.EndedAt = r.EndedAt.Add(time.Second) }},
		{"offline", func(r *commands.UsageRecord) { r.Offline = true }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := useNewBook(t, chkC1)
			b.mustRecord(t, useNow, orig)
			other := useWith(orig, tc.f)
			_, _, err := b.record(t, useNow, useRec("new", useNow.Add(-time.Hour), time.Hour), other)
			useRejected(t, err, commands.CodeUsageIDConflict,
				useBad{index: 1, usageID: "u1", code: commands.CodeUsageIDConflict, messageMatches: "u1"})
			if _, ok := b.known["new"]; ok {
				t.Errorf("the new record of a rejected batch was recorded")
			}
		})
	}
}

// rule F2
func TestUseF2SameIDTwiceInBatch(t *testing.T) {
	b := useNewBook(t, chkP1, chkC1)
	b.w.must(t)(b.w.assign("P1", "a@x.com", t0))
	r := useRec("u1", t0.Add(time.Hour), time.Hour)
	evs, res := b.mustRecord(t, useNow, r, useRec("u2", t0.Add(time.Hour), time.Minute), r)
	if len(evs) != 2 {
		t.Errorf("events: got %d, want 2 (u1 once, u2)", len(evs))
	}
	if res[0].Duplicate || !res[2].Duplicate {
		t.Errorf("duplicates: got %v and %v, want the first new and the second a duplicate", res[0].Duplicate, res[2].Duplicate)
	}
	useClass(t, "first u1", res[0], events.ClassPractitioner, "P1")
	useClass(t, "second u1", res[2], events.ClassPractitioner, "P1")

	other := useWith(useRec("u9", t0.Add(time.Hour), time.Hour), func(r *commands.UsageRecord) { r.Offline = true })
	_, _, err := b.record(t, useNow, useRec("u9", t0.Add(time.Hour), time.Hour), other)
	useRejected(t, err, commands.CodeUsageIDConflict,
		useBad{index: 1, usageID: "u9", code: commands.CodeUsageIDConflict, messageMatches: "u9"})
	if _, ok := b.known["u9"]; ok {
		t.Errorf("u9 was recorded by a rejected batch")
	}
}

// rule F2: the digest covers every field of the record and only those.
func TestUseF2Digest(t *testing.T) {
	r := useRec("u1", t0, time.Hour)
	if r.Digest() != useWith(r, func(x *commands.UsageRecord) {
		x.StartedAt, x.EndedAt = x.StartedAt.In(time.FixedZone("X", -7200)), x.EndedAt.In(time.FixedZone("Y", 7200))
	}).Digest() {
		t.Errorf("digest depends on the time zone of the same instants")
	}
	// Field boundaries: moving a character from one field to the next
	// is other content.
	a := useWith(r, func(x *commands.UsageRecord) { x.MachineID, x.ClientVersion = "m1", "10.00.18" })
	c := useWith(r, func(x *commands.UsageRecord) { x.MachineID, x.ClientVersion = "m11", "0.00.18" })
	if a.Digest() == c.Digest() {
		t.Errorf("digest does not separate fields")
	}
	v := reflect.ValueOf(r)
	if v.NumField() != 8 {
		t.Errorf("UsageRecord has %d fields; extend this test and the digest (F1 lists 8)", v.NumField())
	}
}

// rule F3
func TestUseF3Horizon(t *testing.T) {
	b := useNewBook(t, chkC1)
	horizon := 35 * 24 * time.Hour
	if commands.DefaultUsageHorizon != horizon {
		t.Errorf("DefaultUsageHorizon: got %v, want 35 days", commands.DefaultUsageHorizon)
	}
	edge := useNow.Add(-horizon)
	b.mustRecord(t, useNow, useRec("edge", edge, time.Hour))
	_, _, err := b.record(t, useNow, useRec("older", edge.Add(-time.Nanosecond), time.Hour))
	useRejected(t, err, commands.CodeUsageTooOld, useBad{index: 0, usageID: "older", code: commands.CodeUsageTooOld})

	// A configured horizon.
	b.horizon = 10 * 24 * time.Hour
	b.mustRecord(t, useNow, useRec("edge10", useNow.Add(-b.horizon), time.Hour))
	_, _, err = b.record(t, useNow, useRec("older10", useNow.Add(-b.horizon-time.Nanosecond), time.Hour))
	useRejected(t, err, commands.CodeUsageTooOld, useBad{index: 0, usageID: "older10", code: commands.CodeUsageTooOld})
}

// rule F3
func TestUseF3Future(t *testing.T) {
	b := useNewBook(t, chkC1)
	limit := useNow.Add(5 * time.Minute)
	b.mustRecord(t, useNow, useRec("edge", useNow.Add(-time.Hour), limit.Sub(useNow.Add(-time.Hour))))
	b.mustRecord(t, useNow, useRec("starts-at-edge", limit, 0))
	for _, r := range []commands.UsageRecord{
		useRec("ends-late", useNow.Add(-time.Hour), limit.Add(time.Nanosecond).Sub(useNow.Add(-time.Hour))),
		useRec("starts-late", limit.Add(time.Nanosecond), time.Minute),
		useRec("tomorrow", useNow.Add(24*time.Hour), time.Hour),
	} {
		_, _, err := b.record(t, useNow, r)
		useRejected(t, err, commands.CodeUsageInFuture, useBad{index: 0, usageID: r.UsageID, code: commands.CodeUsageInFuture})
	}
}

// rule F3
func TestUseF3UserNotFound(t *testing.T) {
	b := useNewBook(t, chkC1)
	b.w.must(t)(b.w.removeUser(acct, "c@x.com", t0))
	for i, email := range []string{"nobody@x.com", "g@x.com" /* a user of globex */, "c@x.com" /* removed */} {
		r := useWith(useRec(fmt.Sprintf("u%d", i), useNow.Add(-time.Hour), time.Hour), func(r *commands.UsageRecord) { r.Email = email })
		_, _, err := b.record(t, useNow, r)
		useRejected(t, err, commands.CodeUserNotFound,
			useBad{index: 0, usageID: r.UsageID, code: commands.CodeUserNotFound, messageMatches: email})
	}
}

// rule F4: classification as of started_at, written into the event.
func TestUseF4AsOfStartedAt(t *testing.T) {
	b := useNewBook(t, chkP1, chkC1)
	assignAt, reassignAt := t0.Add(time.Hour), t0.Add(3*time.Hour)
	b.w.must(t)(b.w.assign("P1", "a@x.com", assignAt))
	// The usage started while a held P1 is recorded only after the
	// reassignment to b.
	b.w.must(t)(b.w.reassign("P1", "b@x.com", reassignAt))
	as := func(email string) func(*commands.UsageRecord) {
		return func(r *commands.UsageRecord) { r.Email = email }
	}
	cases := []struct {
		rec       commands.UsageRecord
		class, id string
	}{
		{useRec("a-before", assignAt.Add(-time.Nanosecond), time.Hour), events.ClassPooled, "C1"},
		{useRec("a-at", assignAt, time.Hour), events.ClassPractitioner, "P1"},
		{useRec("a-while", assignAt.Add(time.Hour), 5*time.Hour), events.ClassPractitioner, "P1"}, // ends after the reassignment
		{useRec("a-last-ns", reassignAt.Add(-time.Nanosecond), time.Hour), events.ClassPractitioner, "P1"},
		{useRec("a-after", reassignAt, time.Hour), events.ClassPooled, "C1"},
		{useWith(useRec("b-while-a", assignAt.Add(time.Hour), time.Hour), as("b@x.com")), events.ClassPooled, "C1"},
		{useWith(useRec("b-at", reassignAt, time.Hour), as("b@x.com")), events.ClassPractitioner, "P1"},
		{useWith(useRec("b-later", useNow.Add(-time.Hour), time.Hour), as("b@x.com")), events.ClassPractitioner, "P1"},
	}
	recs := make([]commands.UsageRecord, len(cases))
	for i, c := range cases {
		recs[i] = c.rec
	}
	evs, res := b.mustRecord(t, useNow, recs...)
	if len(evs) != len(cases) {
		t.Fatalf("events: got %d, want %d", len(evs), len(cases))
	}
	for i, c := range cases {
		useClass(t, c.rec.UsageID, res[i], c.class, c.id)
		e := evs[i]
		u, ok := e.Data.(events.UsageRecorded)
		if !ok {
			t.Fatalf("event %d: got %s, want %s", i, e.Type(), events.TypeUsageRecorded)
		}
		if u.Classification != c.class || u.LicenseID != c.id {
			t.Errorf("%s: event says %s %q, want %s %q", c.rec.UsageID, u.Classification, u.LicenseID, c.class, c.id)
		}
		if e.Account != acct || e.AggregateID != c.rec.Product || e.Aggregate() != events.AggregateUsage {
			t.Errorf("%s: event on %s, want the usage subject of %s/%s", c.rec.UsageID, e.Subject(), acct, c.rec.Product)
		}
		if !e.OccurredAt.Equal(useNow) {
			t.Errorf("%s: occurred_at %v, want the ledger's clock %v", c.rec.UsageID, e.OccurredAt, useNow)
		}
		want := events.UsageRecorded{UsageID: c.rec.UsageID, Email: c.rec.Email, Product: c.rec.Product, MachineID: c.rec.MachineID,
			ClientVersion: c.rec.ClientVersion, StartedAt: c.rec.StartedAt, EndedAt: c.rec.EndedAt, Offline: c.rec.Offline,
			Classification: c.class, LicenseID: c.id, Digest: c.rec.Digest(), Country: "DE"} // rule G9: the user's country
		if !reflect.DeepEqual(u, want) {
			t.Errorf("%s: event data\n got %+v\nwant %+v", c.rec.UsageID, u, want)
		}
	}
}

// rule F4: the client version, the products and the kinds of licence.
func TestUseF4Classes(t *testing.T) {
	rv := func(products ...string) []string { return products }
	lics := []chkLic{
		{"P1", events.KindPractitioner, 0, termFrom, termUntil, rv("revit", "civil")},
		{"C1", events.KindCommercial, 5, termFrom, termUntil, rv("revit")},
		{"T1", events.KindTrial, 0, termFrom, termUntil, rv("revit", "navis")},
		{"T2", events.KindTrial, 0, termFrom, termUntil, rv("civil")},
		{"P2", events.KindPractitioner, 0, termFrom, time.Date(2026, 1, 20, 0, 0, 0, 0, time.UTC), rv("revit")},
	}
	b := useNewBook(t, lics...)
	b.w.must(t)(b.w.assign("P1", "a@x.com", t0))
	b.w.must(t)(b.w.assign("P2", "b@x.com", t0))
	at := useNow.Add(-time.Hour)
	rec := func(id, email, product, version string, start time.Time) commands.UsageRecord {
		return useWith(useRec(id, start, time.Hour), func(r *commands.UsageRecord) {
			r.Email, r.Product, r.ClientVersion = email, product, version
		})
	}
	cases := []struct {
		rec       commands.UsageRecord
		class, id string
	}{
		// D4: compared number by number; at least 10.00.18.
		{rec("v17", "a@x.com", "revit", "10.00.17.99", at), events.ClassPooled, "C1"},
		{rec("v18", "a@x.com", "revit", "10.00.18", at), events.ClassPractitioner, "P1"},
		{rec("v18-0", "a@x.com", "revit", "10.0.18.0", at), events.ClassPractitioner, "P1"},
		{rec("v18-short", "a@x.com", "revit", "10.00.9", at), events.ClassPooled, "C1"},
		{rec("v9", "a@x.com", "revit", "9.99.99", at), events.ClassPooled, "C1"},
		{rec("v11", "a@x.com", "revit", "11", at), events.ClassPractitioner, "P1"},
		{rec("v10-1", "a@x.com", "revit", "10.1", at), events.ClassPractitioner, "P1"},
		{rec("v10", "a@x.com", "revit", "10", at), events.ClassPooled, "C1"},
		// An old client with only a trial: trial.
		{rec("v17-civil", "a@x.com", "civil", "10.00.17", at), events.ClassTrial, "T2"},
		// P1 covers civil: practitioner beats the trial.
		{rec("civil", "a@x.com", "civil", "10.00.18", at), events.ClassPractitioner, "P1"},
		// A licence not covering the product: whatever the account has.
		{rec("navis", "a@x.com", "navis", "10.00.18", at), events.ClassTrial, "T1"},
		{rec("autocad", "a@x.com", "autocad", "10.00.18", at), events.ClassPooled, ""},
		// Commercial and trial: pooled.
		{rec("c-and-t", "c@x.com", "revit", "10.00.18", at), events.ClassPooled, "C1"},
		// Only a trial: trial.
		{rec("t-only", "c@x.com", "navis", "10.00.18", at), events.ClassTrial, "T1"},
		// Nothing at all: pooled, no licence.
		{rec("none", "c@x.com", "autocad", "10.00.18", at), events.ClassPooled, ""},
		// The email is the identity: another email of a's person.
		{rec("alt", "alt.a@x.com", "revit", "10.00.18", at), events.ClassPooled, "C1"},
		// Emails are compared case-insensitively.
		{rec("upper", "A@X.Com", "revit", "10.00.18", at), events.ClassPractitioner, "P1"},
		// P2 is held by b but no longer active: not practitioner.
		{rec("p2-active", "b@x.com", "revit", "10.00.18", time.Date(2026, 1, 19, 23, 0, 0, 0, time.UTC)), events.ClassPractitioner, "P2"},
		{rec("p2-ended", "b@x.com", "revit", "10.00.18", time.Date(2026, 1, 20, 0, 0, 0, 0, time.UTC)), events.ClassPooled, "C1"},
	}
	recs := make([]commands.UsageRecord, len(cases))
	for i, c := range cases {
		recs[i] = c.rec
	}
	_, res := b.mustRecord(t, useNow, recs...)
	for i, c := range cases {
		useClass(t, c.rec.UsageID, res[i], c.class, c.id)
	}
}

// rule F4: outside any licence term nothing is practitioner, trial or
// commercial.
func TestUseF4OutsideTerms(t *testing.T) {
	b := useNewBook(t, chkP1, chkC1, chkT1)
	b.w.must(t)(b.w.assign("P1", "a@x.com", t0))
	// termFrom is 2026-01-01; usage of 2025-12-31 is before every term.
	now := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	_, res := b.mustRecord(t, now, useRec("dec", termFrom.Add(-time.Hour), 2*time.Hour))
	useClass(t, "before every term", res[0], events.ClassPooled, "")
}

// rule F4 with A4: a removed user's holdings outlive the removal, so late
// usage from when they held the licence stays practitioner once the email
// is a user again, and the usage of the next assignee is pooled before.
func TestUseF4RemovedUserLateUsage(t *testing.T) {
	b := useNewBook(t, chkP1, chkC1)
	b.w.must(t)(b.w.assign("P1", "c@x.com", t0))
	b.w.must(t)(b.w.removeUser(acct, "c@x.com", t0.Add(2*time.Hour)))
	r := useWith(useRec("c-late", t0.Add(time.Hour), time.Hour), func(r *commands.UsageRecord) { r.Email = "c@x.com" })
	_, _, err := b.record(t, useNow, r)
	useRejected(t, err, commands.CodeUserNotFound, useBad{index: 0, usageID: "c-late", code: commands.CodeUserNotFound})

	b.w.register(t, acct, "c@x.com", "DE", t0.Add(3*time.Hour))
	after := useWith(useRec("c-after", t0.Add(4*time.Hour), time.Hour), func(r *commands.UsageRecord) { r.Email = "c@x.com" })
	_, res := b.mustRecord(t, useNow, r, after)
	useClass(t, "usage from while c held P1", res[0], events.ClassPractitioner, "P1")
	useClass(t, "usage after the removal", res[1], events.ClassPooled, "C1")
}

// rule F4: the events' business time keeps each product's usage log in
// order.
func TestUseF4EventTimeKeepsLogOrder(t *testing.T) {
	b := useNewBook(t, chkC1)
	ahead := useNow.Add(2 * time.Minute)
	b.logs["revit"] = ahead
	evs, _ := b.mustRecord(t, useNow, useRec("u1", useNow.Add(-time.Hour), time.Hour),
		useWith(useRec("u2", useNow.Add(-time.Hour), time.Hour), func(r *commands.UsageRecord) { r.Product = "civil" }))
	if !evs[0].OccurredAt.Equal(ahead) {
		t.Errorf("revit: occurred_at %v, want its log's last event %v", evs[0].OccurredAt, ahead)
	}
	if !evs[1].OccurredAt.Equal(useNow) {
		t.Errorf("civil: occurred_at %v, want the clock %v", evs[1].OccurredAt, useNow)
	}
}

// rule G9: each record carries its user's entitlement country at its
// started_at, as the ledger knows it when it records the record; a later
// change, back-dated or not, changes no recorded usage. Before the first
// country the ledger knows for the user, it is that first one.
func TestUseG9CountryAtStartedAt(t *testing.T) {
	b := useNewBook(t, chkC1)
	changeAt := t0.Add(2 * time.Hour)
	change := func(email, country string, at time.Time) {
		t.Helper()
		c, err := commands.ChangeUserCountry{Account: acct, Email: email, EntitlementCountry: country, At: at}.Normalize()
		if err != nil {
			t.Fatal(err)
		}
		b.w.must(t)(c.Decide(b.w.user(acct, email), at))
	}
	change("a@x.com", "FR", changeAt)
	b.w.register(t, acct, "none@x.com", "", t0)
	none := func(r *commands.UsageRecord) { r.Email = "none@x.com" }
	b.w.register(t, acct, "late@x.com", "PL", t0.Add(time.Hour))
	late := func(r *commands.UsageRecord) { r.Email = "late@x.com" }
	cases := []struct {
		rec  commands.UsageRecord
		want events.Country
	}{
		{useWith(useRec("before-registration", t0, time.Hour), late), "PL"},
		{useRec("before-change", changeAt.Add(-time.Nanosecond), time.Hour), "DE"},
		{useRec("at-change", changeAt, time.Hour), "FR"},
		{useWith(useRec("no-country", changeAt, time.Hour), none), ""},
	}
	recs := make([]commands.UsageRecord, len(cases))
	for i, c := range cases {
		recs[i] = c.rec
	}
	evs, _ := b.mustRecord(t, useNow, recs...)
	for i, c := range cases {
		if got := evs[i].Data.(events.UsageRecorded).Country; got != c.want {
			t.Errorf("%s: country %q, want %q", c.rec.UsageID, got, c.want)
		}
	}
	// A back-dated change after the record was recorded changes nothing
	// recorded: the country is in the event.
	change("a@x.com", "IT", useNow.Add(-time.Minute))
	if got := evs[1].Data.(events.UsageRecorded).Country; got != "DE" {
		t.Errorf("a recorded country changed to %q", got)
	}
	later, _ := b.mustRecord(t, useNow, useRec("after-it", useNow.Add(-time.Minute), time.Minute))
	if got := later[0].Data.(events.UsageRecorded).Country; got != "IT" {
		t.Errorf("after the change: country %q, want IT", got)
	}
}
