package projections

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble/v2"

	"github.com/entledger/ledger/events"
)

// hotEntries bounds the index cache: about 100 bytes each, so some 10 MiB.
const hotEntries = 100_000

// indexCache keeps index entries the usage projection reads for nearly every
// event: a day's totals, its distinct users and machines, and a machine's last
// usage. They are few (accounts × products × days, users × machines) and read
// far more often than they change. Usage ids are not kept: each is read once.
// The cache is filled only with committed values, and emptied when it is full
// or a commit fails, so it never disagrees with Pebble.
type indexCache struct {
	max     int
	entries map[string][]byte // nil value: known absent
}

func newIndexCache(max int) *indexCache {
	return &indexCache{max: max, entries: make(map[string][]byte)}
}

// hot reports whether key is of a kind the cache keeps.
func hot(key []byte) bool {
	return len(key) > 3 && key[0] == 'u' && (key[1] == 's' || key[1] == 'u' || key[1] == 'm' || key[1] == 'l') && key[2] == '/'
}

func (c *indexCache) get(key []byte) ([]byte, bool) {
	if c == nil || !hot(key) {
		return nil, false
	}
	v, ok := c.entries[string(key)]
	return v, ok
}

func (c *indexCache) reset() {
	if c != nil {
		clear(c.entries)
	}
}

// keepHot moves what this run read and wrote into the cache, once its batch
// has committed.
func (a *applier) keepHot() {
	if a.hot == nil {
		return
	}
	if len(a.hot.entries)+len(a.read)+len(a.kv) > a.hot.max {
		a.hot.reset()
	}
	for k, v := range a.read {
		if hot([]byte(k)) {
			a.hot.entries[k] = v
		}
	}
	for k, v := range a.kv {
		if hot([]byte(k)) {
			a.hot.entries[k] = v
		}
	}
}

// prefetchUsageIDs looks up, in one sorted pass of one iterator, the usage
// ids of the run's usage events, instead of one Pebble Get each: almost all
// of them are new, and a batch of usage carries hundreds.
func (a *applier) prefetchUsageIDs(msgs []Msg, checkpoint uint64) error {
	var keys [][]byte
	for _, m := range msgs {
		if m.Seq <= checkpoint || m.decoded == nil || m.decoded.err != nil {
			continue
		}
		e := m.decoded.event
		if u, ok := e.Data.(events.UsageRecorded); ok {
			keys = append(keys, usageIDKey(e.Account, u.UsageID))
		}
	}
	for _, k := range keys {
		a.read[string(k)] = nil
	}
	return lookupSorted(a.db, keys, func(key, value []byte) error {
		a.read[string(key)] = bytes.Clone(value)
		return nil
	})
}

// prefetchRecords reads, in one sorted pass each, the aggregate records of
// the run's subjects and the command records of its commands, instead of
// one Pebble Get each: a Get builds iterators over every level, and in a
// rebuild or a long catch-up nearly every one of them misses (a new user,
// licence or command), which made these lookups a quarter of applying
// mixed events. Absent commands are remembered as nil in a.cmds.
func (a *applier) prefetchRecords(msgs []Msg, checkpoint uint64) error {
	var aggKeys, cmdKeys [][]byte
	last := checkpoint // skipping what Apply skips: a message at or below the last one before it
	for _, m := range msgs {
		if m.Seq <= last {
			continue
		}
		last = m.Seq
		if _, ok := a.aggs[m.Subject]; !ok {
			a.aggs[m.Subject] = &record{}
			aggKeys = append(aggKeys, aggKey(m.Subject))
		}
		if m.decoded == nil || m.decoded.err != nil {
			continue
		}
		if id := m.decoded.event.CommandID; id != "" {
			if _, ok := a.cmds[id]; !ok {
				a.cmds[id] = nil
				cmdKeys = append(cmdKeys, cmdKey(id))
			}
		}
	}
	err := lookupSorted(a.db, aggKeys, func(key, value []byte) error {
		subject := string(key[len(prefixAgg):])
		if err := a.aggs[subject].unmarshal(value); err != nil {
			return fmt.Errorf("aggregate %s: %w", subject, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return lookupSorted(a.db, cmdKeys, func(key, value []byte) error {
		id := string(key[len(prefixCmd):])
		c := &commandRecord{}
		if err := json.Unmarshal(value, c); err != nil {
			return fmt.Errorf("command %s: %w", id, err)
		}
		a.cmds[id] = c
		return nil
	})
}

// lookupSorted calls found for each of keys present in db, with its value
// (valid only during the call). It sorts keys and seeks one iterator through
// them in order, which costs much less than a Get each when there are many.
func lookupSorted(db *pebble.DB, keys [][]byte, found func(key, value []byte) error) error {
	if len(keys) == 0 {
		return nil
	}
	slices.SortFunc(keys, bytes.Compare)
	keys = slices.CompactFunc(keys, bytes.Equal)
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: keys[0], UpperBound: append(bytes.Clone(keys[len(keys)-1]), 0)})
	if err != nil {
		return err
	}
	for _, k := range keys {
		if it.SeekGE(k) && bytes.Equal(it.Key(), k) {
			if err := found(k, it.Value()); err != nil {
				it.Close()
				return err
			}
		}
	}
	return it.Close()
}
