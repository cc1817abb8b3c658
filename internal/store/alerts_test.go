package store_test

import (
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/internal/testenv"
)

// committed is a store whose every call commits on its own, as in
// production: an alert is keyed by its assigning transaction, which
// testenv.Tx would make one for the whole test.
func committed(t *testing.T) *store.Store {
	t.Helper()
	p, _ := testenv.DB(t)
	return store.New(p)
}

// alertedUsers is, per user, how many alerts the lead has.
func alertedUsers(t *testing.T, s *store.Store, leadID string) map[string]int {
	t.Helper()
	as, err := s.AlertsFor(ctx, leadID)
	must(t, err)
	out := map[string]int{}
	for _, a := range as {
		out[a.UserID]++
	}
	return out
}

func wantAlerts(t *testing.T, what string, got map[string]int, want map[string]int) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: alerts %v, want %v", what, got, want)
	}
	for u, n := range want {
		if got[u] != n {
			t.Fatalf("%s: alerts %v, want %v", what, got, want)
		}
	}
}

// Routing alerts the assignee once; routing the same hop again (an
// activity retry after the commit) records no second alert.
func TestRoutingAlertsTheAssigneeOnce(t *testing.T) {
	t.Parallel()
	s := committed(t)
	f := seed(t, s, 2, domain.SourceConfig{})
	for _, ext := range []string{"r1", "r2"} {
		id := post(t, s, f, ext, "").LeadID
		d, err := route(s, id)
		must(t, err)
		wantAlerts(t, "routed "+ext, alertedUsers(t, s, id), map[string]int{d.AssignedTo: 1})
		again, err := route(s, id)
		must(t, err)
		if !again.AlreadyRouted {
			t.Fatalf("second routing decided again: %+v", again)
		}
		wantAlerts(t, "routed twice "+ext, alertedUsers(t, s, id), map[string]int{d.AssignedTo: 1})
		n, err := s.AlertNotice(ctx, mustAlert(t, s, id).ID)
		must(t, err)
		if n.To == "" || !n.InstantAlerts || !n.StillAssigned || n.Source != "EverQuote" || n.Email != ext+"@example.com" ||
			n.Priority != "normal" {
			t.Fatalf("notice %+v", n)
		}
	}
}

func mustAlert(t *testing.T, s *store.Store, leadID string) store.Alert {
	t.Helper()
	as, err := s.AlertsFor(ctx, leadID)
	must(t, err)
	if len(as) == 0 {
		t.Fatalf("lead %s has no alert", leadID)
	}
	return as[len(as)-1]
}

// Each later assignment — by hand, in bulk, a transfer of ownership, a
// claim, a reroute — alerts its assignee once more; assigning a lead to whom
// it is already assigned is no new assignment.
func TestEveryAssignmentPathAlertsItsAssignee(t *testing.T) {
	t.Parallel()
	s := committed(t)
	f := seed(t, s, 3, domain.SourceConfig{})
	manager := f.staff[2]
	id := post(t, s, f, "a1", "").LeadID
	d, err := route(s, id)
	must(t, err)
	want := map[string]int{d.AssignedTo: 1}
	other := f.staff[0]
	if other.ID == d.AssignedTo {
		other = f.staff[1]
	}
	must(t, s.AssignLead(ctx, f.org.ID, changer(manager), id, other.ID))
	want[other.ID]++
	wantAlerts(t, "by hand", alertedUsers(t, s, id), want)
	must(t, s.AssignLead(ctx, f.org.ID, changer(manager), id, other.ID))
	wantAlerts(t, "by hand to the same user", alertedUsers(t, s, id), want)

	n, err := s.AssignLeads(ctx, f.org.ID, changer(manager), f.owner.ID, []string{id})
	must(t, err)
	if n != 1 {
		t.Fatalf("bulk assigned %d", n)
	}
	want[f.owner.ID]++
	wantAlerts(t, "bulk", alertedUsers(t, s, id), want)

	to := other.ID
	must(t, s.TransferOwnership(ctx, f.org.ID, changer(manager), id, &to))
	want[other.ID]++
	wantAlerts(t, "transfer of ownership", alertedUsers(t, s, id), want)

	q := queueSource(t, s, f, "q", "normal", "")
	qid := queued(t, s, q, "c1")
	wantAlerts(t, "queued", alertedUsers(t, s, qid), nil)
	c, ok := claim(t, s, q, f.staff[1])
	if !ok || c.LeadID != qid {
		t.Fatalf("claim %+v %v", c, ok)
	}
	wantAlerts(t, "claimed", alertedUsers(t, s, qid), map[string]int{f.staff[1].ID: 1})
}

// A deactivated user's team leads are rerouted: the new assignee is alerted.
func TestRerouteAlertsTheNewAssignee(t *testing.T) {
	t.Parallel()
	s := committed(t)
	f := seed(t, s, 2, domain.SourceConfig{})
	id := post(t, s, f, "d1", "").LeadID
	d, err := route(s, id)
	must(t, err)
	var gone store.User
	for _, u := range f.staff {
		if u.ID == d.AssignedTo {
			gone = u
		}
	}
	deactivate(t, s, gone)
	re := rerouteAll(t, s, gone)
	if len(re) != 1 || re[0].AssignedTo == gone.ID {
		t.Fatalf("rerouted %+v", re)
	}
	wantAlerts(t, "rerouted", alertedUsers(t, s, id), map[string]int{gone.ID: 1, re[0].AssignedTo: 1})
}

