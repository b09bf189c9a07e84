package server

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/entledger/ledger/auth"
	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/ledger"
)

// The ledger's two NATS services, served by every ledger process of a
// deployment in one queue group, on its own connection (account LEDGER):
//   - the auth callout (S8): the servers ask it about every client that is
//     not one of the deployment's fixed users; it admits a subscriber's
//     token as a user of account SUBSCRIBERS with the subscriber's
//     permissions, signed by the callout key, and refuses anything else.
//     Nothing is configured per subscriber on any server, and a revoked
//     token is refused at its next connect.
//   - the consumer service (S5, S6): a subscriber (re)opens its durable
//     consumer by a request to auth.ConsumerService + its durable, the only
//     subject of the service its permissions allow.

// calloutSubject is where the servers send authorization requests.
const calloutSubject = "$SYS.REQ.USER.AUTH"

// serviceQueue is the queue group of the ledger processes' services.
const serviceQueue = "ledger"

// serviceTimeout bounds the stream reads behind one service answer.
const serviceTimeout = 5 * time.Second

type natsServices struct {
	ledger *ledger.Ledger
	key    nkeys.KeyPair // the callout key
	logger *slog.Logger
}

// serveNATS serves the ledger's NATS services on nc until it closes.
func serveNATS(nc *nats.Conn, l *ledger.Ledger, key nkeys.KeyPair, logger *slog.Logger) error {
	s := &natsServices{ledger: l, key: key, logger: logger}
	for subj, h := range map[string]nats.MsgHandler{calloutSubject: s.authorize, auth.ConsumerService + "*": s.openConsumer} {
		if _, err := nc.QueueSubscribe(subj, serviceQueue, h); err != nil {
			return err
		}
	}
	return nc.Flush()
}

// authorize answers one authorization request of a server.
func (s *natsServices) authorize(m *nats.Msg) {
	req, err := jwt.DecodeAuthorizationRequestClaims(string(m.Data))
	if err != nil {
		s.logger.Warn("nats auth callout: an undecodable request", "err", err)
		return
	}
	resp := jwt.NewAuthorizationResponseClaims(req.UserNkey)
	resp.Audience = req.Server.ID
	ctx, cancel := context.WithTimeout(context.Background(), serviceTimeout)
	defer cancel()
	user, password := req.ConnectOptions.Username, req.ConnectOptions.Password
	p, err := s.ledger.AuthenticateSubscriber(ctx, user, password)
	if err != nil {
		resp.Error = "not a subscriber of this ledger, or revoked"
		s.logger.Info("nats: refused a client", "user", user, "host", req.ClientInformation.Host)
	} else {
		uc := jwt.NewUserClaims(req.UserNkey)
		uc.Name = p.ID
		uc.Audience = auth.SubscriberAccount
		perms := auth.SubscriberPermissions(p.ID, p.Account, p.Name)
		uc.Pub.Allow.Add(perms.Publish...)
		uc.Sub.Allow.Add(perms.Subscribe...)
		if resp.Jwt, err = uc.Encode(s.key); err != nil {
			s.logger.Error("nats auth callout: sign a user", "err", err)
			return
		}
	}
	out, err := resp.Encode(s.key)
	if err != nil {
		s.logger.Error("nats auth callout: sign an answer", "err", err)
		return
	}
	m.Respond([]byte(out))
}

// consumerAnswer is the consumer service's answer: the consumer, or an
// error as the HTTP API words it.
type consumerAnswer struct {
	*ledger.SubscriberConsumer
	Error *serviceError `json:"error,omitempty"`
}

type serviceError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// openConsumer answers one request of a subscriber to (re)open its
// consumer.
func (s *natsServices) openConsumer(m *nats.Msg) {
	durable := strings.TrimPrefix(m.Subject, auth.ConsumerService)
	var start ledger.ConsumerStart
	var ans consumerAnswer
	if len(m.Data) > 0 {
		if err := json.Unmarshal(m.Data, &start); err != nil {
			ans.Error = &serviceError{Code: commands.CodeMalformedJSON, Message: "the request is not a JSON object of deliver, start_seq, start_time, filter: " + err.Error()}
		}
	}
	if ans.Error == nil {
		ctx, cancel := context.WithTimeout(context.Background(), serviceTimeout)
		defer cancel()
		c, err := s.ledger.OpenSubscriberConsumer(ctx, durable, start)
		var rej *commands.Error
		switch {
		case err == nil:
			ans.SubscriberConsumer = &c
		case errors.As(err, &rej):
			ans.Error = &serviceError{Code: rej.Code, Message: rej.Message}
		default:
			s.logger.Error("nats consumer service", "durable", durable, "err", err)
			ans.Error = &serviceError{Code: commands.CodeUnavailable, Message: "the ledger could not open the consumer; retry"}
		}
	}
	out, _ := json.Marshal(ans)
	m.Respond(out)
}
