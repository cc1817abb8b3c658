package activities_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/leadrelay/leadrelay/activities"
	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/mail"
	"github.com/leadrelay/leadrelay/internal/mailcatcher"
	"github.com/leadrelay/leadrelay/internal/store"
)

const returnComments = "Called twice, <nobody> answered.\nPlease credit."

// returnedLead is a lead returned by its org's owner with a reason and
// comments, through a source that tells two addresses, with comments when
// include says so and its own template when tmpl is not "".
func returnedLead(t *testing.T, s *store.Store, include bool, tmpl, reason string) (activities.ReturnRun, []string) {
	t.Helper()
	ctx := context.Background()
	dom := fmt.Sprintf("r%d.example", time.Now().UnixNano())
	o, owner, _, err := s.CreateOrg(ctx, "Summit", "America/Chicago", "owner@"+dom, "Olivia Owner")
	require.NoError(t, err)
	to := []string{"vendor@" + dom, "billing@" + dom}
	sc := domain.SourceConfig{Name: "EverQuote", Priority: "normal", Routing: domain.Routing{Mode: domain.RouteOwner},
		ReturnNotificationEmails: to, IncludeCommentsOnReturn: include}
	if tmpl != "" {
		sc.ReturnTemplate = &tmpl
	}
	delay, err := sc.Validate()
	require.NoError(t, err)
	src, _, _, err := s.PutSource(ctx, o.ID, "everquote", sc, delay)
	require.NoError(t, err)
	in, err := s.InsertLead(ctx, store.NewLead{SourceID: src.ID, OrgID: o.ID, Slug: src.Slug, WorkflowID: "wf", ReceivedAt: time.Now(),
		In: domain.LeadInput{ExternalID: "ext-7", FirstName: "Ada", LastName: "Love\nlace", Email: "ada@example.com"}})
	require.NoError(t, err)
	_, err = s.RouteLead(ctx, store.RouteRequest{LeadID: in.LeadID})
	require.NoError(t, err)
	c := returnComments
	_, err = s.ReturnLead(ctx, o.ID, domain.Changer{UserID: owner.ID, Role: domain.RoleOwner}, in.LeadID,
		domain.ReturnInput{Reason: reason, Comments: &c}, "return/"+in.LeadID)
	require.NoError(t, err)
	return activities.ReturnRun{LeadID: in.LeadID}, to
}

// notifyTwice runs NotifyReturn twice (a retry after the sends) and returns
// what the sink got: one email per address.
func notifyTwice(t *testing.T, env *testsuite.TestActivityEnvironment, sink *mailcatcher.Catcher, r activities.ReturnRun,
	to []string) []mailcatcher.Message {
	t.Helper()
	var a *activities.Activities
	for range 2 {
		v, err := env.ExecuteActivity(a.NotifyReturn, r)
		require.NoError(t, err)
		var n activities.ReturnNotified
		require.NoError(t, v.Get(&n))
		require.Equal(t, activities.ReturnNotified{Addresses: 2}, n)
	}
	msgs := sink.Messages()
	require.Len(t, msgs, 2)
	require.ElementsMatch(t, to, []string{msgs[0].To[0], msgs[1].To[0]})
	for _, m := range msgs {
		require.Equal(t, mail.MessageID(activities.ReturnKey(r.LeadID, m.To[0]), "leadrelay.test"), m.MessageID)
	}
	return msgs
}

// The built-in email: the lead, the reason and, when the source includes
// them, the comments; each address once however often the activity runs;
// the return is then dealt with and on the timeline.
func TestNotifyReturnBuiltInWithComments(t *testing.T) {
	t.Parallel()
	env, sink, s := setup(t)
	r, to := returnedLead(t, s, true, "", "Duplicate of ext-3")
	for _, m := range notifyTwice(t, env, sink, r, to) {
		require.Equal(t, "Lead returned by Summit: Ada Love lace", m.Subject)
		for _, want := range []string{"ext-7", "ada@example.com", "Duplicate of ext-3", "by Olivia Owner", "EverQuote (everquote)",
			returnComments, "CST"} {
			require.Contains(t, strings.ReplaceAll(m.Text, "\r\n", "\n"), want)
		}
		require.Contains(t, m.HTML, "Called twice, &lt;nobody&gt; answered.")
	}
	require.ElementsMatch(t, []string{"return email sent to " + to[0], "return email sent to " + to[1]}, timeline(t, s, r.LeadID, "email"))
	requireDealtWith(t, s, r.LeadID)
}

