package api

import "github.com/entledger/ledger/events"

// operations documents every route of the OpenAPI document, keyed
// "METHOD /path" as the route is registered. A new route needs one entry,
// usually one line: its summary (with the rules it follows), the schemas
// of its body and answer (a component, ref("License"), or one built with
// the helpers of openapi_schemas.go: fields, arrayOf, page("Account")...)
// and its query parameters (keys of queryParams, or plain names).
// TestOpenAPIRoutesDocumented fails until it has one. Then regenerate
// docs/openapi.json: go test ./api -run OpenAPI -update.
var operations = map[string]operation{
	"GET /healthz": {summary: "The process is up", answer: fields("status", constant("ok"))},
	"GET /readyz": {summary: "The stream is reachable and the read models have caught up; 503 with a reason when not",
		answer: ref("Readiness"), others: map[int]schema{503: ref("Readiness")}},
	"GET /metrics": {summary: "Prometheus metrics", media: "text/plain; version=0.0.4"},

	"GET /v1/keys/events":   {summary: "The public key that verifies the events' Ledger-Signature (H3)", answer: ref("EventKey")},
	"GET /v1/keys/checkout": {summary: "The public key that verifies offline checkout tokens (F6)", answer: ref("CheckoutKey")},

	"GET /v1/schemas":                  {summary: "The event types and the schema versions served", answer: ref("SchemaList")},
	"GET /v1/schemas/envelope":         {summary: "The JSON Schema of the event envelope", media: schemaMedia, answer: ref("JSONSchema")},
	"GET /v1/schemas/{type}/{version}": {summary: "The JSON Schema of an event type's data at a schema version", media: schemaMedia, answer: ref("JSONSchema")},
	"GET /v1/openapi.json":             {summary: "This OpenAPI document", answer: schema{"type": "object"}},

	"POST /v1/accounts": {summary: "Create an account (A1)", status: 201, answer: ref("Account"),
		body: fields("id", pattern(events.AccountIDPattern.String()), "name", text(1, 200), "fulfillment_contact", email, "at?", at)},
	"GET /v1/accounts":                   {summary: "The accounts the token may see, a page at a time (S2)", answer: page("Account"), query: []string{"cursor", "limit"}},
	"GET /v1/accounts/{account}":         {summary: "An account now, or as it stood at business time as_of (A1, H4)", answer: ref("Account"), query: []string{"as_of"}},
	"GET /v1/accounts/{account}/history": {summary: "The account aggregate's events, as stored (H4)", answer: ref("History")},

	"POST /v1/accounts/{account}/users": {summary: "Register a user (A2, A3)", status: 201, answer: ref("User"),
		body: fields("email", email, "entitlement_country?", country, "at?", at)},
	"GET /v1/accounts/{account}/users": {summary: "The account's users, a page at a time", answer: page("User"), query: []string{"cursor", "limit"}},
	"GET /v1/accounts/{account}/users/{email}": {summary: "A user, with their live session; or as they stood at business time as_of (H4)",
		answer: ref("User"), query: []string{"as_of"}},
	"PATCH /v1/accounts/{account}/users/{email}": {summary: "Change a user's entitlement country (A3)", answer: ref("User"),
		body: fields("entitlement_country", country, "at?", at)},
	"DELETE /v1/accounts/{account}/users/{email}": {summary: "Remove a user (A4)", status: 204,
		body: fields("at?", at), optionalBody: true},
	"GET /v1/accounts/{account}/users/{email}/history": {summary: "The user's events, also of a removed user (H4)", answer: ref("History")},

	"POST /v1/accounts/{account}/licenses": {summary: "Create a licence (B1)", status: 201, answer: ref("License"),
		body: fields("id", pattern(events.LicenseIDPattern.String()), "kind", enum(events.KindPractitioner, events.KindCommercial, events.KindTrial),
			"products", arrayOf(pattern(events.ProductIDPattern.String())), "seats?", integer,
			"valid_from", dateTime, "valid_until", dateTime, "country?", country, "at?", at)},
	"GET /v1/accounts/{account}/licenses": {summary: "The account's licences, filtered, a page at a time",
		answer: page("License"), query: []string{"kind", "assigned", "product_filter", "cursor", "limit"}},
	"GET /v1/accounts/{account}/licenses/{id}": {summary: "A licence now, or as it stood at business time as_of (C8, H4)",
		answer: ref("License"), query: []string{"as_of"}},
	"GET /v1/accounts/{account}/licenses/{id}/history": {summary: "The licence's events, as stored (H4)", answer: ref("History")},
	"POST /v1/accounts/{account}/licenses/{id}/renew": {summary: "Extend a licence's term (B2)", answer: ref("License"),
		body: fields("valid_until", dateTime, "at?", at)},
	"POST /v1/accounts/{account}/licenses/{id}/cancel": {summary: "Cancel a licence sold by mistake from effective_at (H1)",
		answer: ref("License"), body: fields("effective_at", dateTime, "reason", text(1, 0), "at?", at)},
	"POST /v1/accounts/{account}/licenses/{id}/assign": {summary: "Assign a practitioner licence (C1, C2)", answer: ref("License"),
		body: fields("email", email, "at?", at)},
	"POST /v1/accounts/{account}/licenses/{id}/reassign": {summary: "Move a practitioner licence to another user (C3-C6)",
		answer: ref("License"), body: fields("email", email, "at?", at)},
	"POST /v1/accounts/{account}/licenses/{id}/unassign": {summary: "Take a practitioner licence away (C3, C4)",
		answer: ref("License"), body: fields("at?", at), optionalBody: true},
	"POST /v1/accounts/{account}/licenses/{id}/checkout": {summary: "Check a licence out for offline use (F6)",
		answer: fields("token", str, "until", dateTime), body: fields("email", email, "machine_id", machineID, "until", dateTime)},
	"POST /v1/accounts/{account}/licenses/{id}/checkin": {summary: "End an offline checkout early (F6)", answer: ref("License"),
		body: fields(), optionalBody: true},
	"GET /v1/accounts/{account}/reminders": {summary: "The active practitioner licences without an assignee (C7)",
		answer: fields("unassigned", arrayOf(ref("Reminder")))},

	"POST /v1/accounts/{account}/usage": {summary: "Record a batch of 1 to 1000 usage records, whole or not at all (F1-F4)",
		answer: ref("UsageAnswer"), body: fields("records", arrayOf(ref("UsageRecord")))},
	"GET /v1/accounts/{account}/usage/summary": {summary: "Usage per product and UTC day (F4)", answer: ref("UsageSummary"),
		query: []string{"from_day", "to_day"}},
	"POST /v1/accounts/{account}/usage/void": {summary: "Void mis-recorded usage records (H1)",
		answer: fields("voided", arrayOf(str)), body: fields("usage_ids", arrayOf(pattern(events.UsageIDPattern.String())), "reason", text(1, 0), "at?", at)},
	"GET /v1/accounts/{account}/usage/export": {summary: "The account's usage events in stream order, one {seq, event} per line (G3)",
		media: "application/x-ndjson", answer: ref("ExportedEvent"), query: []string{"from_seq", "to_seq"}},

	"PUT /v1/accounts/{account}/access/{product}": {summary: "Set a product's access control (E2)", answer: ref("Access"),
		body: fields("default", enum("allow", "deny"), "allow?", arrayOf(email), "deny?", arrayOf(email), "at?", at)},
	"GET /v1/accounts/{account}/access/{product}": {summary: "A product's access control (E2)", answer: ref("Access")},
	"POST /v1/accounts/{account}/checks": {summary: "An entitlement check, recorded granted or denied (E1-E3)", answer: ref("Check"),
		body: fields("email", email, "product", pattern(events.ProductIDPattern.String()), "machine_id", machineID, "client_version", clientVersion)},

	"GET /v1/accounts/{account}/qtl": {summary: "The term licence report of a quarter or a month, in country pools (G2, G3, G6, G9, G10)",
		answer: ref("QTLReport"), query: []string{"quarter", "month", "as_of_seq"}},
	"GET /v1/accounts/{account}/qtl/advice": {summary: "How the account could have paid less in a quarter or a month: the leak, the costliest users, the plan for its free practitioner licences (G11)",
		answer: ref("QTLAdvice"), query: []string{"quarter", "month", "as_of_seq"}},
	"GET /v1/integrity": {summary: "What the running ledger found wrong with its stream, as far as the token may see (H3)",
		answer: fields("breaks", integer, "first_break", orNull(fields("seq", integer, "subject", str, "reason", str, "account", orNull(str))),
			"last_verified_seq", integer, "stream_problems?", arrayOf(str))},
	"GET /v1/qtl": {summary: "Every account's report of a quarter or a month, one per line, as of one stream sequence (G2, G6, G10)",
		media: "application/x-ndjson", answer: ref("QTLReport"), query: []string{"quarter", "month"}},
	"GET /v1/accounts/{account}/peaks": {summary: "The 10-minute series of a product's pooled use (G1, G7)", answer: ref("Peaks"),
		query: []string{"product", "from_time", "to_time"}},
	"GET /v1/accounts/{account}/peaks/{product}/{interval_start}": {summary: "One interval with the evidence behind its count (G7)",
		answer: ref("PeakEvidence")},
	"GET /v1/accounts/{account}/thresholds": {summary: "The thresholds in force (G8)", answer: fields("thresholds", arrayOf(ref("Threshold")))},
	"GET /v1/accounts/{account}/alerts": {summary: "The threshold alerts of a range of UTC days (G4, G8)",
		answer: fields("alerts", arrayOf(ref("Alert"))), query: []string{"from_day", "to_day"}},
	"PUT /v1/accounts/{account}/thresholds/{product}": {summary: "Set a product's threshold (G8)", answer: ref("Threshold"),
		body: fields("max_machines", bounded(0, 1000000), "at?", at)},
	"DELETE /v1/accounts/{account}/thresholds/{product}": {summary: "Clear a product's threshold (G8)", status: 204,
		body: fields("at?", at), optionalBody: true},
	"PUT /v1/accounts/{account}/domains/{domain}": {summary: "Claim an email domain: only this account may register its emails (A5, S2)",
		answer: ref("Domain"), body: fields("at?", at), optionalBody: true},
	"DELETE /v1/accounts/{account}/domains/{domain}": {summary: "Release the account's claim of an email domain", status: 204,
		body: fields("at?", at), optionalBody: true},
	"GET /v1/accounts/{account}/domains/{domain}": {summary: "The account's claim of an email domain", answer: ref("Domain")},

	"POST /v1/tokens": {summary: "Issue an API token; the answer is the only place it appears (S1, S3)", status: 201,
		answer: ref("CreatedToken"), body: fields("name", text(1, 0),
			"role", enum(events.RoleAdmin, events.RoleAccountAdmin, events.RoleAuditor, events.RoleIngest), "account?", accountID)},
	"GET /v1/tokens": {summary: "Every token ever issued, never a secret (S3)", answer: fields("items", arrayOf(ref("Token")))},
	"DELETE /v1/tokens/{id}": {summary: "Revoke a token (S1, S3)", answer: ref("Token"),
		body: fields("reason?", str), optionalBody: true},
	"POST /v1/subscribers": {summary: "NATS credentials that read every account's events (S5)", status: 201,
		answer: ref("CreatedSubscriber"), body: fields("name", subscriberName)},
	"POST /v1/accounts/{account}/subscribers": {summary: "NATS credentials that read one account's events (S5)", status: 201,
		answer: ref("CreatedSubscriber"), body: fields("name", subscriberName)},
	"GET /v1/accounts/{account}/subscribers": {summary: "The account's live subscribers (S5)",
		answer: fields("items", arrayOf(ref("Subscriber")))},
	"DELETE /v1/accounts/{account}/subscribers/{name}": {summary: "Revoke a subscriber's credentials (S5)", answer: ref("Subscriber"),
		body: fields(), optionalBody: true},

	"POST /v1/accounts/{account}/sessions": {summary: "Sign in (D1-D4)", status: 201, answer: ref("Session"),
		body: fields("email", email, "machine_id", machineID, "client_version", clientVersion, "client_time", dateTime)},
	"POST /v1/accounts/{account}/sessions/{email}/heartbeat": {summary: "Keep a session alive (D3)", answer: ref("Session"),
		body: fields("machine_id", machineID)},
	"DELETE /v1/accounts/{account}/sessions/{email}": {summary: "Sign out (D3)", status: 204, body: fields(), optionalBody: true},
}

