package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/entledger/ledger/auth"
	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
)

// Subscribers' consumers (S5, S6). A subscriber reads one durable pull
// consumer of the stream, named for its token (auth.Durable), filtered to
// its subjects. Only the ledger creates and deletes it: a consumer's
// configuration names subjects the server publishes to inside the
// stream's account (a push consumer's deliver subject), so a subscriber
// that could send one could write into the stream.

// ConsumerStart says where a subscriber's consumer starts, and what it
// reads.
type ConsumerStart struct {
	// Deliver is "" to resume (keep the consumer if it exists, make one
	// that delivers everything if not), or "all", "new", "seq" (from
	// StartSeq) or "time" (from StartTime), which make it anew.
	Deliver   string    `json:"deliver,omitempty"`
	StartSeq  uint64    `json:"start_seq,omitempty"`
	StartTime time.Time `json:"start_time,omitzero"`
	// Filter narrows the subscriber's subjects, e.g.
	// ledger.events.acme.license.>; "" reads them all.
	Filter string `json:"filter,omitempty"`
}

// SubscriberConsumer is a subscriber's consumer as OpenSubscriberConsumer
// left it.
type SubscriberConsumer struct {
	Durable string `json:"durable"`
	Filter  string `json:"filter"`
	Created bool   `json:"created"` // made (anew) by this call
}

// activeSubscriber is the subscriber token of durable, read from the
// stream itself: a process whose projections lag must not serve a
// subscriber another process has just revoked.
func (l *Ledger) activeSubscriber(ctx context.Context, durable string) (commands.Token, error) {
	id, ok := auth.DurableToken(durable)
	if !ok {
		return commands.Token{}, commands.Reject(commands.CodeNotFound, "no subscriber has consumer %q", durable)
	}
	t, err := l.tokenOnStream(ctx, id)
	if err != nil {
		return t, err
	}
	if !t.Exists() || t.Revoked || t.Role != events.RoleSubscriber || auth.Durable(t.Account, t.Name, t.ID) != durable {
		return commands.Token{}, commands.Reject(commands.CodeNotFound, "no subscriber has consumer %q", durable)
	}
	return t, nil
}

// OpenSubscriberConsumer makes or keeps the consumer of the subscriber
// whose durable it is, starting where start says. A consumer left with
// events delivered but not acknowledged (a run stopped or killed) is made
// again from the first unacknowledged event: JetStream would deliver new
// events first and those only after their acknowledgement wait, out of
// stream order.
func (l *Ledger) OpenSubscriberConsumer(ctx context.Context, durable string, start ConsumerStart) (SubscriberConsumer, error) {
	t, err := l.activeSubscriber(ctx, durable)
	if err != nil {
		return SubscriberConsumer{}, err
	}
	subjects := auth.Subjects(t.Account)
	filter := start.Filter
	if filter == "" {
		filter = subjects
	}
	if !auth.Within(filter, subjects) {
		return SubscriberConsumer{}, commands.Reject(commands.CodeInvalidArgument, "filter %s is outside the subscriber's subjects %s", filter, subjects).
			With("field", "filter")
	}
	cc := jetstream.ConsumerConfig{Durable: durable, FilterSubject: filter, AckPolicy: jetstream.AckAllPolicy,
		AckWait: time.Minute, MaxAckPending: 20000, DeliverPolicy: jetstream.DeliverAllPolicy}
	switch start.Deliver {
	case "":
		c, err := l.stream.Consumer(ctx, durable)
		switch {
		case err == nil:
			info := c.CachedInfo()
			fresh := info.Delivered.Stream == 0 && info.NumAckPending == 0 && info.Config.DeliverPolicy == jetstream.DeliverAllPolicy
			if info.Config.FilterSubject != filter && fresh {
				break // never read: made anew with the filter asked for
			}
			if info.Config.FilterSubject != filter {
				return SubscriberConsumer{}, commands.Reject(commands.CodeConflict,
					"consumer %s filters %s, not %s: start it anew (deliver all, new, seq or time) to change the filter", durable, info.Config.FilterSubject, filter).
					With("field", "filter")
			}
			if info.NumAckPending == 0 {
				return SubscriberConsumer{Durable: durable, Filter: filter}, nil
			}
			cc.DeliverPolicy, cc.OptStartSeq = jetstream.DeliverByStartSequencePolicy, info.AckFloor.Stream+1
		case !errors.Is(err, jetstream.ErrConsumerNotFound):
			return SubscriberConsumer{}, commands.Reject(commands.CodeUnavailable, "the stream did not answer: %v", err)
		}
	case "all":
	case "new":
		cc.DeliverPolicy = jetstream.DeliverNewPolicy
	case "seq":
		if start.StartSeq < 1 {
			return SubscriberConsumer{}, commands.Reject(commands.CodeInvalidArgument, "deliver seq needs start_seq of 1 or more").With("field", "start_seq")
		}
		cc.DeliverPolicy, cc.OptStartSeq = jetstream.DeliverByStartSequencePolicy, start.StartSeq
	case "time":
		if start.StartTime.IsZero() {
			return SubscriberConsumer{}, commands.Reject(commands.CodeInvalidArgument, "deliver time needs start_time").With("field", "start_time")
		}
		t := start.StartTime
		cc.DeliverPolicy, cc.OptStartTime = jetstream.DeliverByStartTimePolicy, &t
	default:
		return SubscriberConsumer{}, commands.Reject(commands.CodeInvalidArgument, "deliver %q; want all, new, seq or time, or nothing to resume", start.Deliver).
			With("field", "deliver")
	}
	if err := l.DeleteSubscriberConsumer(ctx, durable); err != nil {
		return SubscriberConsumer{}, err
	}
	if _, err := l.stream.CreateConsumer(ctx, cc); err != nil {
		return SubscriberConsumer{}, commands.Reject(commands.CodeUnavailable, "create consumer %s: %v", durable, err)
	}
	return SubscriberConsumer{Durable: durable, Filter: filter, Created: true}, nil
}

// DeleteSubscriberConsumer deletes a subscriber's consumer, if it exists:
// the subscriber's credentials then read nothing.
func (l *Ledger) DeleteSubscriberConsumer(ctx context.Context, durable string) error {
	if _, ok := auth.DurableToken(durable); !ok {
		return fmt.Errorf("ledger: %q is not a subscriber's consumer", durable)
	}
	err := l.stream.DeleteConsumer(ctx, durable)
	if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return commands.Reject(commands.CodeUnavailable, "delete consumer %s: %v", durable, err)
	}
	return nil
}

// AuthenticateSubscriber admits a subscriber's NATS connection: user is
// its token's id, password the token. The token's state is read from the
// stream, so a revocation made by any process counts at once.
func (l *Ledger) AuthenticateSubscriber(ctx context.Context, user, password string) (auth.Principal, error) {
	id, ok := auth.ID(password)
	if !ok || id != user {
		return auth.Principal{}, errUnauthenticated
	}
	t, err := l.tokenOnStream(ctx, id)
	if err != nil {
		return auth.Principal{}, err
	}
	if !t.Exists() || t.Revoked || t.Role != events.RoleSubscriber || !auth.Matches(password, t.SecretHash) {
		return auth.Principal{}, errUnauthenticated
	}
	return auth.Principal{ID: t.ID, Name: t.Name, Role: t.Role, Account: t.Account}, nil
}
