package subscriber

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/entledger/ledger/events"
)

// Stream is the ledger's stream.
const Stream = "LEDGER"

// DefaultAPIPrefix is the JetStream API prefix of a subscriber's account
// (the credentials' js_api_prefix).
const DefaultAPIPrefix = "$LEDGER.API"

// Credentials are subscriber credentials as POST
// /v1/accounts/{account}/subscribers (or POST /v1/subscribers) answers
// them; decode that answer into this struct.
type Credentials struct {
	NATSURLs        []string `json:"nats_urls"`
	NATSUser        string   `json:"nats_user"`
	NATSPassword    string   `json:"nats_password"`
	InboxPrefix     string   `json:"inbox_prefix"`
	Durable         string   `json:"durable"`
	ConsumerService string   `json:"consumer_service"`
	JSAPIPrefix     string   `json:"js_api_prefix"`
	Subjects        []string `json:"subjects"`
}

// Config configures Run.
type Config struct {
	URL         string      // the NATS server, e.g. nats://127.0.0.1:4222; default: the credentials' nats_urls
	Credentials Credentials // the subscriber's own
	// Key is the ledger's event key (GET /v1/keys/events): only what it
	// signed is delivered. Required.
	Key ed25519.PublicKey
	// Filter narrows the subjects, e.g. ledger.events.acme.license.>; it
	// must lie within the credentials' subjects. Default: all of them.
	// A consumer made with one filter keeps it: delete it to change it.
	Filter string
	// Types delivers only these event types (all when empty). The filter
	// applies after verification, which needs every event of a subject.
	Types []string
	// StartSeq is where a new consumer starts (0: the stream's start);
	// StartTime, if set, starts it at the first event stored at or after
	// it; StartAtEnd at the next event stored. They take effect with
	// Replace: otherwise the consumer resumes after its last acknowledged
	// event (the ledger makes it, delivering everything, with the
	// credentials).
	StartSeq   uint64
	StartTime  time.Time
	StartAtEnd bool
	// Replace asks the ledger to make the consumer anew, so that the run
	// starts where the Start fields say (for `ledger tail`, which reads
	// from a point of its choosing each time).
	Replace bool
	// StopWhenIdle returns from Run once every event stored is handled,
	// instead of waiting for more.
	StopWhenIdle bool
	// AckEvery acknowledges after so many handled events (and whenever the
	// stream is idle); 0 means 100.
	AckEvery int
	// OnBreak hears of every event that failed verification; nil ignores
	// them (they are never handed to the handler).
	OnBreak func(Break)
}

// Event is a verified event.
type Event struct {
	Seq     uint64 // its stream sequence
	Subject string
	Type    string
	// Known reports whether this version of package events knows the type:
	// then Event holds the typed payload; otherwise only Event.ID and
	// Event.PrevHash are set, and Raw is the whole CloudEvent.
	Known bool
	events.Event
	Raw []byte
}

// Run follows the consumer until ctx is done (it then returns nil) or the
// handler fails (its error, unacknowledged: the event comes again on the
// next run).
func Run(ctx context.Context, cfg Config, handle func(context.Context, Event) error) error {
	if cfg.Key == nil {
		return errors.New("subscriber: Config.Key is required: the ledger's event key, from GET /v1/keys/events")
	}
	url := cfg.URL
	if url == "" {
		url = strings.Join(cfg.Credentials.NATSURLs, ",")
	}
	nc, err := nats.Connect(url, nats.UserInfo(cfg.Credentials.NATSUser, cfg.Credentials.NATSPassword),
		nats.CustomInboxPrefix(cfg.Credentials.InboxPrefix), nats.Name("ledger subscriber "+cfg.Credentials.Durable))
	if err != nil {
		return fmt.Errorf("subscriber: connect to %s: %w", url, err)
	}
	defer nc.Close()
	prefix := cfg.Credentials.JSAPIPrefix
	if prefix == "" {
		prefix = DefaultAPIPrefix
	}
	js, err := jetstream.NewWithAPIPrefix(nc, prefix)
	if err != nil {
		return err
	}
	cons, fromStart, err := open(ctx, nc, js, cfg)
	if err != nil {
		return err
	}
	r := &run{cfg: cfg, handle: handle, v: newVerifier(events.NewVerifier(cfg.Key), fromStart)}
	if r.cfg.AckEvery <= 0 {
		r.cfg.AckEvery = 100
	}
	return r.loop(ctx, cons)
}

// consumerRequest is a request to the ledger's consumer service: where
// the subscriber's consumer starts (deliver "" resumes it) and what it
// reads.
type consumerRequest struct {
	Deliver   string    `json:"deliver,omitempty"`
	StartSeq  uint64    `json:"start_seq,omitempty"`
	StartTime time.Time `json:"start_time,omitzero"`
	Filter    string    `json:"filter,omitempty"`
}

