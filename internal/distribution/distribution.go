// Package distribution is the logic of `starter distribute` (SPEC §6): a
// distribution of an org's pending leads of one source run now, followed to
// its end. Timed distributions (`starter schedule`, the API's schedules) are
// runs.Schedules.
package distribution

import (
	"go.temporal.io/sdk/client"

	"github.com/leadrelay/leadrelay/internal/runs"
	"github.com/leadrelay/leadrelay/internal/store"
)

// Env is what the commands talk to: Temporal for the runs and schedules,
// PostgreSQL to check the org and source exist and for the runs' names.
type Env struct {
	Temporal  client.Client
	Store     *store.Store
	TaskQueue string
}

// Schedules manages the timed distributions on the same Temporal and queue.
func (e Env) Schedules() runs.Schedules {
	return runs.Schedules{Temporal: e.Temporal, Store: e.Store, Queue: e.TaskQueue}
}
