package ledger_test

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/ledger"
	"github.com/entledger/ledger/server"
)

// The benchmarks below run the ledger's write path and raw JetStream
// publishes on the same embedded server with the same durability (every
// write fsynced), with b.SetParallelism(8) on 2 cores: 16 concurrent
// clients, each on its own licence or subject. `ledger bench` reports the
// same comparison with ratios; these are for `go test -bench` and pprof.

func BenchmarkRawPublish(b *testing.B) {
	tl := startLedger(b, "", newClock(time.Now()))
	conn := tl.srv.Conn()
	cfg := server.StreamConfig(1)
	cfg.Name, cfg.Subjects = "RAW", []string{"raw.>"}
	if _, err := conn.JS.CreateStream(context.Background(), cfg); err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, 700)
	var worker atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		subject := "raw.w" + strconv.FormatInt(worker.Add(1), 10)
		var last uint64
		for pb.Next() {
			msg := &nats.Msg{Subject: subject, Data: payload, Header: nats.Header{}}
			msg.Header.Set("Nats-Msg-Id", events.NewID())
			msg.Header.Set("Nats-Expected-Last-Subject-Sequence", strconv.FormatUint(last, 10))
			ack, err := conn.JS.PublishMsg(context.Background(), msg)
			if err != nil {
				b.Error(err)
				return
			}
			last = ack.Sequence
		}
	})
}

func BenchmarkReassign(b *testing.B) {
	tl := startLedger(b, "", newClock(time.Now()))
	l := tl.srv.Ledger()
	ctx := context.Background()
	now := time.Now().UTC()
	if _, err := l.CreateAccount(ctx, ledger.Meta{}, commands.CreateAccount{ID: "bench", Name: "Bench", FulfillmentContact: "o@bench.example"}); err != nil {
		b.Fatal(err)
	}
	const clients = 16
	for w := range clients {
		for _, u := range []string{"a", "b"} {
			if _, err := l.RegisterUser(ctx, ledger.Meta{}, commands.RegisterUser{Account: "bench",
				Email: fmt.Sprintf("%s%d@bench.example", u, w), EntitlementCountry: "DE"}); err != nil {
				b.Fatal(err)
			}
		}
		lic := "L" + strconv.Itoa(w)
		if _, err := l.CreateLicense(ctx, ledger.Meta{}, commands.CreateLicense{Account: "bench", ID: lic, Kind: "practitioner",
			Products: []string{"p"}, ValidFrom: now.Add(-time.Hour), ValidUntil: now.Add(time.Hour * 24 * 365)}); err != nil {
			b.Fatal(err)
		}
		if _, err := l.Assign(ctx, ledger.Meta{}, commands.Assign{Account: "bench", LicenseID: lic, Email: fmt.Sprintf("a%d@bench.example", w)}); err != nil {
			b.Fatal(err)
		}
	}
	var worker atomic.Int64
	b.SetParallelism(clients / 2)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := worker.Add(1) - 1
		lic, i := "L"+strconv.FormatInt(w, 10), 0
		for pb.Next() {
			i++
			to := fmt.Sprintf("b%d@bench.example", w)
			if i%2 == 0 {
				to = fmt.Sprintf("a%d@bench.example", w)
			}
			if _, err := l.Reassign(ctx, ledger.Meta{}, commands.Reassign{Account: "bench", LicenseID: lic, Email: to}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
