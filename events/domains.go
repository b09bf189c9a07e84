package events

// Domain claims (A5, S2): an account that claims an email domain is the
// only one in which emails of that domain can be registered from then on.
// The claim is recorded on ledger.events._global.domain.<domain>, outside
// every account, like the emails' owners (A2).

const (
	TypeDomainClaimed  = "domain.claimed"
	TypeDomainReleased = "domain.released"
)

// DomainClaimed: on the _global account, Account has claimed Domain: only
// it may register emails of that domain.
type DomainClaimed struct {
	Domain  string `json:"domain"`
	Account string `json:"account"`
}

// DomainReleased: on the _global account, Account's claim of Domain ended.
type DomainReleased struct {
	Domain  string `json:"domain"`
	Account string `json:"account"`
}

func (DomainClaimed) EventType() string  { return TypeDomainClaimed }
func (DomainReleased) EventType() string { return TypeDomainReleased }
func (DomainClaimed) Aggregate() string  { return AggregateDomain }
func (DomainReleased) Aggregate() string { return AggregateDomain }

func (d DomainClaimed) validate() error  { return domainClaim(d.Domain, d.Account) }
func (d DomainReleased) validate() error { return domainClaim(d.Domain, d.Account) }

func domainClaim(domain, account string) error {
	if !validDomain(domain) {
		return match("domain", domain, domainRe)
	}
	return accountID("account", account)
}

// ValidDomain reports whether d is an email domain as the ledger accepts
// and stores it: two or more labels of a-z, 0-9 and '-' (domainPattern;
// an internationalised domain in its xn-- form).
func ValidDomain(d string) bool { return validDomain(d) }

// EmailDomain is the domain of an email ("" without an '@').
func EmailDomain(email string) string {
	for i := len(email) - 1; i >= 0; i-- {
		if email[i] == '@' {
			return email[i+1:]
		}
	}
	return ""
}

// DomainSubject is the subject of a domain's claims, in GlobalAccount.
func DomainSubject(domain string) string { return Subject(GlobalAccount, AggregateDomain, domain) }
