// Package domain holds leadrelay's words (SPEC §1) as types, and the rules
// that need no I/O: validation, who may do what, where a lead goes.
package domain

import (
	"errors"
	"fmt"
)

// Error codes. The HTTP layer maps each to one status (SPEC §4).
const (
	EMalformed    = "malformed"    // 400
	EUnauthorized = "unauthorized" // 401
	EForbidden    = "forbidden"    // 403
	ENotFound     = "not_found"    // 404
	EConflict     = "conflict"     // 409
	ETooLarge     = "too_large"    // 413
	EInvalid      = "invalid"      // 422
	ERefused      = "refused"      // 502: a remote party (the mail server) refused for good
	ERateLimited  = "rate_limited" // 429
	ECapReached   = "cap_reached"  // 429: a source's vendor_daily_cap for the org-local day
	EUnavailable  = "unavailable"  // 503
	EInternal     = "internal"     // 500
)

// Error is an error a caller is meant to see.
type Error struct {
	Code    string
	Message string
	Fields  map[string]string
}

func (e *Error) Error() string {
	if len(e.Fields) > 0 {
		return fmt.Sprintf("%s: %s %v", e.Code, e.Message, e.Fields)
	}
	return e.Code + ": " + e.Message
}

// Errorf makes an *Error, so the code travels with the message to the HTTP
// layer and picks the status there.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of an *Error in err's chain, or EInternal.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// FieldErrors collects per-field problems; Err returns nil when there are none.
type FieldErrors map[string]string

// Add records why field is invalid unless it already has a reason: the
// first check to fail is the one the caller should see.
func (f FieldErrors) Add(field, why string) {
	if _, ok := f[field]; !ok {
		f[field] = why
	}
}

// Err returns an EInvalid *Error with every field's problem at once, so a
// caller can fix them all in one go; nil when there are none.
func (f FieldErrors) Err(message string) error {
	if len(f) == 0 {
		return nil
	}
	return &Error{Code: EInvalid, Message: message, Fields: f}
}
