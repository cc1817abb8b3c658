package activities_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/leadrelay/leadrelay/activities"
	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/mail"
	"github.com/leadrelay/leadrelay/internal/store"
)

// A routed lead's alert goes to its assignee over a real SMTP conversation
// (the mail catcher) once, even when the activity runs again after it
// succeeded (a retry whose completion was lost); the alert is dealt with.
func TestSendAlertDeliversOnceWhenRetriedAfterSuccess(t *testing.T) {
	t.Parallel()
	env, sink, s := setup(t)
	ctx := context.Background()
	dom := fmt.Sprintf("al%d.example", time.Now().UnixNano())
	o, owner, _, err := s.CreateOrg(ctx, "Summit", "UTC", "owner@"+dom, "Olivia Owner")
	require.NoError(t, err)
	sc := domain.SourceConfig{Name: "EverQuote", Priority: "high", Routing: domain.Routing{Mode: domain.RouteOwner}}
	delay, err := sc.Validate()
	require.NoError(t, err)
	src, _, _, err := s.PutSource(ctx, o.ID, "everquote", sc, delay)
	require.NoError(t, err)
	in, err := s.InsertLead(ctx, store.NewLead{SourceID: src.ID, OrgID: o.ID, Slug: src.Slug, WorkflowID: "wf", ReceivedAt: time.Now(),
		In: domain.LeadInput{ExternalID: "ext-a", FirstName: "Ada", LastName: "Love\nlace", Phone: "+1 512 555 0100",
			Address: domain.Address{City: "Austin", State: "TX", PostalCode: "78701"}}})
	require.NoError(t, err)
	_, err = s.RouteLead(ctx, store.RouteRequest{LeadID: in.LeadID})
	require.NoError(t, err)
	as, err := s.AlertsFor(ctx, in.LeadID)
	require.NoError(t, err)
	require.Len(t, as, 1)
	require.Equal(t, owner.ID, as[0].UserID)

	var a *activities.Activities
	for range 2 {
		v, err := env.ExecuteActivity(a.SendAlert, activities.AlertRun{AlertID: as[0].ID})
		require.NoError(t, err)
		var outcome string
		require.NoError(t, v.Get(&outcome))
		require.Equal(t, activities.AlertSent, outcome)
	}
	msgs := sink.Messages()
	require.Len(t, msgs, 1, "one email however often the activity runs")
	m := msgs[0]
	require.Equal(t, []string{"owner@" + dom}, m.To)
	require.Equal(t, mail.MessageID(activities.AlertKey(as[0].ID), "leadrelay.test"), m.MessageID)
	require.Equal(t, "Lead assigned to you: Ada Love lace from EverQuote", m.Subject, "a newline in a name cannot break the subject")
	for _, want := range []string{"Phone:    +1 512 555 0100", "Location: Austin, TX 78701", "Priority: high", "/app/leads/" + in.LeadID} {
		require.Contains(t, m.Text, want)
	}
	require.NotContains(t, m.Text, "Email:", "a lead without an email shows no empty line for it")
	l, err := s.GetLead(ctx, o.ID, in.LeadID)
	require.NoError(t, err)
	require.NotEqual(t, "email", l.Timeline[len(l.Timeline)-1].Kind, "the assignment stays the newest line of the timeline")
	sent, err := s.DeliverySent(ctx, activities.AlertKey(as[0].ID))
	require.NoError(t, err)
	require.True(t, sent)
	left, err := s.AlertsToStart(ctx, time.Now().Add(time.Hour), as[0].ID-1, 10)
	require.NoError(t, err)
	for _, l := range left {
		require.NotEqual(t, as[0].ID, l.ID, "a sent alert is dealt with: the pump leaves it alone")
	}
}

// An alert whose row is gone (its lead or user deleted) is skipped rather
// than retried for ever, and its failure has nothing to record.
func TestAnAlertGoneIsSkipped(t *testing.T) {
	t.Parallel()
	env, sink, _ := setup(t)
	var a *activities.Activities
	v, err := env.ExecuteActivity(a.SendAlert, activities.AlertRun{AlertID: -1})
	require.NoError(t, err)
	var outcome string
	require.NoError(t, v.Get(&outcome))
	require.Equal(t, activities.AlertSkipped, outcome)
	_, err = env.ExecuteActivity(a.RecordAlertFailure, activities.AlertFailure{AlertID: -1, Reason: "SMTP 550"})
	require.NoError(t, err)
	require.Empty(t, sink.Messages())
}
