package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/entledger/ledger/ledger"
)

// Shared settings. Every ledger process on one stream shares the LEDGER
// stream and the streams behind the ledger's buckets, and each of them has
// one declared set of guarantees here (rules H1, F2, H5, S7):
//
//   - settings every process requires as they are (file storage, deny
//     delete and purge, no limits, …): sharedStream.problems;
//   - settings that only go up: replicas, the duplicate window and, for a
//     bucket, its TTL (streamSettings), with a declared minimum each.
//
// At start a process creates what is missing with the declared settings and
// its --replicas; it adopts what exists when it is at least as strong,
// raises the replicas only when told to (--replicas above what exists), and
// refuses to start, naming the setting, when what exists is weaker than the
// declared minimum or than what the projections recorded (sharedRecord).
// Nothing here ever lowers a setting. While the ledger runs, the stream
// check compares each of them with the strongest it has seen (streamWatch).

// DefaultDuplicateWindow is the LEDGER stream's duplicate window when the
// ledger creates it, and the least it accepts: message ids of usage records,
// alerts and reminders sent again by a process that lost an answer are
// duplicates within it (F2, H5).
const DefaultDuplicateWindow = 2 * time.Minute

// ErrWeakerSettings is returned at start for a shared stream or bucket
// whose settings are weaker than the ledger's declared minimum or than what
// its projections recorded; the error names the setting.
var ErrWeakerSettings = errors.New("server: a shared stream or bucket is weaker than the ledger requires")

// sharedStream is one stream the ledger processes share, and its declared
// guarantees.
type sharedStream struct {
	name string // the JetStream stream
	what string // as an operator knows it: "stream LEDGER", "bucket LEDGER_ANSWERS"
	// least is the declared minimum of the settings that only go up.
	least streamSettings
	// ttl says whether the stream's max_age is a setting that only goes up
	// (a bucket's TTL); otherwise problems requires it to be none.
	ttl bool
	// problems names every setting of cfg that breaks the declared
	// guarantees whatever was recorded; nil when none does.
	problems func(cfg jetstream.StreamConfig) []string
	// create makes the stream with the declared settings and replicas.
	create func(ctx context.Context, js jetstream.JetStream, replicas int) error
}

// ledgerShared is the LEDGER stream: StreamConfig, and atomic publish on
// (turned on at start when off: it adds a capability and loses nothing).
var ledgerShared = sharedStream{
	name:  StreamName,
	what:  "stream " + StreamName,
	least: streamSettings{Replicas: 1, DuplicateWindow: DefaultDuplicateWindow},
	problems: func(cfg jetstream.StreamConfig) []string {
		return configProblems(cfg, StreamConfig(cfg.Replicas))
	},
	create: func(ctx context.Context, js jetstream.JetStream, replicas int) error {
		_, err := js.CreateStream(ctx, StreamConfig(replicas))
		return err
	},
}

// answersShared is the stream of the LEDGER_ANSWERS bucket
// (ledger.ReplayAnswersConfig): file storage, answers kept at least
// ledger.ReplayAnswersTTL, no limit that would refuse one.
var answersShared = sharedStream{
	name:  "KV_" + ledger.ReplayAnswersBucket,
	what:  "bucket " + ledger.ReplayAnswersBucket,
	least: streamSettings{Replicas: 1, MaxAge: ledger.ReplayAnswersTTL},
	ttl:   true,
	problems: func(cfg jetstream.StreamConfig) []string {
		var bad []string
		check := func(ok bool, setting string) {
			if !ok {
				bad = append(bad, setting)
			}
		}
		check(cfg.Storage == jetstream.FileStorage, "storage (want file)")
		check(cfg.MaxMsgs <= 0 && cfg.MaxBytes <= 0 && cfg.MaxMsgSize <= 0,
			"max_msgs/max_bytes/max_value_size (want no limits: a full bucket refuses answers)")
		check(!cfg.Sealed, "sealed (want false: the ledger keeps answers)")
		check(cfg.Mirror == nil && len(cfg.Sources) == 0, "mirror/sources (want none: only the ledger writes)")
		return bad
	},
	create: func(ctx context.Context, js jetstream.JetStream, replicas int) error {
		_, err := js.CreateKeyValue(ctx, ledger.ReplayAnswersConfig(replicas))
		return err
	},
}

// sharedStreams are every stream and bucket the ledger uses, LEDGER first.
var sharedStreams = []sharedStream{ledgerShared, answersShared}

// streamSettings are the settings of a shared stream that only go up.
type streamSettings struct {
	Replicas        int           `json:"replicas"`
	DuplicateWindow time.Duration `json:"duplicate_window"`
	// MaxAge is a bucket's TTL; 0 keeps values forever, the longest.
	MaxAge time.Duration `json:"max_age,omitempty"`
}

