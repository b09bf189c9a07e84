package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/projections"
)

// statusOf maps every error code to its HTTP status: 400 for bad input,
// 404 for unknown things, 409 for a rule that rejects a command, 413 for an
// oversized body, 415 for a body not declared JSON, 421 for a Host that is
// not the ledger's. A code missing here is a bug: it is answered 500 and
// logged, and TestEveryCodeHasAStatus fails.
var statusOf = map[string]int{
	commands.CodeInvalidArgument:      http.StatusBadRequest,
	commands.CodeMalformedJSON:        http.StatusBadRequest,
	commands.CodeAtInFuture:           http.StatusBadRequest,
	commands.CodeInvalidClientVersion: http.StatusBadRequest,
	commands.CodeInvalidPath:          http.StatusBadRequest,
	commands.CodeInvalidCursor:        http.StatusBadRequest,
	commands.CodeInvalidHost:          http.StatusMisdirectedRequest,
	commands.CodeBodyTooLarge:         http.StatusRequestEntityTooLarge,
	commands.CodeUnsupportedMediaType: http.StatusUnsupportedMediaType,

	commands.CodeAccountNotFound: http.StatusNotFound,
	commands.CodeUserNotFound:    http.StatusNotFound,
	commands.CodeLicenseNotFound: http.StatusNotFound,
	commands.CodeNotFound:        http.StatusNotFound,

	commands.CodeAccountExists:             http.StatusConflict,
	commands.CodeUserExists:                http.StatusConflict,
	commands.CodeUserInOtherAccount:        http.StatusConflict,
	commands.CodeEmailNotRegistrable:       http.StatusConflict,
	commands.CodeDomainClaimed:             http.StatusConflict,
	commands.CodeEntitlementCountryMissing: http.StatusConflict,
	commands.CodeLicenseExists:             http.StatusConflict,
	commands.CodeNotPractitioner:           http.StatusConflict,
	commands.CodeLicenseInactive:           http.StatusConflict,
	commands.CodeLicenseAssigned:           http.StatusConflict,
	commands.CodeUserAlreadyLicensed:       http.StatusConflict,
	commands.CodeLicenseLocked:             http.StatusConflict,
	commands.CodeAlreadyAssigned:           http.StatusConflict,
	commands.CodeNotAssigned:               http.StatusConflict,
	commands.CodeLicenseCheckedOut:         http.StatusConflict,
	commands.CodeRenewalNotLater:           http.StatusConflict,
	commands.CodeAtBeforeLastEvent:         http.StatusConflict,
	commands.CodeIdempotencyKeyReused:      http.StatusConflict,
	commands.CodeConflict:                  http.StatusConflict,
	commands.CodeSignedInElsewhere:         http.StatusConflict,
	commands.CodeClockSkew:                 http.StatusConflict,
	commands.CodeNotSignedIn:               http.StatusConflict,
	commands.CodeNotAssignee:               http.StatusConflict,
	commands.CodeNotCheckedOut:             http.StatusConflict,
	commands.CodeUsageIDConflict:           http.StatusConflict,
	commands.CodeUsageTooOld:               http.StatusConflict,
	commands.CodeUsageInFuture:             http.StatusConflict,

	commands.CodeUnauthenticated: http.StatusUnauthorized,
	commands.CodeForbidden:       http.StatusForbidden,
	commands.CodeRateLimited:     http.StatusTooManyRequests,

	commands.CodeMethodNotAllowed: http.StatusMethodNotAllowed,
	commands.CodeUnavailable:      http.StatusServiceUnavailable,
	commands.CodeInternal:         http.StatusInternalServerError,
}

// statusFor is the HTTP status of a code.
func statusFor(code string) (int, bool) {
	status, ok := statusOf[code]
	if !ok {
		return http.StatusInternalServerError, false
	}
	return status, true
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details,omitempty"`
}

// writeError answers err in the error contract. Rejections show their code,
// message and details; anything else is logged with its internals and shown
// only as a generic message.
func writeError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	var rej *commands.Error
	if !errors.As(err, &rej) {
		code, msg := commands.CodeInternal, "internal error; it has been logged"
		if unavailable(err) {
			code, msg = commands.CodeUnavailable, "the ledger could not complete the request in time; retry with the same Idempotency-Key"
		}
		logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		rej = &commands.Error{Code: code, Message: msg}
	}
	status, ok := statusFor(rej.Code)
	if !ok {
		logger.Error("error code without an HTTP status", "code", rej.Code, "method", r.Method, "path", r.URL.Path)
	}
	setRetryAfter(w, rej)
	writeJSON(w, status, errorBody{Error: errorDetail{Code: rej.Code, Message: rej.Message, Details: rej.Details}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		body = []byte(`{"error":{"code":"internal","message":"response encoding failed"}}`)
		status = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}

// unavailable reports errors that say the stream could not be reached or
// did not answer in time: the request may be retried (with the same
// Idempotency-Key) and is answered 503, not as a bug.
func unavailable(err error) bool {
	for _, e := range []error{context.DeadlineExceeded, context.Canceled, nats.ErrTimeout, nats.ErrNoResponders,
		nats.ErrConnectionClosed, nats.ErrConnectionDraining, nats.ErrDisconnected, jetstream.ErrNoStreamResponse,
		projections.ErrClosed} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
