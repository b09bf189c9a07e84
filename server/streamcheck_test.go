package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/entledger/ledger/events"
)

// testStream is a LEDGER stream made by EnsureStream on an embedded server
// of its own, and a second client on the server: what anyone with rights on
// the stream has. The stream holds 12 messages: the first alone on its
// subject (an account's creation, say), the others on two subjects.
type testStream struct {
	stream  jetstream.Stream      // the ledger's handle
	started *jetstream.StreamInfo // the stream as the ledger found it
	raw     jetstream.JetStream   // the other client
	msgs    int
}

func newTestStream(tb testing.TB) *testStream {
	tb.Helper()
	ns, err := StartEmbedded(EmbeddedOptions{StoreDir: tb.TempDir()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	connect := func() jetstream.JetStream {
		nc, err := nats.Connect("", nats.InProcessServer(ns))
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(nc.Close)
		js, err := jetstream.New(nc)
		if err != nil {
			tb.Fatal(err)
		}
		return js
	}
	ctx := context.Background()
	js := connect()
	s, err := EnsureStream(ctx, js, 1)
	if err != nil {
		tb.Fatal(err)
	}
	ts := &testStream{stream: s, started: s.CachedInfo(), raw: connect()}
	for i := range 12 {
		subject := events.Subject("acme", events.AggregateLicense, fmt.Sprintf("P%d", min(i, 1+i%2)))
		if _, err := js.Publish(ctx, subject, []byte("{}")); err != nil {
			tb.Fatal(err)
		}
		ts.msgs++
	}
	return ts
}

// update changes the stream's configuration through the other client.
func (ts *testStream) update(tb testing.TB, change func(*jetstream.StreamConfig)) {
	tb.Helper()
	ctx := context.Background()
	info, err := ts.stream.Info(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	cfg := info.Config
	change(&cfg)
	if _, err := ts.raw.UpdateStream(ctx, cfg); err != nil {
		tb.Fatalf("update the stream: %v", err)
	}
}

// Item 8.3: every change a raw client could make to the stream that loses
// events, or the ledger's guarantees, is reported by CheckStream, naming
// it; an untouched stream has no problem.
func TestCheckStreamFindsEachChange(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name   string
		attack func(testing.TB, *testStream)
		want   []string // in the problems, each
	}{
		{"nothing", func(testing.TB, *testStream) {}, nil},
		{"max_msgs_per_subject 1 and back", func(tb testing.TB, ts *testStream) {
			ts.update(tb, func(c *jetstream.StreamConfig) { c.MaxMsgsPerSubject = 1 })
			ts.update(tb, func(c *jetstream.StreamConfig) { c.MaxMsgsPerSubject = -1 })
		}, []string{"deleted messages: 9 (0 before the first sequence 1, 9 between it and the last sequence 12)"}},
		{"max_msgs 1", func(tb testing.TB, ts *testStream) {
			// With discard new, the limit refuses appends and deletes nothing.
			ts.update(tb, func(c *jetstream.StreamConfig) { c.MaxMsgs = 1 })
		}, []string{"max_msgs"}},
		{"discard old and max_msgs 1 and back", func(tb testing.TB, ts *testStream) {
			ts.update(tb, func(c *jetstream.StreamConfig) { c.Discard, c.MaxMsgs = jetstream.DiscardOld, 1 })
			ts.update(tb, func(c *jetstream.StreamConfig) { c.MaxMsgs = -1 })
		}, []string{"discard old", "deleted messages: 11 (11 before the first sequence 12, 0 between"}},
		{"max_age", func(tb testing.TB, ts *testStream) {
			ts.update(tb, func(c *jetstream.StreamConfig) { c.MaxAge = time.Hour })
		}, []string{"max_age"}},
		{"sealed", func(tb testing.TB, ts *testStream) {
			ts.update(tb, func(c *jetstream.StreamConfig) { c.Sealed = true })
		}, []string{"sealed"}},
		{"subjects", func(tb testing.TB, ts *testStream) {
			ts.update(tb, func(c *jetstream.StreamConfig) { c.Subjects = append(c.Subjects, "elsewhere.>") })
		}, []string{"subjects"}},
		{"discard old", func(tb testing.TB, ts *testStream) {
			ts.update(tb, func(c *jetstream.StreamConfig) { c.Discard = jetstream.DiscardOld })
		}, []string{"discard"}},
		{"shorter duplicate window", func(tb testing.TB, ts *testStream) {
			ts.update(tb, func(c *jetstream.StreamConfig) { c.Duplicates = time.Second })
		}, []string{"duplicate_window 1s"}},
		{"atomic publish off", func(tb testing.TB, ts *testStream) {
			ts.update(tb, func(c *jetstream.StreamConfig) { c.AllowAtomicPublish = false })
		}, []string{"allow_atomic_publish"}},
		{"deleted", func(tb testing.TB, ts *testStream) {
			if err := ts.raw.DeleteStream(ctx, StreamName); err != nil {
				tb.Fatal(err)
			}
		}, []string{"does not exist"}},
		{"deleted and created again", func(tb testing.TB, ts *testStream) {
			if err := ts.raw.DeleteStream(ctx, StreamName); err != nil {
				tb.Fatal(err)
			}
			if _, err := ts.raw.CreateStream(ctx, StreamConfig(1)); err != nil {
				tb.Fatal(err)
			}
		}, []string{"created again"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestStream(t)
			tc.attack(t, ts)
			problems, err := CheckStream(ctx, ts.stream, ts.started)
			if err != nil {
				t.Fatal(err)
			}
			all := strings.Join(problems, "\n")
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("problems %q do not name %q", problems, w)
				}
			}
			if len(tc.want) == 0 && len(problems) > 0 {
				t.Errorf("problems %q of an untouched stream", problems)
			}
		})
	}
}

// The running check reports each problem once while it lasts: checked again,
// it is not counted again; a new count of deleted messages is a new
// problem; a problem that went away and came back is reported again.
func TestStreamWatchReportsEachProblemOnce(t *testing.T) {
	ts := newTestStream(t)
	ctx := context.Background()
	breaks := 0
	w := newStreamWatch(nil, ts.stream, map[string]*jetstream.StreamInfo{StreamName: ts.started}, sharedRecord{},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	w.count = func() { breaks++ }
	check := func(want int) {
		t.Helper()
		if err := w.check(ctx); err != nil {
			t.Fatal(err)
		}
		if breaks != want {
			t.Errorf("%d breaks counted, want %d (reported %v)", breaks, want, w.reported)
		}
	}
	check(0)
	ts.update(t, func(c *jetstream.StreamConfig) { c.MaxAge = time.Hour })
	check(1)
	check(1)
	ts.update(t, func(c *jetstream.StreamConfig) { c.MaxAge = 0 })
	check(1)
	ts.update(t, func(c *jetstream.StreamConfig) { c.MaxAge = time.Hour })
	check(2)
	ts.update(t, func(c *jetstream.StreamConfig) { c.MaxAge = 0 })

	ts.update(t, func(c *jetstream.StreamConfig) { c.MaxMsgsPerSubject = 4 })
	ts.update(t, func(c *jetstream.StreamConfig) { c.MaxMsgsPerSubject = -1 })
	check(3)
	check(3)
	ts.update(t, func(c *jetstream.StreamConfig) { c.MaxMsgsPerSubject = 2 })
	ts.update(t, func(c *jetstream.StreamConfig) { c.MaxMsgsPerSubject = -1 })
	check(4) // more deleted: a new count
}
