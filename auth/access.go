package auth

import "github.com/entledger/ledger/events"

// Access is what a route asks of the token that calls it (S1, S2).
type Access int

// The access levels, from the least to the most demanding.
const (
	Public  Access = iota // no token: health, readiness, metrics, public keys
	Read                  // admin, account_admin, auditor: reads, history, reports
	Ingest                // admin, ingest: sessions, checks and usage
	Manage                // admin, account_admin: users, assignments, access, thresholds
	Vendor                // admin: accounts and licences (sold by the vendor), corrections, tokens
	ReadAll               // admin, auditor of every account: lists across accounts
)

// String names the level as docs/api.md does.
func (a Access) String() string {
	switch a {
	case Public:
		return "public"
	case Read:
		return "read"
	case Ingest:
		return "ingest"
	case Manage:
		return "manage"
	case Vendor:
		return "vendor"
	case ReadAll:
		return "read-all"
	}
	return "unknown"
}

// Principal is the identity of an authenticated token.
type Principal struct {
	ID      string
	Name    string
	Role    string
	Account string // "": every account
}

// Actor is the principal as events name it (S3).
func (p Principal) Actor() string { return "token:" + p.ID }

// Reaches reports whether the principal may see account at all (S2).
func (p Principal) Reaches(account string) bool { return p.Account == "" || p.Account == account }

// May reports whether the principal's role grants access a (S1).
func (p Principal) May(a Access) bool {
	switch a {
	case Public:
		return true
	case Read:
		return p.Role == events.RoleAdmin || p.Role == events.RoleAccountAdmin || p.Role == events.RoleAuditor
	case Ingest:
		return p.Role == events.RoleAdmin || p.Role == events.RoleIngest
	case Manage:
		return p.Role == events.RoleAdmin || p.Role == events.RoleAccountAdmin
	case Vendor:
		return p.Role == events.RoleAdmin
	case ReadAll:
		return p.Account == "" && (p.Role == events.RoleAdmin || p.Role == events.RoleAuditor)
	}
	return false
}
