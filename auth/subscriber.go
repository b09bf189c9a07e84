package auth

import "github.com/entledger/ledger/events"

// Subscriber NATS credentials (S5): the user is the token's id, the
// password the whole token. What they may do is an allow-list of subjects:
// anything not listed, such as publishing to a ledger subject, deleting,
// purging or changing the stream, the ledger's key-value buckets, listing
// consumers or reading another account's subjects, is refused by the NATS
// server itself.

// StreamName is the stream subscribers read.
const StreamName = "LEDGER"

// Durable is the one consumer name a subscriber's credentials may create,
// read and delete: the account, then the subscriber's name ("_all" for a
// subscriber of every account). Account ids never contain '_', so no two
// subscribers share it.
func Durable(account, name string) string {
	if account == "" {
		return "_all_" + name
	}
	return account + "_" + name
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

// Permissions is what a subscriber may publish and subscribe to.
type Permissions struct {
	Publish   []string `json:"publish"`
	Subscribe []string `json:"subscribe"`
}

// SubscriberPermissions is the allow-list of a subscriber of account ("":
// every account) with token id and name: its own events, live or through
// its one durable consumer filtered to them, and the replies to its own
// requests. A subscriber of every account may also read the stream's info
// (it sees every subject anyway).
func SubscriberPermissions(id, account, name string) Permissions {
	d, api := Durable(account, name), "$JS.API."
	p := Permissions{
		Publish: []string{
			api + "CONSUMER.CREATE." + StreamName + "." + d + "." + Subjects(account),
			api + "CONSUMER.INFO." + StreamName + "." + d,
			api + "CONSUMER.MSG.NEXT." + StreamName + "." + d,
			api + "CONSUMER.DELETE." + StreamName + "." + d,
			"$JS.ACK." + StreamName + "." + d + ".>",
			"$JS.ACK.*.*." + StreamName + "." + d + ".>", // the v2 form, with domain and account hash
		},
		Subscribe: []string{Subjects(account), InboxPrefix(id) + ".>"},
	}
	if account == "" {
		p.Publish = append(p.Publish, api+"STREAM.INFO."+StreamName)
	}
	return p
}
