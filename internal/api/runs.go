package api

import (
	"context"
	"time"

	"github.com/sethvargo/go-retry"

	"github.com/leadrelay/leadrelay/internal/runs"
	"github.com/leadrelay/leadrelay/internal/searchattr"
)

// starter starts the API's runs on the configured queue. patient: on a
// server that has just registered the search attributes, SQL visibility
// refuses them for a few seconds; a patient start waits that out (bounded)
// rather than answer 503 to every request of a fresh deploy.
func (s *Server) starter(patient bool) runs.Starter {
	st := runs.Starter{Temporal: s.Temporal, Store: s.Store, Queue: s.Cfg.TaskQueue}
	if patient {
		st.Retry = startPatiently
	}
	return st
}

// startPatiently runs a workflow start, retrying for up to 10 s while the
// server refuses search attributes it has only just registered.
func startPatiently(ctx context.Context, start func(context.Context) error) error {
	b := retry.WithMaxDuration(10*time.Second, retry.WithCappedDuration(time.Second, retry.NewExponential(100*time.Millisecond)))
	return retry.Do(ctx, b, func(ctx context.Context) error {
		err := start(ctx)
		if searchattr.NotYetUsable(err) {
			return retry.RetryableError(err)
		}
		return err
	})
}
