package server

import (
	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/entledger/ledger/auth"
)

// serveSubscribers starts the ledger's NATS services (callout.go) when it
// holds the callout key: always with the embedded server, on a cluster when
// configured (Config.NATSCalloutKey). They stop with the connection.
func (s *Server) serveSubscribers() error {
	if s.conn.secrets.CalloutKey == nil {
		s.logger.Info("no nats callout key (--nats-callout-key-file or " + EnvCalloutKey + "): subscribers cannot connect through this ledger")
		return nil
	}
	_, err := serveNATS(s.conn.NC, s.ledger, s.conn.secrets.CalloutKey, s.logger)
	return err
}

// disconnectSubscriber closes the embedded server's connections of a
// revoked subscriber. (On servers the ledger does not run, the revocation
// deletes the subscriber's consumer and the next connect is refused, but an
// open connection stays until it drops, and a live subscription of it to
// its account's subjects keeps receiving events: the operator closes it
// with the system user, docs/operations.md.)
func (s *Server) disconnectSubscriber(tokenID string) {
	ns := s.conn.Embedded
	if ns == nil {
		return
	}
	conns, err := ns.Connz(&natsserver.ConnzOptions{Username: true, Account: auth.SubscriberAccount, Limit: 1 << 16})
	if err != nil {
		s.logger.Warn("could not list the subscribers' connections", "err", err)
		return
	}
	for _, ci := range conns.Conns {
		if ci.AuthorizedUser == tokenID {
			s.logger.Info("disconnecting a revoked subscriber", "token_id", tokenID)
			ns.DisconnectClientByID(ci.Cid)
		}
	}
}