// schemaMedia is the media type of the JSON Schemas the API serves.
const schemaMedia = "application/schema+json"

// pathParams are the path parameters of the routes, keyed by component
// name (pathParameter picks it).
var pathParams = map[string]param{
	"account":         {"account", "An account id.", pattern(events.AccountIDPattern.String())},
	"email":           {"email", "A user's email, percent-encoded; compared without regard to case.", str},
	"license_id":      {"id", "A licence id.", pattern(events.LicenseIDPattern.String())},
	"product":         {"product", "A product id.", pattern(events.ProductIDPattern.String())},
	"domain":          {"domain", "An email domain: two or more labels of a-z, 0-9 and '-'.", str},
	"interval_start":  {"interval_start", "The start of a 10-minute interval, RFC 3339.", dateTime},
	"token_id":        {"id", "A token's id.", pattern(events.TokenIDPattern.String())},
	"subscriber_name": {"name", "A subscriber's name.", subscriberName},
	"type":            {"type", "An event type, e.g. license.assigned.", str},
	"version":         {"version", "A schema version of the type, e.g. 1.", str},
}

// queryParams are the query parameters the operations name, keyed by
// component name.
var queryParams = map[string]param{
	"as_of":          {"as_of", "A business time (RFC 3339): the state as it stood then (H4).", dateTime},
	"kind":           {"kind", "Only licences of this kind.", enum(events.KindPractitioner, events.KindCommercial, events.KindTrial)},
	"assigned":       {"assigned", "Only assigned (true) or unassigned (false) licences.", enum("true", "false")},
	"product_filter": {"product", "Only licences of this product.", pattern(events.ProductIDPattern.String())},
	"from_day":       {"from", "The first UTC day (YYYY-MM-DD, or an RFC 3339 time standing for its day); default 30 days before today.", str},
	"to_day":         {"to", "The last UTC day (YYYY-MM-DD, or an RFC 3339 time standing for its day); default today.", str},
	"quarter":        {"quarter", "The quarter, YYYY-Qn; this or month is required, not both (G10).", schema{"type": "string", "pattern": `^[0-9]{4}-Q[1-4]$`}},
	"month":          {"month", "The month, YYYY-MM, for monthly terms; this or quarter is required, not both (G10).", schema{"type": "string", "pattern": `^[0-9]{4}-(0[1-9]|1[0-2])$`}},
	"as_of_seq":      {"as_of_seq", "Compute from the events at or below this stream sequence only (G6).", bounded(1, 0)},
	"product":        {"product", "The product; required.", pattern(events.ProductIDPattern.String())},
	"from_time":      {"from", "The start of the range, RFC 3339; required.", dateTime},
	"to_time":        {"to", "The end of the range (excluded), RFC 3339; at most 100 days after from; required.", dateTime},
	"from_seq":       {"from_seq", "The first stream sequence; default 1.", bounded(1, 0)},
	"to_seq":         {"to_seq", "The last stream sequence; default the stream's last.", bounded(1, 0)},
	"cursor":         {"cursor", "Where the page starts: the next_cursor of the page before.", str},
	"limit":          {"limit", "The most items in the page.", bounded(1, 0)},
}
