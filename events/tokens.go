package events

// Roles of an API token (S1).
const (
	RoleAdmin        = "admin"         // everything, every account
	RoleAccountAdmin = "account_admin" // one account's admin commands and reads
	RoleAuditor      = "auditor"       // read-only: one account, or every account
	RoleIngest       = "ingest"        // one account: sessions, checks and usage only
	RoleSubscriber   = "subscriber"    // NATS credentials: read one account's events, or every account's (S5)
)

// TokenCreated: an API token was issued (S1, S3). Only a SHA-256 of the
// secret is stored; the secret itself is shown once, to whoever created it.
// Account is "" for a token that reaches every account (admin, or an
// auditor of every account).
type TokenCreated struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Role       string `json:"role"`
	Account    string `json:"account"`
	SecretHash string `json:"secret_hash"`
}

// TokenRevoked: the token can no longer act, from this event on.
type TokenRevoked struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

func (TokenCreated) EventType() string { return TypeTokenCreated }
func (TokenRevoked) EventType() string { return TypeTokenRevoked }
func (TokenCreated) Aggregate() string { return AggregateToken }
func (TokenRevoked) Aggregate() string { return AggregateToken }