func settingsOf(cfg jetstream.StreamConfig) streamSettings {
	return streamSettings{Replicas: cfg.Replicas, DuplicateWindow: cfg.Duplicates, MaxAge: cfg.MaxAge}
}

// longer reports whether max age a keeps values at least as long as b
// (0 is forever).
func longer(a, b time.Duration) bool { return a == 0 || b != 0 && a >= b }

// strongest is each setting at the stronger of s and o.
func (s streamSettings) strongest(o streamSettings) streamSettings {
	s.Replicas = max(s.Replicas, o.Replicas)
	s.DuplicateWindow = max(s.DuplicateWindow, o.DuplicateWindow)
	if !longer(s.MaxAge, o.MaxAge) {
		s.MaxAge = o.MaxAge
	}
	return s
}

// weakerThan names every setting of s (a stream st's) below floor; why
// says where floor comes from.
func (s streamSettings) weakerThan(st sharedStream, floor streamSettings, why string) []string {
	var bad []string
	if s.Replicas < floor.Replicas {
		bad = append(bad, fmt.Sprintf("replicas %d (want at least %d: %s)", s.Replicas, floor.Replicas, why))
	}
	if s.DuplicateWindow < floor.DuplicateWindow {
		bad = append(bad, fmt.Sprintf("duplicate_window %s (want at least %s: %s)", s.DuplicateWindow, floor.DuplicateWindow, why))
	}
	if st.ttl && !longer(s.MaxAge, floor.MaxAge) {
		bad = append(bad, fmt.Sprintf("ttl %s (want at least %s: %s)", s.MaxAge, floor.MaxAge, why))
	}
	return bad
}

// sharedRecord is what the projections keep of the shared streams
// (projections.Store.SetShared): the strongest settings each has had
// since the projections were built, and the loss a rebuild accepted.
type sharedRecord struct {
	Settings map[string]streamSettings `json:"settings,omitempty"` // by stream name
	// AcceptedDeleted is how many messages the stream had lost when
	// `ledger rebuild --accept-deleted` built the projections: a loss up
	// to it keeps /readyz 200.
	AcceptedDeleted uint64 `json:"accepted_deleted,omitempty"`
}

func decodeSharedRecord(b []byte) (sharedRecord, error) {
	var r sharedRecord
	if len(b) == 0 {
		return r, nil
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("server: the projections' record of the shared settings: %w", err)
	}
	return r, nil
}

// raise records s as st's settings where they are stronger, and reports
// whether anything changed.
func (r *sharedRecord) raise(st sharedStream, s streamSettings) bool {
	if r.Settings == nil {
		r.Settings = map[string]streamSettings{}
	}
	was, ok := r.Settings[st.name]
	if !ok {
		r.Settings[st.name] = s
		return true
	}
	now := s.strongest(was)
	r.Settings[st.name] = now
	return now != was
}

// floor is the least st must keep: its declared minimum and what r
// recorded.
func (r sharedRecord) floor(st sharedStream) streamSettings {
	if was, ok := r.Settings[st.name]; ok {
		return st.least.strongest(was)
	}
	return st.least
}

// adoptShared makes st exist with at least its declared guarantees, without
// lowering anything: it creates a missing one with replicas; for an
// existing one it refuses a setting that breaks the guarantees, raises its
// replicas to replicas when they are fewer, turns on what may be turned on,
// and then refuses a setting weaker than rec's floor. It returns the
// stream's information as it leaves it.
func adoptShared(ctx context.Context, js jetstream.JetStream, st sharedStream, replicas int, rec sharedRecord) (*jetstream.StreamInfo, error) {
	info, err := lookup(ctx, js, st)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		err = st.create(ctx, js, replicas)
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) { // another process made it first, with other settings
			err = nil
		}
		if err != nil {
			return nil, fmt.Errorf("server: create %s: %w", st.what, err)
		}
		info, err = settledInfo(ctx, js, st)
	}
	if err != nil {
		return nil, err
	}
	if bad := st.problems(info.Config); len(bad) > 0 {
		return nil, fmt.Errorf("%w: %s exists with settings that break the ledger's guarantees: %v", ErrWeakerSettings, st.what, bad)
	}
	cfg := info.Config
	if cfg.Replicas < replicas {
		cfg.Replicas = replicas // --replicas raises, never lowers
	}
	if st.name == StreamName {
		cfg.AllowAtomicPublish = true
	}
	if !equalConfig(cfg, info.Config) {
		if _, err := js.UpdateStream(ctx, cfg); err != nil {
			return nil, fmt.Errorf("server: raise %s to replicas %d (atomic publish on): %w", st.what, cfg.Replicas, err)
		}
	}
	if info, err = settledInfo(ctx, js, st); err != nil {
		return nil, err
	}
	if bad := settingsOf(info.Config).weakerThan(st, rec.floor(st), "the declared minimum, or the most it had while these projections were built"); len(bad) > 0 {
		hint := ""
		if settingsOf(info.Config).Replicas < rec.floor(st).Replicas {
			hint = fmt.Sprintf("; --replicas %d raises the replicas back", rec.floor(st).Replicas)
		}
		return nil, fmt.Errorf("%w: %s: %v. Something lowered it outside the ledger: set it back (nats stream edit %s)%s; "+
			"to keep it lower on purpose, run `ledger rebuild --force`, whose projections record the settings as they are",
			ErrWeakerSettings, st.what, bad, st.name, hint)
	}
	return info, nil
}

