package ledger

import (
	"context"
	"errors"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// rule H5: every answer of JetStream that another writer can cause is a
// lost race, told apart in one place: the expected sequence moved (10071,
// and 10164 on a replicated stream), the message id is stored (10201 in an
// atomic batch) or being stored by another publish (10158, replicated
// streams). Anything else is a failure.
func TestAppendErrorClassifiesRaces(t *testing.T) {
	for _, tc := range []struct {
		code                int
		conflict, duplicate bool
	}{
		{10071, true, false},
		{10164, true, false},
		{10176, true, false}, // the batch was dropped whole: append it again
		{10201, false, true},
		{10158, false, true},
		{10077, false, false}, // maximum messages exceeded
		{10003, false, false}, // bad request
	} {
		err := appendError(tc.code, "description")
		if got := errors.Is(err, ErrConflict); got != tc.conflict {
			t.Errorf("%d: conflict %v, want %v (%v)", tc.code, got, tc.conflict, err)
		}
		if got := errors.Is(err, ErrDuplicate); got != tc.duplicate {
			t.Errorf("%d: duplicate %v, want %v (%v)", tc.code, got, tc.duplicate, err)
		}
		if got := lostRace(err); got != (tc.conflict || tc.duplicate) {
			t.Errorf("%d: lost race %v", tc.code, got)
		}
	}
}

// runJetStream starts an in-process JetStream server with a stream "T" on
// t.> configured as the ledger's is for appends (atomic publish, a
// duplicate window), and returns a connection to it.
func runJetStream(tb testing.TB) (*nats.Conn, jetstream.JetStream) {
	tb.Helper()
	s, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, JetStream: true,
		StoreDir: tb.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		tb.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		tb.Fatal("nats-server not ready")
	}
	tb.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := js.CreateStream(context.Background(), jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"},
		AllowAtomicPublish: true, Duplicates: 2 * time.Minute}); err != nil {
		tb.Fatal(err)
	}
	return nc, js
}

// rule H5: a group commit in which one command's message is someone else's
// duplicate, or one command lost the expected-sequence race, fails that
// command alone: every other command of the group lands.
func TestGroupCommitFailsOnlyTheLoser(t *testing.T) {
	nc, js := runJetStream(t)
	ctx := context.Background()
	if _, err := js.PublishMsg(ctx, &nats.Msg{Subject: "t.elsewhere", Data: []byte("x"),
		Header: nats.Header{hdrMsgID: []string{"emitted-by-another"}}}); err != nil {
		t.Fatal(err)
	}
	c := &committer{app: &appender{nc: nc, js: js}, bigBatchSlots: make(chan struct{}, 1), maxLeaders: 1}
	for _, tc := range []struct {
		name  string
		loser outgoing
		want  error
	}{
		{"duplicate", outgoing{subject: "t.reminder", data: []byte("r"), msgID: "emitted-by-another", expect: true}, ErrDuplicate},
		{"conflict", outgoing{subject: "t.elsewhere", data: []byte("y"), msgID: "fresh-y", expect: true, expected: 0}, ErrConflict},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := func(msgs ...outgoing) *appendReq {
				return &appendReq{ctx: ctx, msgs: msgs, done: make(chan appendRes, 1)}
			}
			one := req(outgoing{subject: "t.one." + tc.name, data: []byte("1"), msgID: "one-" + tc.name, expect: true})
			loser := req(tc.loser)
			two := req(outgoing{subject: "t.two." + tc.name, data: []byte("2"), msgID: "two-" + tc.name, expect: true},
				outgoing{subject: "t.three." + tc.name, data: []byte("3"), msgID: "three-" + tc.name, expect: true})
			c.commit([]*appendReq{one, loser, two})
			for _, r := range []*appendReq{one, two} {
				if res := <-r.done; res.err != nil || res.seq == 0 {
					t.Errorf("%s: %+v; want it landed beside the loser", r.msgs[0].msgID, res)
				}
			}
			if res := <-loser.done; !errors.Is(res.err, tc.want) {
				t.Errorf("the loser: %+v, want %v", res, tc.want)
			}
		})
	}
}
