package api

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/workflows"
)

// startRecorder is a Temporal client that records the workflow starts it is
// asked for, or refuses them with err.
type startRecorder struct {
	fakeTemporal
	mu     sync.Mutex
	starts []client.StartWorkflowOptions
	inputs []any
	err    error
	hold   chan struct{} // non-nil: a start waits until it is closed, or 5 s
}

func (r *startRecorder) ExecuteWorkflow(ctx context.Context, o client.StartWorkflowOptions, wf any, args ...any) (client.WorkflowRun, error) {
	r.mu.Lock()
	hold := r.hold
	r.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-time.After(5 * time.Second):
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return nil, r.err
	}
	r.starts = append(r.starts, o)
	r.inputs = append(r.inputs, args...)
	return fakeRun{}, nil
}

// Deactivating a user starts the reroute of their leads once the change has
// committed, under an ID that counts deactivations: a repeated PATCH asks
// for the same run, a later deactivation for a new one. When Temporal cannot
// take it the caller is told to repeat the request.
func TestDeactivationStartsTheReroute(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, true, nil)
	rec := &startRecorder{}
	ts.s.Temporal = rec
	acme := newPeople(t, ts, "Acme")
	staff := acme.ids[domain.RoleStaff]
	path := "/v1/orgs/" + acme.org + "/users/" + staff
	patch := func(body string) answer { return ts.do(t, "PATCH", path, acme.tokens[domain.RoleOwner], body, "") }

	for _, body := range []string{`{"notify_new_leads":true}`, `{"active":true}`} {
		if a := patch(body); a.status != 200 || len(rec.starts) != 0 {
			t.Fatalf("%s: %d %s, %d starts", body, a.status, a.body, len(rec.starts))
		}
	}
	for range 2 {
		if a := patch(`{"active":false}`); a.status != 200 || !strings.Contains(a.body, `"active":false`) {
			t.Fatalf("deactivate: %d %s", a.status, a.body)
		}
	}
	patch(`{"active":true}`)
	patch(`{"active":false}`)
	var ids []string
	for _, o := range rec.starts {
		ids = append(ids, o.ID)
	}
	want := []string{"reroute/" + staff + "/1", "reroute/" + staff + "/1", "reroute/" + staff + "/2"}
	if strings.Join(ids, " ") != strings.Join(want, " ") {
		t.Fatalf("starts %v, want %v", ids, want)
	}
	if in, ok := rec.inputs[2].(workflows.RerouteInput); !ok || in != (workflows.RerouteInput{UserID: staff, OrgID: acme.org, Deactivation: 2}) {
		t.Fatalf("input %#v", rec.inputs[2])
	}

	rec.err = errors.New("temporal is down")
	a := patch(`{"active":false}`)
	if a.status != 503 || !strings.Contains(a.body, "repeat the same request") {
		t.Fatalf("start refused: %d %s", a.status, a.body)
	}
	if n := count(t, ts.s, `SELECT deactivations FROM users WHERE id = $1`, staff); n != 2 {
		t.Fatalf("a repeated deactivation counted: %d", n)
	}
}
