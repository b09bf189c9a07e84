package server

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/entledger/ledger/auth"
	"github.com/entledger/ledger/events"
)

// LedgerNATSUser is the NATS user the ledger itself connects as to an
// embedded server that listens (S4, S5). Its password is in
// LedgerNATSPasswordFile; another ledger process sharing the stream
// connects with both (nats://ledger:PASSWORD@host:port).
const LedgerNATSUser = "ledger"

// LedgerNATSPasswordFile holds the password of LedgerNATSUser, readable by
// its owner only, made on the first start that listens.
func LedgerNATSPasswordFile(dataDir string) string {
	return filepath.Join(dataDir, "keys", "nats-ledger.password")
}

// LedgerNATSURL is url (nats://host:port) with the ledger's own NATS user
// and password from dataDir: how a second ledger process on the same stream
// reaches a first one's embedded listener.
func LedgerNATSURL(url, dataDir string) (string, error) {
	raw, err := os.ReadFile(LedgerNATSPasswordFile(dataDir))
	if err != nil {
		return "", err
	}
	rest, ok := strings.CutPrefix(url, "nats://")
	if !ok {
		return "", fmt.Errorf("server: %q is not a nats:// URL", url)
	}
	return "nats://" + LedgerNATSUser + ":" + strings.TrimSpace(string(raw)) + "@" + rest, nil
}

// loadOrCreatePassword reads the password at path, or makes one.
func loadOrCreatePassword(path string) (string, error) {
	raw, err := os.ReadFile(path)
	if err == nil {
		if pw := strings.TrimSpace(string(raw)); len(pw) >= 32 {
			return pw, nil
		}
		return "", fmt.Errorf("server: %s holds no password", path)
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	pw := hex.EncodeToString(b)
	return pw, WriteSecretFile(path, pw+"\n")
}

// subscriberLookup authenticates a subscriber's token (nil before the
// ledger can read its projections).
type subscriberLookup func(token string) (auth.Principal, bool)

// natsAuth admits the ledger with its password, with every right, and
// subscribers with their token, with the allow-list of
// auth.SubscriberPermissions; nobody else.
type natsAuth struct {
	ledgerPassword string
	subscribers    atomic.Pointer[subscriberLookup]
}

// setSubscribers starts admitting subscribers.
func (a *natsAuth) setSubscribers(lookup subscriberLookup) { a.subscribers.Store(&lookup) }

// Check implements natsserver.Authentication.
func (a *natsAuth) Check(c natsserver.ClientAuthentication) bool {
	o := c.GetOpts()
	if o.Username == LedgerNATSUser {
		if subtle.ConstantTimeCompare([]byte(o.Password), []byte(a.ledgerPassword)) != 1 {
			return false
		}
		c.RegisterUser(&natsserver.User{Username: LedgerNATSUser})
		return true
	}
	lookup := a.subscribers.Load()
	if lookup == nil || o.Username == "" {
		return false
	}
	p, ok := (*lookup)(o.Password)
	if !ok || p.ID != o.Username || p.Role != events.RoleSubscriber {
		return false
	}
	perms := auth.SubscriberPermissions(p.ID, p.Account, p.Name)
	c.RegisterUser(&natsserver.User{Username: p.ID, Permissions: &natsserver.Permissions{
		Publish:   &natsserver.SubjectPermission{Allow: perms.Publish},
		Subscribe: &natsserver.SubjectPermission{Allow: perms.Subscribe},
	}})
	return true
}

// admitSubscribers lets the embedded listener (if any) admit subscribers
// by their tokens, and disconnects a subscriber as soon as its token is
// revoked (as this process has applied it).
func (s *Server) admitSubscribers() {
	if s.conn.auth == nil {
		return
	}
	l := s.ledger
	s.conn.auth.setSubscribers(func(token string) (auth.Principal, bool) {
		p, err := l.Authenticate(s.followCtx, token)
		return p, err == nil
	})
	go s.disconnectRevoked()
}

// revokedPoll is how often the embedded listener's subscribers are checked
// against their tokens.
const revokedPoll = time.Second

// disconnectRevoked closes, until Close, the connection of every subscriber
// whose token was revoked since it connected: a revocation ends reading
// too, not only the next connect.
func (s *Server) disconnectRevoked() {
	t := time.NewTicker(revokedPoll)
	defer t.Stop()
	for {
		select {
		case <-s.followCtx.Done():
			return
		case <-t.C:
		}
		conns, err := s.conn.Embedded.Connz(&natsserver.ConnzOptions{Username: true, Limit: 1 << 20})
		if err != nil {
			continue
		}
		for _, ci := range conns.Conns {
			if ci.AuthorizedUser == "" || ci.AuthorizedUser == LedgerNATSUser {
				continue
			}
			if tok, err := s.store.Token(ci.AuthorizedUser); err == nil && tok.Revoked {
				s.logger.Info("disconnecting a subscriber whose token was revoked", "token_id", ci.AuthorizedUser)
				s.conn.Embedded.DisconnectClientByID(ci.Cid)
			}
		}
	}
}
