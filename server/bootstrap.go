package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/entledger/ledger/auth"
	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/ledger"
)

// AdminTokenFile is where the first start on an empty stream writes the
// admin token it creates: the one plain copy of a token (S3), readable by
// its owner only.
func AdminTokenFile(dataDir string) string { return filepath.Join(dataDir, "admin.token") }

// bootstrapAdmin creates an admin token when the stream holds no token at
// all, and writes it to AdminTokenFile: secure by default, and still one
// command to start. A stream that has ever held a token never gets another
// this way, so a rebuild, a restart or a second process mints nothing.
// The first token's id is derived from the stream's identity, so two
// processes starting at the same moment on an empty stream create one
// token between them: the loser's create conflicts, and it writes no file.
func (s *Server) bootstrapAdmin(ctx context.Context, dataDir string) error {
	has, err := s.ledger.HasTokens(ctx)
	if err != nil || has {
		return err
	}
	info := s.conn.Stream.CachedInfo()
	if info == nil {
		if info, err = s.conn.Stream.Info(ctx); err != nil {
			return fmt.Errorf("server: creating the first admin token: %w", err)
		}
	}
	id := bootstrapTokenID(StreamIdentity(info))
	token := auth.WithID(id)
	for attempt := 1; ; attempt++ {
		_, err = s.ledger.CreateTokenWithSecret(ctx, ledger.Meta{Actor: "ledger"}, id, token, "bootstrap admin", events.RoleAdmin, "")
		if rej, ok := errors.AsType[*commands.Error](err); ok && rej.Code == commands.CodeConflict {
			if _, aerr := s.ledger.Authenticate(ctx, token); aerr != nil {
				s.logger.Info("another ledger created the first admin token at the same moment: use its admin.token")
				return nil
			}
			err = nil // an earlier try of ours landed, its answer did not
		}
		if err == nil {
			break
		}
		// On a cluster, a stream whose replicas another process is raising
		// may leave an append unanswered for a moment.
		if attempt == 3 || ctx.Err() != nil || !transient(err) {
			return fmt.Errorf("server: creating the first admin token: %w", err)
		}
		s.logger.Warn("creating the first admin token: no answer; trying again", "attempt", attempt, "err", err)
	}
	path := AdminTokenFile(dataDir)
	if err := WriteSecretFile(path, token+"\n"); err != nil {
		return fmt.Errorf("server: writing the first admin token (recover with `ledger token create --role admin --data %s`): %w",
			dataDir, err)
	}
	s.logger.Info("created the first admin token: use it with -H \"Authorization: Bearer $(cat FILE)\"", "file", path,
		"token_id", id)
	return nil
}

// bootstrapTokenID is the id of the first admin token of the stream named
// identity (StreamIdentity): 26 hex digits of its SHA-256, a valid token id
// that no other stream's first token shares.
func bootstrapTokenID(identity string) string {
	sum := sha256.Sum256([]byte("ledger bootstrap admin token\x00" + identity))
	return hex.EncodeToString(sum[:13])
}

// WriteSecretFile writes content to path readable by its owner only,
// replacing the file whole (a reader never sees half of it).
func WriteSecretFile(path, content string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".secret-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.WriteString(content); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
