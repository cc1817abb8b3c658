package searchattr_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.uber.org/zap"

	"github.com/leadrelay/leadrelay/internal/logging"
	"github.com/leadrelay/leadrelay/internal/searchattr"
	"github.com/leadrelay/leadrelay/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

func TestNotYetUsableIsTheServersRefusalOnly(t *testing.T) {
	for _, refused := range []error{serviceerror.NewInvalidArgument("search attribute ExternalID is not defined"),
		serviceerror.NewInvalidArgument("Namespace default has no mapping defined for search attribute LeadID")} {
		if !searchattr.NotYetUsable(fmt.Errorf("start: %w", refused)) {
			t.Fatalf("the refusal %q is not recognised", refused)
		}
	}
	for _, err := range []error{nil, errors.New("search attribute X is not defined"),
		serviceerror.NewInvalidArgument("WorkflowId exceeds length limit"), serviceerror.NewUnavailable("down")} {
		if searchattr.NotYetUsable(err) {
			t.Fatalf("%v taken for a refused attribute", err)
		}
	}
}

// On a real server, Ensure registers what is missing and returns once a start
// carrying every attribute is accepted; a second call is a no-op; the probe
// leaves no run open.
func TestEnsureOnARealServer(t *testing.T) {
	c, err := client.Dial(client.Options{HostPort: testenv.Temporal(t).FrontendHostPort(), Logger: logging.Temporal(zap.NewNop())})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if err := searchattr.Ensure(ctx, c, "default", time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	d, err := c.DescribeWorkflowExecution(ctx, searchattr.ProbeWorkflowID, "")
	if err != nil {
		t.Fatal(err)
	}
	if d.WorkflowExecutionInfo.GetStatus().String() != "Terminated" {
		t.Fatalf("probe run is %s", d.WorkflowExecutionInfo.GetStatus())
	}
	var r searchattr.Readiness
	if err := r.Check(ctx, c); err != nil {
		t.Fatal(err)
	}
}
