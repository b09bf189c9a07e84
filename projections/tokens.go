package projections

import (
	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
)

// tokenKey is present for every API token ever created: tk/<id>.
func tokenKey(id string) []byte { return []byte("tk/" + id) }

// Token returns an API token's state (the zero Token if it never existed).
func (s *Store) Token(id string) (commands.Token, error) {
	t, _, err := Load[commands.Token](s, events.TokenSubject(id))
	return t, err
}

// Tokens returns every API token ever created, revoked ones included, by id.
func (s *Store) Tokens() ([]commands.Token, error) {
	ids, err := s.keysAfter([]byte("tk/"))
	if err != nil {
		return nil, err
	}
	out := make([]commands.Token, 0, len(ids))
	for _, id := range ids {
		t, err := s.Token(id)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}
