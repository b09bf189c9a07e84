package api

import (
	"net/http"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
)

// eventKey answers the public key that verifies every event's
// Ledger-Signature header, for auditors and subscribers.
func (a *API) eventKey(w http.ResponseWriter, r *http.Request) error {
	pub := a.l.EventKey()
	if pub == nil {
		return commands.Reject(commands.CodeNotFound, "this ledger does not sign its events")
	}
	writeJSON(w, http.StatusOK, map[string]string{
		"algorithm": "Ed25519", "key_id": events.KeyID(pub), "header": events.SignatureHeader,
		"signed": "subject + \"\\n\" + event bytes", "public_key_pem": string(events.PublicKeyPEM(pub)),
	})
	return nil
}

// checkoutKey answers the public key that verifies offline checkout tokens.
func (a *API) checkoutKey(w http.ResponseWriter, r *http.Request) error {
	pub := a.l.CheckoutKey()
	if pub == nil {
		return commands.Reject(commands.CodeNotFound, "this ledger has no checkout key")
	}
	writeJSON(w, http.StatusOK, map[string]string{
		"algorithm": "Ed25519", "key_id": events.KeyID(pub), "token_format": "LCK1.<base64url payload>.<base64url signature>",
		"signed": "\"ledger checkout token v1\\n\" + payload", "public_key_pem": string(events.PublicKeyPEM(pub)),
	})
	return nil
}
