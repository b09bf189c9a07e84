package projections

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"

	"github.com/entledger/ledger/events"
)

// ErrClosed is returned by operations on a closed Store.
var ErrClosed = errors.New("projections: closed")

// Key layout. Every key starts with a one-byte family and '/'.
//
//	m/checkpoint                   stream sequence of the last applied event (8 bytes, big endian)
//	m/stream                       identity of the stream the store was built from
//	m/format                       Format: what this version of the store holds
//	m/shared                       what the ledger records of the streams and buckets it shares (SetShared); not in the digest
//	a/<subject>                    aggregate record: seq, hash and state JSON (record.marshal)
//	h/<subject>\x00<seq>           raw event bytes, one per applied event, except usage (H4)
//	c/<command id>                 command record: JSON {hash, subject, seq, recordedat}
//	u/<account>/<licence id>       present while a practitioner licence is unassigned (C7)
//	p/<account>/<product>/<id>     a commercial or trial licence covering the product (E1)
//	b/<seq>                        a break: an event that was not applied (H3)
//	ac/<account>                   an account exists (the list of accounts)
//
// and the usage and billing keys of usage.go and peaks.go.
var (
	keyCheckpoint = []byte("m/checkpoint")
	keyStream     = []byte("m/stream")
	keyFormat     = []byte("m/format")
	keyShared     = []byte("m/shared")
	prefixAgg     = []byte("a/")
	prefixHist    = []byte("h/")
	prefixCmd     = []byte("c/")
	prefixUnasg   = []byte("u/")
	prefixPooled  = []byte("p/")
	prefixBreak   = []byte("b/")
)

func aggKey(subject string) []byte { return append(append([]byte{}, prefixAgg...), subject...) }

func histPrefix(subject string) []byte {
	k := append(append([]byte{}, prefixHist...), subject...)
	return append(k, 0)
}

func histKey(subject string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(histPrefix(subject), seq)
}

func cmdKey(id string) []byte { return append(append([]byte{}, prefixCmd...), id...) }

func unassignedKey(account, id string) []byte {
	k := append(append([]byte{}, prefixUnasg...), account...)
	return append(append(k, '/'), id...)
}

func pooledKey(account, product, id string) []byte {
	k := append(append([]byte{}, prefixPooled...), account...)
	k = append(append(k, '/'), product...)
	return append(append(k, '/'), id...)
}

func breakKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte{}, prefixBreak...), seq)
}

