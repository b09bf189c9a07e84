package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/entledger/ledger/internal/testlock"
)

// A ledger killed with SIGKILL in the middle of a usage import loses no
// acknowledged record and counts none twice (F2): after a restart, every
// batch sent again answers its acknowledged records as duplicates, and the
// summary counts each record exactly once.
func TestKillMidImportLosesNoUsage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the ledger binary")
	}
	testlock.Heavy(t) // never beside the cluster test of package ledger
	bin := killBinary(t)
	dir := t.TempDir()
	p := killStart(t, bin, dir)
	p.waitReady()
	p.must(201, "POST", "/v1/accounts", "", map[string]any{"id": "acme", "name": "Acme", "fulfillment_contact": "o@acme.example"})
	const users, batches, perBatch = 10, 40, 100
	for u := range users {
		p.must(201, "POST", "/v1/accounts/acme/users", "", map[string]any{"email": fmt.Sprintf("u%d@x.example", u), "entitlement_country": "DE"})
	}
	began := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Second)
	batch := func(b int) map[string]any {
		recs := make([]map[string]any, perBatch)
		for i := range recs {
			n := b*perBatch + i
			recs[i] = killUsageRecord(fmt.Sprintf("k-%d", n), fmt.Sprintf("u%d@x.example", n%users), fmt.Sprintf("m%d", n%37), began)
		}
		return map[string]any{"records": recs}
	}

	// Four importers; the ledger is killed once 15 batches are acknowledged.
	acked := make([]bool, batches)
	var mu sync.Mutex
	var count atomic.Int32
	next := make(chan int, batches)
	for b := range batches {
		next <- b
	}
	close(next)
	client := &http.Client{Timeout: 30 * time.Second}
	var wg sync.WaitGroup
	var once sync.Once
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range next {
				a := killSend(client, p.token, "POST", p.base+"/v1/accounts/acme/usage", "", batch(b))
				if a.err != nil || a.status != 200 {
					continue
				}
				mu.Lock()
				acked[b] = true
				mu.Unlock()
				if count.Add(1) == 15 {
					once.Do(p.kill)
				}
			}
		}()
	}
	wg.Wait()
	once.Do(p.kill)

	p = killStart(t, bin, dir)
	p.waitReady()
	total := 0
	for b := range batches {
		ans := p.must(200, "POST", "/v1/accounts/acme/usage", "", batch(b))
		accepted, duplicates := int(ans["accepted"].(float64)), int(ans["duplicates"].(float64))
		if accepted+duplicates != perBatch {
			t.Errorf("batch %d: %d accepted + %d duplicates, want %d", b, accepted, duplicates, perBatch)
		}
		if acked[b] && accepted != 0 {
			t.Errorf("batch %d was acknowledged before the kill, but %d of its records were accepted again", b, accepted)
		}
		if accepted != 0 && accepted != perBatch {
			t.Errorf("batch %d landed in part (%d of %d): an atomic batch lands whole or not at all", b, accepted, perBatch)
		}
		total += perBatch
	}
	if got := p.usageSessions(); got != total {
		t.Errorf("summary counts %d records, want each of the %d exactly once", got, total)
	}
	if count.Load() < 15 {
		t.Logf("only %d batches were acknowledged before the kill", count.Load())
	}
}

// killUsageRecord is one hour of product "ms" used by email on machine from
// began: a record whose usage_id makes it safe to send again (F2).
func killUsageRecord(id, email, machine string, began time.Time) map[string]any {
	return map[string]any{"usage_id": id, "email": email,
		"product": "ms", "machine_id": machine, "client_version": "10.00.18", "offline": false,
		"started_at": began.Format(time.RFC3339), "ended_at": began.Add(time.Hour).Format(time.RFC3339)}
}

// usageSessions is the number of records account acme's usage summary
// counts, over every day and classification of its default range.
func (p *killProc) usageSessions() int {
	p.tb.Helper()
	var sum struct {
		Days []map[string]json.RawMessage `json:"days"`
	}
	a := killSend(http.DefaultClient, p.token, "GET", p.base+"/v1/accounts/acme/usage/summary", "", nil)
	if a.err != nil || a.status != http.StatusOK {
		p.tb.Fatalf("summary: %v %d %s", a.err, a.status, a.body)
	}
	if err := json.Unmarshal([]byte(a.body), &sum); err != nil {
		p.tb.Fatalf("summary: %v %s", err, a.body)
	}
	n := 0
	for _, day := range sum.Days {
		for _, class := range []string{"practitioner", "pooled", "trial"} {
			var c struct {
				Sessions int `json:"sessions"`
			}
			if raw, ok := day[class]; ok {
				if err := json.Unmarshal(raw, &c); err != nil {
					p.tb.Fatalf("summary: %s: %v", class, err)
				}
			}
			n += c.Sessions
		}
	}
	return n
}
