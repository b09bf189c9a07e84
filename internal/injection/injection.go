// Package injection tries, as a NATS client that is not the ledger, to make
// the server write into the ledger's stream or buckets (rule S6): it sends
// every JetStream API request and acknowledgement a client could address,
// each with reply subjects on ledger subjects, on the buckets and on the
// JetStream API itself, since JetStream publishes its answer to a request's
// reply subject inside the account the request is served in, and NATS
// checks no permission on a reply subject. It is for tests only: the caller
// checks afterwards that nothing landed.
package injection

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// Targets are the reply subjects the probe asks the server to publish to:
// another tenant's licence, the tokens of _global, a usage shard, the
// ledger's key-value bucket, and JetStream API requests that would delete
// or purge the stream if the server published them in its account.
func Targets(victim string) []string {
	return []string{
		"ledger.events." + victim + ".license.P-2",
		"ledger.events._global.token.01aaaaaaaaaaaaaaaaaaaaaaaa",
		"ledger.events." + victim + ".usage.microstation.0",
		"ledger.events." + victim + ".user.mallory@x%2Eexample",
		"$KV.LEDGER_ANSWERS.probe",
		"$JS.API.STREAM.DELETE.LEDGER",
		"$JS.API.STREAM.PURGE.LEDGER",
		"$JS.API.STREAM.MSG.DELETE.LEDGER",
	}
}

// Subjects are the request subjects the probe sends, for a client whose
// consumer is durable and whose JetStream API prefix is prefix (besides
// the default one, $JS.API): every JetStream API request naming the stream
// LEDGER, the client's consumer or another one, the acknowledgement and
// flow-control subjects, the ledger's consumer service, the buckets' API
// and the auth callout.
func Subjects(durable, prefix string) []string {
	var out []string
	for _, api := range []string{"$JS.API", prefix} {
		for _, s := range []string{
			"INFO", "STREAM.NAMES", "STREAM.LIST", "STREAM.CREATE.LEDGER", "STREAM.UPDATE.LEDGER", "STREAM.INFO.LEDGER",
			"STREAM.DELETE.LEDGER", "STREAM.PURGE.LEDGER", "STREAM.MSG.GET.LEDGER", "STREAM.MSG.DELETE.LEDGER",
			"STREAM.SNAPSHOT.LEDGER", "STREAM.RESTORE.LEDGER", "STREAM.LEADER.STEPDOWN.LEDGER", "STREAM.PEER.REMOVE.LEDGER",
			"DIRECT.GET.LEDGER", "DIRECT.GET.LEDGER.ledger.events.x.license.P-1",
			"CONSUMER.NAMES.LEDGER", "CONSUMER.LIST.LEDGER", "CONSUMER.CREATE.LEDGER",
			"CONSUMER.CREATE.LEDGER." + durable, "CONSUMER.CREATE.LEDGER." + durable + ".ledger.events.>",
			"CONSUMER.DURABLE.CREATE.LEDGER." + durable, "CONSUMER.INFO.LEDGER." + durable, "CONSUMER.INFO.LEDGER.other",
			"CONSUMER.MSG.NEXT.LEDGER." + durable, "CONSUMER.MSG.NEXT.LEDGER.other", "CONSUMER.DELETE.LEDGER." + durable,
			"CONSUMER.PAUSE.LEDGER." + durable, "CONSUMER.RESET.LEDGER." + durable, "CONSUMER.UNPIN.LEDGER." + durable,
			"CONSUMER.LEADER.STEPDOWN.LEDGER." + durable,
			"STREAM.INFO.KV_LEDGER_ANSWERS", "STREAM.MSG.GET.KV_LEDGER_ANSWERS", "DIRECT.GET.KV_LEDGER_ANSWERS",
			"STREAM.PURGE.KV_LEDGER_ANSWERS", "STREAM.DELETE.KV_LEDGER_ANSWERS",
			"ACCOUNT.PURGE.LEDGER", "META.LEADER.STEPDOWN", "SERVER.REMOVE",
		} {
			out = append(out, api+"."+s)
		}
	}
	return append(out,
		"$JS.ACK.LEDGER."+durable+".1.1.1.0.0", "$JS.ACK.LEDGER."+durable+".1.2.2.0.0",
		"$JS.ACK.LEDGER.other.1.1.1.0.0", "$JS.FC.LEDGER.x", "$JS.SNAPSHOT.ACK.LEDGER.x",
		"ledger.consumers."+durable, "ledger.consumers.other_x_01aaaaaaaaaaaaaaaaaaaaaaaa",
		"$KV.LEDGER_ANSWERS.probe", "$SYS.REQ.USER.AUTH", "$SYS.REQ.SERVER.PING",
	)
}

// payload is a request body that makes each request as effective as it
// can be: a consumer's configuration that delivers to a target, a batch
// for the next messages, a snapshot that delivers to a target.
func payload(subject, durable, target string) []byte {
	var v any
	switch {
	case strings.Contains(subject, "CONSUMER.CREATE") || strings.Contains(subject, "CONSUMER.DURABLE.CREATE"):
		v = map[string]any{"stream_name": "LEDGER", "config": map[string]any{"durable_name": durable, "deliver_subject": target,
			"filter_subject": "ledger.events.>", "ack_policy": "none", "deliver_policy": "all"}}
	case strings.Contains(subject, "MSG.NEXT"):
		v = map[string]any{"batch": 5, "expires": int64(200 * time.Millisecond)}
	case strings.Contains(subject, "SNAPSHOT"):
		v = map[string]any{"deliver_subject": target, "chunk_size": 1024}
	case strings.Contains(subject, "ledger.consumers."):
		v = map[string]any{"deliver": "all"}
	case strings.Contains(subject, "MSG.GET") || strings.Contains(subject, "DIRECT.GET"):
		v = map[string]any{"seq": 1}
	default:
		return []byte("{}")
	}
	b, _ := json.Marshal(v)
	return b
}

// Probe sends every subject of Subjects with every reply target of
// Targets, and plain publishes to each target, through nc, then a
// round trip so the server has read them all. It returns what it tried,
// as "subject reply=target" lines. Errors of the connection (permission
// violations) are expected and ignored.
func Probe(nc *nats.Conn, durable, prefix, victim string) ([]string, error) {
	var tried []string
	targets := Targets(victim)
	for _, subj := range Subjects(durable, prefix) {
		for _, target := range targets {
			if err := nc.PublishRequest(subj, target, payload(subj, durable, target)); err != nil {
				return tried, fmt.Errorf("injection: %s: %w", subj, err)
			}
			tried = append(tried, subj+" reply="+target)
		}
	}
	for _, target := range targets {
		if err := nc.Publish(target, []byte(`{"specversion":"1.0"}`)); err != nil {
			return tried, err
		}
		tried = append(tried, target+" (publish)")
	}
	return tried, nc.Flush()
}
