package store_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/internal/store"
)

// A record that follows a side effect is tried again while PostgreSQL
// cannot be reached, not after another error, and at least once even when
// the activity's deadline has passed.
func TestWhileUnreachableWaitsOutARestartOnly(t *testing.T) {
	t.Parallel()
	down := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	calls := 0
	err := store.WhileUnreachable(context.Background(), func(ctx context.Context) error {
		calls++
		if calls < 3 {
			return down
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("down twice then up: %v after %d calls, want nil after 3", err, calls)
	}

	calls = 0
	bad := errors.New("syntax error")
	if err := store.WhileUnreachable(context.Background(), func(context.Context) error { calls++; return bad }); !errors.Is(err, bad) || calls != 1 {
		t.Fatalf("another error: %v after %d calls, want it after 1", err, calls)
	}

	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	calls = 0
	err = store.WhileUnreachable(ctx, func(ctx context.Context) error {
		calls++
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return down
	})
	if !errors.Is(err, down) || calls != 1 {
		t.Fatalf("past the deadline: %v after %d calls, want the database's error after 1 uncancelled call", err, calls)
	}
}