// A user with instant alerts off gets no alert, by any path; one turned off
// after the alert was recorded is seen so at send time (AlertNotice).
func TestInstantAlertsOffRecordsNoAlert(t *testing.T) {
	t.Parallel()
	s := committed(t)
	p, _ := testenv.DB(t)
	f := seed(t, s, 1, domain.SourceConfig{})
	if _, err := p.Exec(ctx, `UPDATE users SET instant_alerts = false WHERE org_id = $1`, f.org.ID); err != nil {
		t.Fatal(err)
	}
	id := post(t, s, f, "o1", "").LeadID
	if _, err := route(s, id); err != nil {
		t.Fatal(err)
	}
	must(t, s.AssignLead(ctx, "", domain.Changer{}, id, f.owner.ID))
	wantAlerts(t, "alerts off", alertedUsers(t, s, id), nil)

	if _, err := p.Exec(ctx, `UPDATE users SET instant_alerts = true WHERE id = $1`, f.staff[0].ID); err != nil {
		t.Fatal(err)
	}
	must(t, s.AssignLead(ctx, "", domain.Changer{}, id, f.staff[0].ID))
	a := mustAlert(t, s, id)
	if _, err := p.Exec(ctx, `UPDATE users SET instant_alerts = false WHERE id = $1`, f.staff[0].ID); err != nil {
		t.Fatal(err)
	}
	n, err := s.AlertNotice(ctx, a.ID)
	must(t, err)
	if n.InstantAlerts {
		t.Fatal("the notice misses that alerts were turned off since")
	}
}

// A transfer alerts each moved lead's new assignee once, a batch moved
// again alerts no one, and an accepted handover alerts whom it is assigned
// to; a lead handed over waits unassigned and alerts nobody until then.
func TestTransfersAndHandoversAlertTheReceivingAssignee(t *testing.T) {
	t.Parallel()
	s := committed(t)
	m, sub := linkedPair(t, s)
	ids := routedLeads(t, s, m, "xa-", 2)
	tr := newTransfer(t, s, m.org.ID, sub.org.ID, domain.TransferOwner, ids)
	for range 2 {
		_, err := s.MoveTransferBatch(ctx, store.TransferBatch{TransferID: tr.ID, Size: 500})
		must(t, err)
	}
	for _, id := range ids {
		got := alertedUsers(t, s, id)
		if got[sub.owner.ID] != 1 || len(got) != 2 {
			t.Fatalf("transferred lead %s alerts %v, want its router's pick and the receiving owner once each", id, got)
		}
	}

	hm, hsub := linkedPair(t, s)
	hids, htr := handedOver(t, s, hm, hsub, "ha-", 1)
	before := alertedUsers(t, s, hids[0])
	accept := store.HandoverAnswer{ID: domain.NewID(), LeadID: hids[0], TransferID: htr.ID, Kind: "accept", Actor: hsub.staff[2].ID,
		AssignTo: hsub.staff[0].ID}
	must(t, s.RecordHandoverAnswer(ctx, accept))
	for range 2 {
		_, err := s.ApplyHandoverAnswer(ctx, accept.ID)
		must(t, err)
	}
	before[hsub.staff[0].ID]++
	wantAlerts(t, "handover accepted", alertedUsers(t, s, hids[0]), before)
}

// The pump starts an alert never started; one started is left to its run
// until restartBefore passes its start (then it is a restart); one dealt
// with is left alone.
func TestAlertsToStartPagesWhatNoRunDealtWith(t *testing.T) {
	t.Parallel()
	s := committed(t)
	f := seed(t, s, 1, domain.SourceConfig{})
	id := post(t, s, f, "p1", "").LeadID
	_, err := route(s, id)
	must(t, err)
	a := mustAlert(t, s, id)
	find := func(restartBefore time.Time) (store.Alert, bool) {
		t.Helper()
		page, err := s.AlertsToStart(ctx, restartBefore, a.ID-1, 1)
		must(t, err)
		if len(page) == 1 && page[0].ID == a.ID {
			return page[0], true
		}
		return store.Alert{}, false
	}
	if got, ok := find(time.Now().Add(-time.Hour)); !ok || got.Restart {
		t.Fatalf("a new alert: %+v %v", got, ok)
	}
	must(t, s.AlertStarted(ctx, a.ID))
	if got, ok := find(time.Now().Add(-time.Hour)); ok {
		t.Fatalf("an alert just started was started again: %+v", got)
	}
	if got, ok := find(time.Now().Add(time.Hour)); !ok || !got.Restart {
		t.Fatalf("a stale alert: %+v %v", got, ok)
	}
	must(t, s.FinishAlert(ctx, a.ID, "sent"))
	if got, ok := find(time.Now().Add(time.Hour)); ok {
		t.Fatalf("an alert dealt with was started again: %+v", got)
	}
}
