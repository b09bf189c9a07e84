package server

import (
	"encoding/json"
	"time"

	"github.com/nats-io/nats.go"

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
	return serveNATS(s.conn.NC, s.ledger, s.conn.secrets.CalloutKey, s.logger)
}

// kickWait bounds how long the servers' answers about a revoked
// subscriber's connections are awaited.
const kickWait = time.Second

// disconnectSubscriber closes a revoked subscriber's connections on every
// server of the deployment, through the system account
// ($SYS.REQ.SERVER.PING.CONNZ, then $SYS.REQ.SERVER.<id>.KICK). The
// revocation has already deleted the subscriber's consumer, which is all
// its permissions reach but its account's live events; closing its
// connections ends those too. Without the system user's password (a
// cluster started without LEDGER_NATS_SYS_PASSWORD) the connections stay
// until they drop, and the next connect is refused.
func (s *Server) disconnectSubscriber(tokenID string) {
	nc := s.conn.Sys
	if nc == nil {
		s.logger.Warn("a revoked subscriber's live connections stay open until they drop: this ledger has no system user ("+EnvSysPassword+")",
			"token_id", tokenID)
		return
	}
	inbox := nats.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		s.logger.Warn("could not list a revoked subscriber's connections", "err", err)
		return
	}
	defer sub.Unsubscribe()
	req, _ := json.Marshal(map[string]any{"auth": true, "acc": auth.SubscriberAccount, "limit": 1 << 16})
	if err := nc.PublishRequest("$SYS.REQ.SERVER.PING.CONNZ", inbox, req); err != nil {
		s.logger.Warn("could not list a revoked subscriber's connections", "err", err)
		return
	}
	deadline := time.Now().Add(kickWait)
	for {
		m, err := sub.NextMsg(time.Until(deadline))
		if err != nil {
			return // every server that answered in time was handled
		}
		var resp struct {
			Server struct {
				ID string `json:"id"`
			} `json:"server"`
			Data struct {
				Conns []struct {
					CID  uint64 `json:"cid"`
					User string `json:"authorized_user"`
				} `json:"connections"`
			} `json:"data"`
		}
		if json.Unmarshal(m.Data, &resp) != nil {
			continue
		}
		for _, c := range resp.Data.Conns {
			if c.User != tokenID {
				continue
			}
			kick, _ := json.Marshal(map[string]uint64{"cid": c.CID})
			if _, err := nc.Request("$SYS.REQ.SERVER."+resp.Server.ID+".KICK", kick, kickWait); err != nil {
				s.logger.Warn("could not disconnect a revoked subscriber", "token_id", tokenID, "server", resp.Server.ID, "err", err)
				continue
			}
			s.logger.Info("disconnected a revoked subscriber", "token_id", tokenID, "server", resp.Server.ID)
		}
	}
}
