// Package failure is the one vocabulary of errors that cross Temporal's
// boundary. A refusal travels as an ApplicationError whose type is its
// domain code (internal/domain), with the per-field messages as details, so
// the API turns it back into the same HTTP answer and tests ask for the
// code, never for words.
package failure

import (
	"errors"

	"go.temporal.io/sdk/temporal"

	"github.com/leadrelay/leadrelay/internal/domain"
)

// New is a refusal raised in workflow or activity code: never retried,
// because the same request would be refused again.
func New(code, message string, cause error) error {
	return temporal.NewApplicationErrorWithOptions(message, code, temporal.ApplicationErrorOptions{NonRetryable: true, Cause: cause})
}

// FromDomain carries a *domain.Error that refuses the request (conflict,
// invalid, not found, ...) across the boundary as a non-retryable typed
// error. Anything else, an outage or a bug, stays a plain retryable error.
func FromDomain(err error) error {
	var e *domain.Error
	if err == nil || !errors.As(err, &e) || e.Code == domain.EInternal || e.Code == domain.EUnavailable {
		return err
	}
	return temporal.NewApplicationErrorWithOptions(e.Message, e.Code, temporal.ApplicationErrorOptions{
		NonRetryable: true, Details: []any{e.Fields}})
}

// Code is the domain code an error carries across the boundary, or "" when
// it carries none (an outage, a timeout, a bug).
func Code(err error) string {
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) {
		return ""
	}
	if _, ok := callerCodes[ae.Type()]; ok || ae.Type() == domain.ERefused || ae.Type() == domain.EInternal {
		return ae.Type()
	}
	return ""
}

// callerCodes are the codes a caller is meant to see as they are.
var callerCodes = map[string]struct{}{
	domain.EConflict: {}, domain.EInvalid: {}, domain.ENotFound: {}, domain.EForbidden: {},
}

// ToDomain is FromDomain's inverse, for the API: a refusal that came back
// through a workflow (an Update's failure, an activity's error) becomes the
// *domain.Error it was; any other error is returned unchanged.
func ToDomain(err error) error {
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) {
		return err
	}
	if _, ok := callerCodes[ae.Type()]; !ok {
		return err
	}
	var fields map[string]string
	if ae.HasDetails() {
		_ = ae.Details(&fields) // a refusal without field details is still the refusal
	}
	return &domain.Error{Code: ae.Type(), Message: ae.Message(), Fields: fields}
}

// Message is an error's own words without Temporal's wrapping ("activity
// error (type: ..., scheduledEventID: ...)"), for a timeline or a log.
func Message(err error) string {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return ae.Error()
	}
	return err.Error()
}