// prefixEnd returns the smallest key greater than every key with prefix p.
func prefixEnd(p []byte) []byte {
	end := append([]byte{}, p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// Store is the Pebble database of read models.
type Store struct {
	db     *pebble.DB
	logger *slog.Logger
	auth   *events.MAC

	// mu guards the applied checkpoint and the channel closed when it moves.
	// Apply holds applyMu for a whole batch; mu only around the update.
	mu struct {
		sync.Mutex
		checkpoint uint64
		changed    chan struct{}
		closed     bool
		storedAt   time.Time // see AppliedThrough
		breaks     int       // how many breaks the store holds (BreakSummary)
		firstBreak Break     // the first of them
	}
	applyMu sync.Mutex
	// onBreaks is told of the breaks each Apply records (OnBreaks), under
	// applyMu.
	onBreaks func([]Break)
	// hot caches index entries that usage touches again and again (a day's
	// totals, its distinct users and machines, a machine's last usage),
	// under applyMu. Only Apply writes them, so the cache stays true.
	hot *indexCache
	// closeMu is held for reading by every query and for writing by Close,
	// so no query touches Pebble after it is closed.
	closeMu sync.RWMutex
	// billing holds BillingVersion by account.
	billing struct {
		sync.Mutex
		seq map[string]uint64
	}
}

// read guards a query against Close: it fails with ErrClosed once the store
// is closed, and Close waits for the returned release.
func (s *Store) read() (release func(), err error) {
	s.closeMu.RLock()
	s.mu.Lock()
	closed := s.mu.closed
	s.mu.Unlock()
	if closed {
		s.closeMu.RUnlock()
		return nil, ErrClosed
	}
	return s.closeMu.RUnlock, nil
}

// Options configure Open.
type Options struct {
	Logger *slog.Logger // defaults to slog.Default()
	// Authenticator checks every event's MAC (events.MACHeader) before it
	// is applied: an event the ledger did not write is a break. Without one
	// the store trusts every event that decodes and continues its hash chain.
	Authenticator *events.MAC
	// CacheBytes is the block cache's size; 0 means 64 MiB.
	CacheBytes int64
	// MemTableBytes is the size of Pebble's memtable (up to two are held
	// while one is flushed); 0 means DefaultMemTableBytes, the least is
	// 4 MiB.
	MemTableBytes int64
}

// DefaultMemTableBytes is the memtable's size unless Options say
// otherwise.
const DefaultMemTableBytes = 64 << 20

// Open opens (or creates) the store in dir.
func Open(dir string, opts Options) (*Store, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	cache := opts.CacheBytes
	if cache <= 0 {
		cache = 64 << 20
	}
	popts := &pebble.Options{Logger: pebbleLogger{logger}, Cache: pebble.NewCache(cache)}
	defer popts.Cache.Unref()
	// Most reads during apply are for keys that do not exist yet (a new
	// aggregate, a new command): bloom filters answer those without
	// reading data blocks.
	for i := range popts.Levels {
		popts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
		popts.Levels[i].FilterType = pebble.TableFilter
	}
	// A large memtable is what makes a rebuild or a long catch-up fast:
	// Pebble's own default of 4 MiB flushes every few thousand usage
	// events, and compacting those small tables took a third of a
	// rebuild's time (docs/benchmarks.md).
	mem := opts.MemTableBytes
	if mem <= 0 {
		mem = DefaultMemTableBytes
	}
	popts.MemTableSize = uint64(max(mem, 4<<20))
	db, err := pebble.Open(dir, popts)
	if err != nil {
		return nil, fmt.Errorf("projections: open %s: %w", dir, err)
	}
	s := &Store{db: db, logger: logger, auth: opts.Authenticator}
	s.mu.changed = make(chan struct{})
	v, closer, err := db.Get(keyCheckpoint)
	switch {
	case errors.Is(err, pebble.ErrNotFound):
	case err != nil:
		db.Close()
		return nil, fmt.Errorf("projections: read checkpoint: %w", err)
	default:
		if len(v) != 8 {
			closer.Close()
			db.Close()
			return nil, fmt.Errorf("projections: corrupt checkpoint (%d bytes)", len(v))
		}
		s.mu.checkpoint = binary.BigEndian.Uint64(v)
		closer.Close()
	}
	if s.mu.breaks, s.mu.firstBreak, err = loadBreakSummary(db); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Format names what the store holds. It changes whenever a version of the
// ledger keeps new read models or keys, so a store built by an older
// version is rebuilt rather than served incomplete.
// 4: sessions, checks and pooled index, checkout, usage and last usage per machine;
// 5: no history of usage aggregates, command records carry recordedat;
// 10: pooled records and known usage carry the country, pooled records the email (G9, G11).
const Format = "10"

// ErrFormat is returned by Bind for a store built by another version.
var ErrFormat = errors.New("projections: built by another version of the ledger")

// ErrWrongStream is returned by Bind for a store built from another stream.
var ErrWrongStream = errors.New("projections: built from another stream")

// Bind ties the store to the stream it follows: identity names the stream,
// last is its last sequence now. A store bound to another identity, or whose
// checkpoint is ahead of the stream, was built from another stream and is
// refused; an unbound store is bound.
func (s *Store) Bind(identity string, last uint64) error {
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	got, err := get(s.db, keyStream)
	if err != nil {
		return err
	}
	if got != nil && string(got) != identity {
		return fmt.Errorf("%w: store of %q, stream %q", ErrWrongStream, got, identity)
	}
	if cp := s.Checkpoint(); cp > last {
		return fmt.Errorf("%w: store at sequence %d, stream ends at %d", ErrWrongStream, cp, last)
	}
	format, err := get(s.db, keyFormat)
	if err != nil {
		return err
	}
	if s.Checkpoint() > 0 && string(format) != Format {
		return fmt.Errorf("%w: format %q, this version writes %q", ErrFormat, format, Format)
	}
	if got == nil || format == nil {
		b := s.db.NewBatch()
		defer b.Close()
		if err := errors.Join(b.Set(keyStream, []byte(identity), nil), b.Set(keyFormat, []byte(Format), nil)); err != nil {
			return err
		}
		return b.Commit(pebble.Sync)
	}
	return nil
}

// Shared is what SetShared recorded last (nil if nothing).
func (s *Store) Shared() ([]byte, error) {
	release, err := s.read()
	if err != nil {
		return nil, err
	}
	defer release()
	return get(s.db, keyShared)
}

// SetShared records b, which the store keeps for its caller: the settings
// of the streams and buckets the ledger shares with other processes, as the
// server wants them remembered with the projections they were built with.
func (s *Store) SetShared(b []byte) error {
	release, err := s.read()
	if err != nil {
		return err
	}
	defer release()
	return s.db.Set(keyShared, b, pebble.Sync)
}

// Binding is what a store says of the stream it was built from.
type Binding struct {
	Stream     string // the identity Bind was given; "" for a store never bound
	Checkpoint uint64 // the last sequence applied
	Shared     []byte // what SetShared recorded last, nil if nothing
}

// ErrNoStore is returned by ReadBinding for a directory that holds no
// store.
var ErrNoStore = errors.New("projections: no store")

// ReadBinding reads the binding of the store in dir without changing it
// (Pebble read-only), for a process that must know which stream the store
// belongs to before it connects to one. The store must not be open.
func ReadBinding(dir string) (Binding, error) {
	var b Binding
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) || err == nil && len(entries) == 0 {
		return b, fmt.Errorf("%w in %s", ErrNoStore, dir)
	}
	if err != nil {
		return b, fmt.Errorf("projections: %w", err)
	}
	db, err := pebble.Open(dir, &pebble.Options{ReadOnly: true, Logger: pebbleLogger{slog.New(slog.DiscardHandler)}})
	if err != nil {
		return b, fmt.Errorf("projections: open %s: %w", dir, err)
	}
	defer db.Close()
	stream, err := get(db, keyStream)
	if err != nil {
		return b, err
	}
	cp, err := get(db, keyCheckpoint)
	if err != nil {
		return b, err
	}
	if cp != nil && len(cp) != 8 {
		return b, fmt.Errorf("projections: corrupt checkpoint (%d bytes)", len(cp))
	}
	if cp != nil {
		b.Checkpoint = binary.BigEndian.Uint64(cp)
	}
	b.Stream = string(stream)
	b.Shared, err = get(db, keyShared)
	return b, err
}

// Close closes the store. Waiters return ErrClosed.
func (s *Store) Close() error {
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		return nil
	}
	s.mu.closed = true
	close(s.mu.changed)
	s.mu.Unlock()
	return s.db.Close()
}

// Checkpoint is the stream sequence of the last applied event.
func (s *Store) Checkpoint() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.checkpoint
}

