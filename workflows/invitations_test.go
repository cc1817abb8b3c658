package workflows_test

import (
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/failure"
	"github.com/leadrelay/leadrelay/internal/mailcatcher"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/workflows"
)

type invite struct {
	env             *testsuite.TestWorkflowEnvironment
	s               *store.Store
	sink            *mailcatcher.Catcher
	master, invitee string
	masterOwner     string
	inviteeEmail    string
	in              workflows.InvitationInput
	n               int // update ids
}

func newInvite(t *testing.T) *invite {
	t.Helper()
	env, s, sink := realEnv(t)
	env.RegisterWorkflow(workflows.InvitationWorkflow)
	dom := fmt.Sprintf("i%d.example", time.Now().UnixNano())
	m, _, _, err := s.CreateOrg(ctx, "Summit", "UTC", "olivia@"+dom, "Olivia")
	require.NoError(t, err)
	sub, _, _, err := s.CreateOrg(ctx, "North", "UTC", "nora@"+dom, "Nora")
	require.NoError(t, err)
	inv, err := s.CreateInvitation(ctx, m.ID, "nora@"+dom, workflows.InvitationTTL, workflows.InvitationWorkflowID)
	require.NoError(t, err)
	return &invite{env: env, s: s, sink: sink, master: m.ID, invitee: sub.ID, masterOwner: "olivia@" + dom, inviteeEmail: "nora@" + dom,
		in: workflows.InvitationInput{InvitationID: inv.ID, MasterOrgID: m.ID, ExpiresAt: inv.ExpiresAt}}
}

// update sends an Update after delay and records how it ended.
type outcome struct {
	rejected, failed error
	result           workflows.InvitationLink
	done             bool
}

func (iv *invite) update(name string, delay time.Duration, args ...any) *outcome {
	o := &outcome{}
	iv.env.RegisterDelayedCallback(func() {
		iv.n++
		iv.env.UpdateWorkflow(name, fmt.Sprint(name, iv.n), &testsuite.TestUpdateCallback{
			OnAccept: func() {},
			OnReject: func(err error) { o.rejected, o.done = err, true },
			OnComplete: func(v interface{}, err error) {
				o.failed, o.done = err, true
				if r, ok := v.(workflows.InvitationLink); ok {
					o.result = r
				}
			},
		}, args...)
	}, delay)
	return o
}

func (iv *invite) result(t *testing.T) workflows.InvitationResult {
	t.Helper()
	iv.env.ExecuteWorkflow(workflows.InvitationWorkflow, iv.in)
	require.True(t, iv.env.IsWorkflowCompleted())
	require.NoError(t, iv.env.GetWorkflowError())
	var r workflows.InvitationResult
	require.NoError(t, iv.env.GetWorkflowResult(&r))
	return r
}

var linkRE = regexp.MustCompile(`/invitations/(lri_[A-Za-z0-9_-]+)`)

// invitationToken reads the link out of the invitation email and checks it
// resolves to this invitation.
func (iv *invite) invitationToken(t *testing.T) string {
	t.Helper()
	for _, m := range iv.sink.Messages() {
		if m.To[0] == iv.inviteeEmail {
			tok := linkRE.FindStringSubmatch(m.Text)
			require.NotNil(t, tok, "no link in %q", m.Text)
			v, err := iv.s.InvitationByToken(ctx, domain.HashToken(tok[1]))
			require.NoError(t, err)
			require.Equal(t, iv.in.InvitationID, v.ID)
			return tok[1]
		}
	}
	t.Fatal("no invitation email")
	return ""
}

