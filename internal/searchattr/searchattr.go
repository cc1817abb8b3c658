// Package searchattr makes sure the search attributes operators filter runs
// by exist and are usable before anything relies on them. On Temporal with
// SQL visibility a newly added attribute is refused for several seconds (its
// cache refreshes on a timer), so "registered" is not "usable".
package searchattr

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sethvargo/go-retry"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/leadrelay/leadrelay/workflows"
)

// ProbeWorkflowID is the run a probe starts and terminates at once.
const ProbeWorkflowID = "leadrelay/search-attribute-probe"

// NotYetUsable reports whether err is the server refusing one of our search
// attributes: not registered yet ("is not defined"), or registered but not
// yet in SQL visibility's cached column mapping ("has no mapping defined").
func NotYetUsable(err error) bool {
	var ia *serviceerror.InvalidArgument
	if !errors.As(err, &ia) || !strings.Contains(ia.Error(), "search attribute") {
		return false
	}
	return strings.Contains(ia.Error(), "is not defined") || strings.Contains(ia.Error(), "has no mapping defined")
}

// Register adds whichever of leadrelay's attributes the namespace lacks.
func Register(ctx context.Context, c client.Client, namespace string) error {
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return err
	}
	missing := map[string]enums.IndexedValueType{}
	for _, k := range workflows.SearchAttributes {
		if _, ok := resp.CustomAttributes[k.GetName()]; !ok {
			missing[k.GetName()] = enums.INDEXED_VALUE_TYPE_KEYWORD
		}
	}
	if len(missing) == 0 {
		return nil
	}
	_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: namespace, SearchAttributes: missing})
	var exists *serviceerror.AlreadyExists
	if errors.As(err, &exists) {
		return nil // another worker registered them first
	}
	return err
}

// Probe starts a run carrying every attribute on a task queue no worker
// polls, then terminates it: the one check that the server accepts them on
// a start, which is what ingestion needs.
func Probe(ctx context.Context, c client.Client) error {
	var sa []temporal.SearchAttributeUpdate
	for _, k := range workflows.SearchAttributes {
		sa = append(sa, temporal.NewSearchAttributeKeyKeyword(k.GetName()).ValueSet("probe"))
	}
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       ProbeWorkflowID,
		TaskQueue:                "leadrelay-search-attribute-probe",
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING,
		WorkflowExecutionTimeout: time.Minute,
		TypedSearchAttributes:    temporal.NewSearchAttributes(sa...),
		// Operators find it terminated in the run list: say why it is there.
		StaticSummary: "Search attribute probe: the server accepts leadrelay's search attributes on a start (terminated at once)",
	}, "SearchAttributeProbe")
	if err != nil {
		return err
	}
	err = c.TerminateWorkflow(ctx, run.GetID(), run.GetRunID(), "search attribute probe")
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return nil
	}
	return err
}

// Ensure waits until a start carrying every attribute is accepted,
// registering the missing ones when the server says they are not defined,
// retrying for up to timeout. It probes first, so a worker whose identity may
// not manage attributes starts fine where they already exist. The worker
// calls it before polling and stops with its error: a worker whose runs
// cannot be filtered (or whose API posts would be refused) must fail loudly.
func Ensure(ctx context.Context, c client.Client, namespace string, timeout time.Duration) error {
	b := retry.WithMaxDuration(timeout, retry.WithCappedDuration(2*time.Second, retry.NewExponential(200*time.Millisecond)))
	err := retry.Do(ctx, b, func(ctx context.Context) error {
		err := Probe(ctx, c)
		if NotYetUsable(err) {
			if rerr := Register(ctx, c, namespace); rerr != nil {
				err = fmt.Errorf("%w; registering them: %v", err, rerr)
			}
		}
		return retry.RetryableError(err)
	})
	if err != nil {
		return fmt.Errorf("search attributes %v not usable after %s: %w", workflows.SearchAttributeNames(), timeout, err)
	}
	return nil
}

// Readiness remembers, per process, that the attributes were found usable;
// until then each check probes (bounded by the caller's context).
type Readiness struct {
	ok atomic.Bool
}

// Check reports nil once the attributes are usable through c.
func (r *Readiness) Check(ctx context.Context, c client.Client) error {
	if r.ok.Load() {
		return nil
	}
	if err := Probe(ctx, c); err != nil {
		return err
	}
	r.ok.Store(true)
	return nil
}
