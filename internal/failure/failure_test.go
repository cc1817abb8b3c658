package failure_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/failure"
)

// TestARefusalCrossesTheBoundaryIntact: what an activity refuses reaches the
// API as the same *domain.Error, found by its type, not its words.
func TestARefusalCrossesTheBoundaryIntact(t *testing.T) {
	for _, code := range []string{domain.EConflict, domain.EInvalid, domain.ENotFound, domain.EForbidden} {
		in := &domain.Error{Code: code, Message: "no", Fields: map[string]string{"org_id": "not yours"}}
		err := fmt.Errorf("activity error: %w", failure.FromDomain(in))
		var ae *temporal.ApplicationError
		require.ErrorAs(t, err, &ae)
		require.True(t, ae.NonRetryable(), code)
		require.Equal(t, code, ae.Type())
		require.Equal(t, code, failure.Code(err))
		var out *domain.Error
		require.ErrorAs(t, failure.ToDomain(err), &out)
		require.Equal(t, in, out)
	}
}

// TestOutagesAndBugsStayRetryable: only a refusal is final; a database
// outage or a bug is retried and never reaches a caller as a refusal.
func TestOutagesAndBugsStayRetryable(t *testing.T) {
	for _, err := range []error{errors.New("connection refused"), domain.Errorf(domain.EUnavailable, "db"), domain.Errorf(domain.EInternal, "bug")} {
		out := failure.FromDomain(err)
		require.Same(t, err, out)
		require.Equal(t, "", failure.Code(out))
		require.Same(t, err, failure.ToDomain(out))
	}
	require.NoError(t, failure.FromDomain(nil))
}

// TestWorkerOnlyCodesNeverReachACaller: a refused email or a broken template
// is final for the worker but is not a caller's refusal.
func TestWorkerOnlyCodesNeverReachACaller(t *testing.T) {
	for _, code := range []string{domain.ERefused, domain.EInternal} {
		err := failure.New(code, "smtp 550", nil)
		require.Equal(t, code, failure.Code(err))
		require.Same(t, err, failure.ToDomain(err))
	}
	require.Equal(t, "", failure.Code(temporal.NewApplicationError("x", "SomeoneElsesType")))
}