func TestInvitationAcceptLinksAndConfirms(t *testing.T) {
	t.Parallel()
	iv := newInvite(t)
	acc := iv.update(workflows.UpdateAccept, time.Hour, workflows.AcceptRequest{})
	again := iv.update(workflows.UpdateAccept, time.Hour, workflows.AcceptRequest{})
	r := iv.result(t)

	require.Equal(t, domain.InviteAccepted, r.Status)
	require.NoError(t, acc.failed)
	require.Equal(t, iv.invitee, acc.result.SubOrgID)
	require.Equal(t, iv.master, acc.result.MasterOrgID)
	require.True(t, again.done)
	lost := again.rejected
	if lost == nil {
		lost = again.failed
	}
	require.Error(t, lost, "a duplicate accept at the same instant went through")
	require.Equal(t, domain.EConflict, failure.Code(lost), "%v", lost)
	require.Regexp(t, "being processed|already accepted", lost.Error())

	subs, err := iv.s.SubAgencies(ctx, iv.master)
	require.NoError(t, err)
	require.Len(t, subs, 1)
	require.Equal(t, iv.invitee, subs[0].ID)
	iv.invitationToken(t)
	var confirmations int
	for _, m := range iv.sink.Messages() {
		if m.To[0] == iv.masterOwner {
			confirmations++
			require.Equal(t, "North is now a sub-agency of Summit", m.Subject)
		}
	}
	require.Equal(t, 1, confirmations)
	require.Len(t, iv.sink.Messages(), 2)
}

func TestInvitationDeclineAndRevoke(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ update, status string }{
		{workflows.UpdateDecline, domain.InviteDeclined}, {workflows.UpdateRevoke, domain.InviteRevoked}} {
		t.Run(c.update, func(t *testing.T) {
			iv := newInvite(t)
			o := iv.update(c.update, time.Minute)
			// an accept at the same instant must lose: one answer only
			rival := iv.update(workflows.UpdateAccept, time.Minute, workflows.AcceptRequest{})
			r := iv.result(t)
			require.Equal(t, c.status, r.Status)
			require.NoError(t, o.failed)
			require.True(t, rival.done)
			lost := rival.rejected
			if lost == nil {
				lost = rival.failed
			}
			require.Error(t, lost, "a concurrent accept went through")
			require.Equal(t, domain.EConflict, failure.Code(lost), "%v", lost)
			require.Regexp(t, "being processed|already "+c.status, lost.Error())
			inv, err := iv.s.GetInvitation(ctx, iv.master, iv.in.InvitationID)
			require.NoError(t, err)
			require.Equal(t, c.status, inv.Status)
			subs, _ := iv.s.SubAgencies(ctx, iv.master)
			require.Empty(t, subs)
			require.Len(t, iv.sink.Messages(), 1, "the invitation email only")
		})
	}
}

func TestInvitationExpiresAfterSevenDays(t *testing.T) {
	t.Parallel()
	iv := newInvite(t)
	start := iv.env.Now()
	r := iv.result(t)
	require.Equal(t, domain.InviteExpired, r.Status)
	require.GreaterOrEqual(t, iv.env.Now().Sub(start), workflows.InvitationTTL-time.Minute, "time was skipped to the expiry")
	inv, err := iv.s.GetInvitation(ctx, iv.master, iv.in.InvitationID)
	require.NoError(t, err)
	require.Equal(t, domain.InviteExpired, inv.Status)
}

func TestInvitationRefusedAcceptLeavesItPending(t *testing.T) {
	t.Parallel()
	iv := newInvite(t)
	other, _, _, err := iv.s.CreateOrg(ctx, "Not Nora's", "UTC", fmt.Sprintf("x%d@x.example", time.Now().UnixNano()), "X")
	require.NoError(t, err)
	bad := iv.update(workflows.UpdateAccept, time.Minute, workflows.AcceptRequest{OrgID: other.ID})
	good := iv.update(workflows.UpdateAccept, 2*time.Minute, workflows.AcceptRequest{OrgID: iv.invitee})
	r := iv.result(t)
	require.Equal(t, domain.EInvalid, failure.Code(bad.failed), "%v", bad.failed)
	var refused *domain.Error
	require.ErrorAs(t, failure.ToDomain(bad.failed), &refused, "the API gets the refusal back as it was made")
	require.Contains(t, refused.Fields, "org_id")
	require.NoError(t, good.failed)
	require.Equal(t, domain.InviteAccepted, r.Status)
}
