package ledger_test

import (
	"testing"

	"github.com/nats-io/nats-server/v2/server"
)

// The configuration docker-compose.yml gives an external NATS server keeps
// the embedded server's durability: every write synced (sync_interval: always).
func TestComposeNATSConfig(t *testing.T) {
	opts, err := server.ProcessConfigFile("../docs/nats-server.conf")
	if err != nil {
		t.Fatalf("docs/nats-server.conf: %v", err)
	}
	if !opts.JetStream || !opts.SyncAlways {
		t.Errorf("jetstream %v, sync always %v; want both true", opts.JetStream, opts.SyncAlways)
	}
}