// settleTimeout bounds how long a start waits for a shared stream that
// another process is creating or changing at the same moment.
const settleTimeout = 30 * time.Second

// lookup is st's stream information, or jetstream.ErrStreamNotFound. A
// JetStream API that does not answer in time (the cluster's meta leader
// busy creating or changing a stream for another process) is asked again,
// for up to settleTimeout.
func lookup(ctx context.Context, js jetstream.JetStream, st sharedStream) (*jetstream.StreamInfo, error) {
	wait, cancel := context.WithTimeout(ctx, settleTimeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		info, err := sharedInfo(wait, js, st)
		if err == nil || errors.Is(err, jetstream.ErrStreamNotFound) || !transient(err) {
			if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
				err = fmt.Errorf("server: %s: %w", st.what, err)
			}
			return info, err
		}
		select {
		case <-tick.C:
		case <-wait.Done():
			return nil, fmt.Errorf("server: %s: no answer within %s: %w", st.what, settleTimeout, err)
		}
	}
}

// transient reports whether err, of a JetStream API request, may be gone
// when asked again: no answer in time, or no one to answer yet.
func transient(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, jetstream.ErrNoStreamResponse)
}

// settledInfo waits, for up to settleTimeout, until st can answer lookups
// and appends, and returns its information: found, and on a cluster with a
// leader and a quorum of current replicas. A stream another process has just
// created, or whose replicas were just raised, answers neither for a moment.
func settledInfo(ctx context.Context, js jetstream.JetStream, st sharedStream) (*jetstream.StreamInfo, error) {
	wait, cancel := context.WithTimeout(ctx, settleTimeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		info, err := sharedInfo(wait, js, st)
		if err == nil && settled(info) {
			return info, nil
		}
		if err == nil {
			err = fmt.Errorf("no leader with a quorum of current replicas yet (cluster %+v)", info.Cluster)
		} else if !errors.Is(err, jetstream.ErrStreamNotFound) && !transient(err) {
			return nil, fmt.Errorf("server: %s: %w", st.what, err)
		}
		select {
		case <-tick.C:
		case <-wait.Done():
			return nil, fmt.Errorf("server: %s not ready within %s: %w", st.what, settleTimeout, err)
		}
	}
}

// settled reports whether a stream has a leader and a quorum of current
// replicas (always, on a single server).
func settled(info *jetstream.StreamInfo) bool {
	c := info.Cluster
	if c == nil {
		return true
	}
	if c.Leader == "" {
		return false
	}
	current := 1 // the leader
	for _, p := range c.Replicas {
		if p.Current && !p.Offline {
			current++
		}
	}
	return current >= info.Config.Replicas/2+1
}

// askTimeout bounds one JetStream API request of lookup and settledInfo,
// which ask again after it.
const askTimeout = 2 * time.Second

// sharedInfo is st's stream information.
func sharedInfo(ctx context.Context, js jetstream.JetStream, st sharedStream) (*jetstream.StreamInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, askTimeout)
	defer cancel()
	s, err := js.Stream(ctx, st.name)
	if err != nil {
		return nil, err
	}
	return s.CachedInfo(), nil
}

// equalConfig reports whether a and b are the same stream configuration
// as far as adoptShared changes it.
func equalConfig(a, b jetstream.StreamConfig) bool {
	return a.Replicas == b.Replicas && a.AllowAtomicPublish == b.AllowAtomicPublish
}

// adoptAllShared runs adoptShared on every shared stream, LEDGER first,
// with the replicas asked for and what the projections recorded. It raises
// what it was told to on all of them before it refuses: the error names
// every setting that is weaker.
func adoptAllShared(ctx context.Context, js jetstream.JetStream, replicas int, rec sharedRecord) error {
	var weak []error
	for _, st := range sharedStreams {
		_, err := adoptShared(ctx, js, st, replicas, rec)
		if errors.Is(err, ErrWeakerSettings) {
			weak = append(weak, err)
			continue
		}
		if err != nil {
			return err
		}
	}
	return errors.Join(weak...)
}