// timeline is the messages of the lead's events of one kind.
func timeline(t *testing.T, s *store.Store, leadID, kind string) []string {
	t.Helper()
	l, err := s.GetLead(context.Background(), "", leadID)
	require.NoError(t, err)
	var msgs []string
	for _, e := range l.Timeline {
		if e.Kind == kind {
			msgs = append(msgs, e.Message)
		}
	}
	return msgs
}

// requireDealtWith checks that the reconciler no longer sees the return.
func requireDealtWith(t *testing.T, s *store.Store, leadID string) {
	t.Helper()
	left, err := s.UnnotifiedReturns(context.Background(), time.Now().Add(time.Minute), "", 1000)
	require.NoError(t, err)
	for _, ret := range left {
		require.NotEqual(t, leadID, ret.LeadID, "a return whose emails were dealt with is still waiting")
	}
}

// Comments are free text for the vendor only when the source says so.
func TestNotifyReturnLeavesOutCommentsUnlessIncluded(t *testing.T) {
	t.Parallel()
	env, sink, s := setup(t)
	r, to := returnedLead(t, s, false, "", "Wrong number")
	for _, m := range notifyTwice(t, env, sink, r, to) {
		require.Contains(t, m.Text, "Wrong number")
		require.NotContains(t, m.Text, "Called twice")
		require.NotContains(t, m.HTML, "Called twice")
		require.NotContains(t, m.Text, "Comments:")
	}
}

// A source's return_template writes the email: its Subject line, its body,
// and the comments only when the source includes them, whatever the
// template asks for.
func TestNotifyReturnRendersTheSourceTemplate(t *testing.T) {
	t.Parallel()
	const tmpl = "Subject: Return {{.ExternalID}}: {{.Reason}}\n\nDear vendor,\n{{upper .FirstName}} ({{.LeadEmail}}) from {{.OrgName}}." +
		"{{if .Comments}}\nNotes: {{.Comments}}{{end}}\n{{.Comments}}|end"
	for _, include := range []bool{true, false} {
		t.Run(fmt.Sprint("comments=", include), func(t *testing.T) {
			env, sink, s := setup(t)
			r, to := returnedLead(t, s, include, tmpl, "Duplicate")
			for _, m := range notifyTwice(t, env, sink, r, to) {
				require.Equal(t, "Return ext-7: Duplicate", m.Subject)
				text := strings.ReplaceAll(m.Text, "\r\n", "\n")
				require.True(t, strings.HasPrefix(text, "Dear vendor,\nADA (ada@example.com) from Summit."), text)
				require.Equal(t, include, strings.Contains(text, "Notes: "+returnComments), text)
				require.Equal(t, include, strings.Contains(m.Text, "Called twice"), m.Text)
				require.Contains(t, m.HTML, "Dear vendor,")
				require.Equal(t, include, strings.Contains(m.HTML, "&lt;nobody&gt;"))
			}
		})
	}
}

// A template that passed the checks can still fail on a value no sample
// had: the vendor then gets the built-in email, never none.
func TestNotifyReturnFallsBackToTheBuiltInTemplate(t *testing.T) {
	t.Parallel()
	env, sink, s := setup(t)
	r, to := returnedLead(t, s, true, `Subject: x{{if eq .Reason "boom"}}{{eq .Reason 1}}{{end}}`, "boom")
	for _, m := range notifyTwice(t, env, sink, r, to) {
		require.Equal(t, "Lead returned by Summit: Ada Love lace", m.Subject)
		require.Contains(t, m.Text, "boom")
	}
}

// Given up on (a week of outage): every address not sent is recorded failed
// on the timeline, once, and the return is dealt with.
func TestRecordReturnFailure(t *testing.T) {
	t.Parallel()
	env, sink, s := setup(t)
	var a *activities.Activities
	r, to := returnedLead(t, s, true, "", "dup")
	for range 2 {
		_, err := env.ExecuteActivity(a.RecordReturnFailure, activities.ReturnFailure{LeadID: r.LeadID, Reason: "gave up after retrying for 168h0m0s"})
		require.NoError(t, err)
	}
	require.Empty(t, sink.Messages())
	require.ElementsMatch(t, []string{"return email to " + to[0] + " failed: gave up after retrying for 168h0m0s",
		"return email to " + to[1] + " failed: gave up after retrying for 168h0m0s"}, timeline(t, s, r.LeadID, "email_failed"))
	requireDealtWith(t, s, r.LeadID)
}