// consumerAnswer is the service's answer.
type consumerAnswer struct {
	Durable string `json:"durable"`
	Error   *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// open asks the ledger to (re)open the subscriber's durable consumer where
// cfg says (the ledger makes consumers; a subscriber's credentials can only
// read its own), and returns it, with whether it starts at the stream's
// first event.
func open(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, cfg Config) (jetstream.Consumer, bool, error) {
	c := cfg.Credentials
	if c.Durable == "" || len(c.Subjects) == 0 {
		return nil, false, errors.New("subscriber: the credentials name no durable consumer or subjects")
	}
	if cfg.Filter != "" && !within(cfg.Filter, c.Subjects[0]) {
		return nil, false, fmt.Errorf("subscriber: filter %s is outside the credentials' %s", cfg.Filter, c.Subjects[0])
	}
	req := consumerRequest{Filter: cfg.Filter}
	if cfg.Replace {
		switch {
		case cfg.StartAtEnd:
			req.Deliver = "new"
		case !cfg.StartTime.IsZero():
			req.Deliver, req.StartTime = "time", cfg.StartTime
		case cfg.StartSeq > 1:
			req.Deliver, req.StartSeq = "seq", cfg.StartSeq
		default:
			req.Deliver = "all"
		}
	}
	body, _ := json.Marshal(req)
	service := c.ConsumerService
	if service == "" {
		service = "ledger.consumers." + c.Durable
	}
	m, err := nc.RequestWithContext(ctx, service, body)
	if err != nil {
		return nil, false, fmt.Errorf("subscriber: the ledger's consumer service (%s): %w", service, err)
	}
	var ans consumerAnswer
	if err := json.Unmarshal(m.Data, &ans); err != nil {
		return nil, false, fmt.Errorf("subscriber: the ledger's consumer service answered %q", m.Data)
	}
	if ans.Error != nil {
		return nil, false, fmt.Errorf("subscriber: consumer %s: %s: %s", c.Durable, ans.Error.Code, ans.Error.Message)
	}
	cons, err := js.Consumer(ctx, Stream, c.Durable)
	if err != nil {
		return nil, false, fmt.Errorf("subscriber: consumer %s: %w", c.Durable, err)
	}
	info := cons.CachedInfo()
	fromStart := info.Delivered.Stream == 0 && info.Config.DeliverPolicy == jetstream.DeliverAllPolicy
	return cons, fromStart, nil
}

// within reports whether filter lies inside subjects (a "…>" pattern).
func within(filter, subjects string) bool {
	base, ok := strings.CutSuffix(subjects, ">")
	return ok && strings.HasPrefix(filter, base) && len(filter) > len(base)
}

// run is one Run's state.
type run struct {
	cfg     Config
	handle  func(context.Context, Event) error
	v       *verifier
	queue   []*message    // received, in stream order, not yet handed on
	last    jetstream.Msg // the last message handled, not yet acknowledged
	unacked int
}

// idleWait is how long the consumer waits for a message before it counts
// the stream as idle: pending events are then settled and acknowledged.
const idleWait = 200 * time.Millisecond

func (r *run) loop(ctx context.Context, cons jetstream.Consumer) (err error) {
	it, err := cons.Messages(jetstream.PullMaxMessages(1000))
	if err != nil {
		return fmt.Errorf("subscriber: %w", err)
	}
	stop := make(chan struct{})
	in, fetching := r.fetch(ctx, it, stop)
	defer func() {
		close(stop)
		it.Stop()
		<-fetching
	}()
	// Events received or pulled ahead but not handled stay unacknowledged:
	// the next run starts again right after the last acknowledged one
	// (open), in stream order. Whatever was handled is acknowledged on
	// every way out, a handler's error included.
	defer func() {
		if aerr := r.ackLast(ctx); err == nil {
			err = aerr
		}
	}()
	for ctx.Err() == nil {
		var f *fetched
		select {
		case f = <-in:
		case <-ctx.Done():
			return nil
		}
		switch {
		case f == nil: // the fetching ended: with ctx, or the iterator closed under it
			if ctx.Err() != nil {
				return nil
			}
			return errors.New("subscriber: the consumer's messages ended")
		case f.err != nil:
			return fmt.Errorf("subscriber: %w", f.err)
		case f.idle:
			if done, err := r.idle(ctx, cons); done || err != nil {
				return err
			}
		default:
			<-f.done
			r.receive(f)
			if err := r.deliver(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// fetched is a message read from the consumer and the precheck of it, done
// on one of the checking goroutines (done is closed then); or the end of a
// wait: idle (nothing came within idleWait) or err.
type fetched struct {
	m    *message
	sig  string
	pre  precheck
	done chan struct{}
	idle bool
	err  error
}

// fetch reads the consumer on a goroutine of its own and hands the messages
// on in stream order, each prechecked (decoded, hashed, its signature
// checked) by one of GOMAXPROCS checking goroutines, so that the costly
// checks of many messages run at once while the chain checks and the
// handler follow stream order. It stops when stop is closed or ctx is done;
// the second channel is closed once it has.
func (r *run) fetch(ctx context.Context, it jetstream.MessagesContext, stop <-chan struct{}) (<-chan *fetched, <-chan struct{}) {
	in := make(chan *fetched, 512)
	work := make(chan *fetched, 512)
	ended := make(chan struct{})
	for range max(runtime.GOMAXPROCS(0), 1) {
		go func() {
			for f := range work {
				f.pre = r.v.precheck(f.m, f.sig)
				close(f.done)
			}
		}()
	}
	go func() {
		defer close(ended)
		defer close(work)
		defer close(in)
		for ctx.Err() == nil {
			msg, err := it.Next(jetstream.NextMaxWait(idleWait)) // ctx is looked at between messages
			var f *fetched
			switch {
			case err == nil:
				m := &message{subject: msg.Subject(), data: msg.Data(), msg: msg}
				if meta, err := msg.Metadata(); err == nil {
					m.seq = meta.Sequence.Stream
				}
				f = &fetched{m: m, sig: msg.Headers().Get(events.SignatureHeader), done: make(chan struct{})}
				select {
				case work <- f:
				case <-stop:
					return
				}
			case ctx.Err() != nil:
				return
			case errors.Is(err, jetstream.ErrMsgIteratorClosed):
				select {
				case <-stop: // closed by loop, on its way out
					return
				default: // closed under it: say why
					f = &fetched{err: err}
				}
			case errors.Is(err, nats.ErrTimeout):
				f = &fetched{idle: true}
			default:
				f = &fetched{err: err}
			}
			select {
			case in <- f:
			case <-stop:
				return
			}
			if f.err != nil {
				return
			}
		}
	}()
	return in, ended
}

// idle settles what can no longer be vouched for, delivers and acknowledges
// it, and reports whether a StopWhenIdle run is done.
func (r *run) idle(ctx context.Context, cons jetstream.Consumer) (bool, error) {
	if len(r.queue) > 0 {
		r.v.expire(r.queue[len(r.queue)-1].seq)
	}
	if err := r.deliver(ctx); err != nil {
		return false, err
	}
	if err := r.ackSoon(ctx); err != nil {
		return false, err
	}
	if !r.cfg.StopWhenIdle || len(r.queue) > 0 {
		return false, nil
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return false, fmt.Errorf("subscriber: %w", err)
	}
	return info.NumPending == 0 && info.NumAckPending == 0, nil
}

// receive verifies one prechecked message, in stream order, and queues it.
func (r *run) receive(f *fetched) {
	m := f.m
	r.v.add(m, f.pre)
	r.queue = append(r.queue, m)
	if m.seq > vouchWindow {
		r.v.expire(m.seq - vouchWindow)
	}
}

// deliver hands the settled head of the queue on, in stream order.
func (r *run) deliver(ctx context.Context) error {
	for len(r.queue) > 0 && r.queue[0].settled {
		m := r.queue[0]
		switch {
		case m.broken != "":
			if r.cfg.OnBreak != nil {
				r.cfg.OnBreak(Break{Seq: m.seq, Subject: m.subject, Reason: m.broken})
			}
		case len(r.cfg.Types) == 0 || slices.Contains(r.cfg.Types, m.typ):
			ev := Event{Seq: m.seq, Subject: m.subject, Type: m.typ, Known: m.known, Event: m.event, Raw: m.data}
			if err := r.handle(ctx, ev); err != nil {
				return err
			}
		}
		r.queue = r.queue[1:]
		r.last = m.msg
		r.unacked++
		if r.unacked >= r.cfg.AckEvery {
			if err := r.ackSoon(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// ackTimeout bounds the wait for the server to confirm an acknowledgement.
const ackTimeout = 5 * time.Second

// ackLast acknowledges every event up to the last one handled and waits
// for the server to confirm it: an event counts as acknowledged only once
// the consumer has recorded it, so a run that stops, or a next run that
// starts at once, never sees it again (a plain Ack may still be in flight
// when the next run reads the consumer's ack floor). It works after ctx is
// done, so that a cancelled run still records what it handled.
func (r *run) ackLast(ctx context.Context) error {
	if r.last == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ackTimeout)
	defer cancel()
	if err := r.last.DoubleAck(ctx); err != nil {
		return fmt.Errorf("subscriber: ack: %w", err)
	}
	r.last, r.unacked = nil, 0
	return nil
}

// ackSoon is ackLast while the run goes on: an acknowledgement the server
// did not confirm in time (a reconnect, or an election of the consumer's
// leader, can take longer) is not an error yet; the events stay to be
// acknowledged with the next ones, or on the way out, where it must succeed.
func (r *run) ackSoon(ctx context.Context) error {
	err := r.ackLast(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) {
		return nil
	}
	return err
}