// WaitFor blocks until the store has applied the event at stream sequence seq
// (read-your-writes), ctx is done, or the store closes.
func (s *Store) WaitFor(ctx context.Context, seq uint64) error {
	for {
		s.mu.Lock()
		cp, ch, closed := s.mu.checkpoint, s.mu.changed, s.mu.closed
		s.mu.Unlock()
		if cp >= seq {
			return nil
		}
		if closed {
			return ErrClosed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("projections: waiting for sequence %d (at %d): %w", seq, cp, ctx.Err())
		}
	}
}

func (s *Store) advance(seq uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if seq > s.mu.checkpoint {
		s.mu.checkpoint = seq
		close(s.mu.changed)
		s.mu.changed = make(chan struct{})
	}
}

func (s *Store) markStored(at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if at.After(s.mu.storedAt) {
		s.mu.storedAt = at
	}
}

// AppliedThrough is when the stream stored the last event the store applied
// through Follow (the stream server's clock). The stream stores events in
// sequence order, so any event the store lacks was stored at or after it.
// Zero until Follow has applied an event.
func (s *Store) AppliedThrough() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.storedAt
}

// Digest is the hex SHA-256 of every key and value in the store, in key
// order, but m/shared (what a process recorded of the stream's settings,
// which two stores of one stream may hold differently). Two stores built
// from the same stream have the same digest.
func (s *Store) Digest() (string, error) {
	release, err := s.read()
	if err != nil {
		return "", err
	}
	defer release()
	it, err := s.db.NewIter(nil)
	if err != nil {
		return "", fmt.Errorf("projections: digest: %w", err)
	}
	h := sha256.New()
	var n [8]byte
	for ok := it.First(); ok; ok = it.Next() {
		k, v := it.Key(), it.Value()
		if bytes.Equal(k, keyShared) {
			continue
		}
		h.Write(binary.BigEndian.AppendUint64(n[:0], uint64(len(k))))
		h.Write(k)
		h.Write(binary.BigEndian.AppendUint64(n[:0], uint64(len(v))))
		h.Write(v)
	}
	if err := it.Close(); err != nil {
		return "", fmt.Errorf("projections: digest: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// get reads one key from r, returning nil for a missing key.
func get(r pebble.Reader, key []byte) ([]byte, error) {
	v, closer, err := r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := append([]byte(nil), v...)
	return out, closer.Close()
}

// pebbleLogger routes Pebble's logging to slog; Pebble's informational
// messages are debug-level noise for an operator.
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Debug(fmt.Sprintf(format, args...), "component", "pebble")
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
}

func (p pebbleLogger) Fatalf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
	panic(fmt.Sprintf(format, args...))
}
