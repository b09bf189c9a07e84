package ledger

import (
	"context"
	"testing"
)

// A usage batch that lost a race gives its shard back to the bottom of the
// stack, so that its next attempt, and the next batch, take another shard
// (the one lost on is likely busy with another process); a shard given
// back after a success is taken again first.
func TestUsageShardLostOnGoesToTheBottom(t *testing.T) {
	ctx := context.Background()
	u := newUsageShards(4, 4)
	const subject = "ledger.events.acme.usage.microstation"
	first, err := u.take(ctx, subject)
	if err != nil {
		t.Fatal(err)
	}
	u.give(subject, first, false)
	if again, _ := u.take(ctx, subject); again != first {
		t.Fatalf("after a success shard %d is taken again first, got %d", first, again)
	}
	u.give(subject, first, true) // lost a race on it
	seen := map[int]bool{}
	for range 3 {
		n, err := u.take(ctx, subject)
		if err != nil {
			t.Fatal(err)
		}
		if n == first {
			t.Fatalf("shard %d, lost on, was taken again before the 3 others", first)
		}
		seen[n] = true
	}
	if last, _ := u.take(ctx, subject); last != first || len(seen) != 3 {
		t.Fatalf("the 4th take gave %d (want %d, the one lost on); the first 3 were %v", last, first, seen)
	}
}
