package commands

import (
	"errors"
	"fmt"
	"time"
)

// Error codes. They are the stable contract of docs/rules.md and
// docs/api.md: clients branch on them, so a code is never renamed or reused
// for another meaning. Every code is in Codes, and package api maps each to
// its HTTP status in one table (a test holds the two together).
const (
	// Input that is malformed or fails validation (HTTP 400).
	CodeInvalidArgument      = "invalid_argument"
	CodeMalformedJSON        = "malformed_json"
	CodeAtInFuture           = "at_in_future"
	CodeInvalidClientVersion = "invalid_client_version"
	CodeInvalidPath          = "invalid_path" // a path with dot segments or "//", plain or percent-encoded

	// A list cursor that does not open (HTTP 400): altered, or issued for
	// another list, account or filter.
	CodeInvalidCursor = "invalid_cursor"

	// A request whose Host is not one of the ledger's names (HTTP 421):
	// refused before anything else, against DNS rebinding.
	CodeInvalidHost = "invalid_host"

	// A request body over the limit (HTTP 413).
	CodeBodyTooLarge = "body_too_large"

	// A request body that is not declared application/json (HTTP 415).
	CodeUnsupportedMediaType = "unsupported_media_type"

	// Unknown things (HTTP 404).
	CodeAccountNotFound = "account_not_found"
	CodeUserNotFound    = "user_not_found"
	CodeLicenseNotFound = "license_not_found"
	CodeNotFound        = "not_found"

	// Rules that reject a command (HTTP 409).
	CodeAccountExists             = "account_exists"
	CodeUserExists                = "user_exists"
	CodeUserInOtherAccount        = "user_in_other_account"
	CodeEmailNotRegistrable       = "email_not_registrable" // its domain is claimed by another account (A5, S2)
	CodeDomainClaimed             = "domain_claimed"        // claiming a domain another account holds
	CodeEntitlementCountryMissing = "entitlement_country_missing"
	CodeLicenseExists             = "license_exists"
	CodeNotPractitioner           = "not_practitioner_license"
	CodeLicenseInactive           = "license_inactive"
	CodeLicenseAssigned           = "license_assigned"
	CodeUserAlreadyLicensed       = "user_already_licensed"
	CodeLicenseLocked             = "license_locked"
	CodeAlreadyAssigned           = "already_assigned"
	CodeNotAssigned               = "not_assigned"
	CodeLicenseCheckedOut         = "license_checked_out"
	CodeRenewalNotLater           = "renewal_not_later"
	CodeAtBeforeLastEvent         = "at_before_last_event"
	CodeIdempotencyKeyReused      = "idempotency_key_reused"
	CodeConflict                  = "conflict"
	CodeSignedInElsewhere         = "signed_in_elsewhere"
	CodeClockSkew                 = "clock_skew"
	CodeNotSignedIn               = "not_signed_in"
	CodeNotAssignee               = "not_the_assignee"
	CodeNotCheckedOut             = "not_checked_out"
	CodeUsageIDConflict           = "usage_id_conflict"
	CodeUsageTooOld               = "usage_too_old"
	CodeUsageInFuture             = "usage_in_future"

	// Authentication and authorisation (S1).
	CodeUnauthenticated = "unauthenticated" // HTTP 401: no token, or one the ledger does not know or has revoked
	CodeForbidden       = "forbidden"       // HTTP 403: a known token acting outside its role
	CodeRateLimited     = "rate_limited"    // HTTP 429: too many requests from one token; see Retry-After

	// Failures that are not the client's.
	CodeMethodNotAllowed = "method_not_allowed" // HTTP 405
	CodeUnavailable      = "unavailable"        // HTTP 503: the stream did not answer in time; retry
	CodeInternal         = "internal"           // HTTP 500: a bug, logged
)

// Codes lists every error code.
var Codes = []string{
	CodeInvalidArgument, CodeMalformedJSON, CodeAtInFuture, CodeInvalidClientVersion, CodeInvalidPath, CodeInvalidHost,
	CodeBodyTooLarge, CodeUnsupportedMediaType,
	CodeInvalidCursor,
	CodeAccountNotFound, CodeUserNotFound, CodeLicenseNotFound, CodeNotFound,
	CodeAccountExists, CodeUserExists, CodeUserInOtherAccount, CodeEmailNotRegistrable, CodeDomainClaimed,
	CodeEntitlementCountryMissing, CodeLicenseExists,
	CodeNotPractitioner, CodeLicenseInactive, CodeLicenseAssigned, CodeUserAlreadyLicensed, CodeLicenseLocked,
	CodeAlreadyAssigned, CodeNotAssigned, CodeLicenseCheckedOut, CodeRenewalNotLater, CodeAtBeforeLastEvent,
	CodeIdempotencyKeyReused, CodeConflict, CodeSignedInElsewhere, CodeClockSkew, CodeNotSignedIn, CodeNotAssignee,
	CodeNotCheckedOut, CodeUsageIDConflict, CodeUsageTooOld, CodeUsageInFuture,
	CodeUnauthenticated, CodeForbidden, CodeRateLimited,
	CodeMethodNotAllowed, CodeUnavailable, CodeInternal,
}

// Error is a rejection: the command appends nothing, and the caller gets Code,
// a Message a person can act on, and Details for programs (e.g. locked_until).
type Error struct {
	Code    string
	Message string
	Details map[string]any
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Reject builds an *Error with a formatted message; add details with With.
func Reject(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// With returns e with one more detail. time.Time values are rendered as
// RFC 3339 UTC with the full precision the ledger keeps, so a client can
// retry exactly at a boundary such as locked_until.
func (e *Error) With(key string, value any) *Error {
	if e.Details == nil {
		e.Details = map[string]any{}
	}
	if t, ok := value.(time.Time); ok {
		value = t.UTC().Format(time.RFC3339Nano)
	}
	e.Details[key] = value
	return e
}

// Invalid is a validation error naming the offending field.
func Invalid(field, format string, args ...any) *Error {
	return Reject(CodeInvalidArgument, "%s: %s", field, fmt.Sprintf(format, args...)).With("field", field)
}

// CodeOf returns the code of a rejection, or "" for any other error.
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
