package auth

import (
	"strings"

	"github.com/entledger/ledger/events"
)

// Subscriber NATS credentials (S5, S6, S8): the user is the token's id, the
// password the whole token. The NATS servers ask the ledger about every
// such user (auth callout), and the ledger answers with a user of the
// SUBSCRIBERS account, which reaches the stream's account only through
// the services deploy/nats/accounts.conf exports, allowed the subjects of
// SubscriberPermissions and nothing else: not publishing to a ledger
// subject, not deleting, purging or changing the stream, not the ledger's
// key-value buckets, not listing or making consumers, not another account's
// subjects.

// StreamName is the stream subscribers read.
const StreamName = "LEDGER"

// SubscriberAccount is the NATS account of every subscriber's user.
const SubscriberAccount = "SUBSCRIBERS"

// APIPrefix is the JetStream API prefix of a subscriber's connection: its
// account imports the stream account's API under it
// (jetstream.NewWithAPIPrefix, nats --js-api-prefix).
const APIPrefix = "$LEDGER.API"

// ConsumerService is the subject prefix of the ledger's consumer service:
// a subscriber (re)opens its consumer by a request to ConsumerService +
// its durable.
const ConsumerService = "ledger.consumers."

// Durable is the one consumer a subscriber's credentials may read: the
// account ("_all" for a subscriber of every account), the subscriber's
// name and its token's id. Account ids and names never contain '_', so no
// two subscribers share it, and a subscriber made again under an old name
// never reads the old one's consumer.
func Durable(account, name, id string) string {
	if account == "" {
		account = "_all"
	}
	return account + "_" + name + "_" + id
}

// DurableToken is the token id of a subscriber's durable.
func DurableToken(durable string) (string, bool) {
	i := strings.LastIndexByte(durable, '_')
	if i < 0 || !events.TokenIDPattern.MatchString(durable[i+1:]) {
		return "", false
	}
	return durable[i+1:], true
}

// InboxPrefix is the prefix of the subscriber's reply subjects: its
// connection must use it (nats.CustomInboxPrefix), and no other subscriber
// may read it.
func InboxPrefix(id string) string { return "_INBOX_" + id }

// Subjects are the event subjects a subscriber of account reads ("" for
// every account).
func Subjects(account string) string {
	if account == "" {
		return events.SubjectPrefix + ">"
	}
	return events.SubjectPrefix + account + ".>"
}

// Within reports whether filter lies inside subjects (a "…>" pattern).
func Within(filter, subjects string) bool {
	base, ok := strings.CutSuffix(subjects, ">")
	return ok && strings.HasPrefix(filter, base) && len(filter) > len(base)
}

// Permissions is what a subscriber may publish and subscribe to.
type Permissions struct {
	Publish   []string `json:"publish"`
	Subscribe []string `json:"subscribe"`
}

// SubscriberPermissions is the allow-list of a subscriber of account ("":
// every account) with token id and name: its own events, live or through
// its one durable consumer, the ledger's consumer service for that
// consumer, and the replies to its own requests. A subscriber of every
// account may also read the stream's info (it sees every subject anyway).
func SubscriberPermissions(id, account, name string) Permissions {
	d, api := Durable(account, name, id), APIPrefix+"."
	p := Permissions{
		Publish: []string{
			api + "CONSUMER.INFO." + StreamName + "." + d,
			api + "CONSUMER.MSG.NEXT." + StreamName + "." + d,
			"$JS.ACK." + StreamName + "." + d + ".>",
			ConsumerService + d,
		},
		Subscribe: []string{Subjects(account), InboxPrefix(id) + ".>"},
	}
	if account == "" {
		p.Publish = append(p.Publish, api+"STREAM.INFO."+StreamName)
	}
	return p
}
