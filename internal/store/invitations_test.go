package store_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/internal/testenv"
)

func wfID(id string) string { return "invitation/" + id }

func TestInvitationLifecycle(t *testing.T) {
	t.Parallel()
	s := testenv.Tx(t)
	d := domainFor(t)
	m, _, _, err := s.CreateOrg(ctx, "Master", "UTC", "m@"+d, "M")
	must(t, err)
	// the invitee owns two orgs and must choose
	a, aOwner, _, err := s.CreateOrg(ctx, "A", "UTC", "inv@"+d, "Inv")
	must(t, err)
	b, _, _, err := s.CreateOrg(ctx, "B", "UTC", "INV@"+d, "Inv")
	must(t, err)

	inv, err := s.CreateInvitation(ctx, m.ID, "inv@"+d, 7*24*time.Hour, wfID)
	must(t, err)
	if inv.Status != domain.InvitePending || inv.WorkflowID != "invitation/"+inv.ID || time.Until(inv.ExpiresAt) < 167*time.Hour {
		t.Fatalf("created %+v", inv)
	}
	if _, err := s.CreateInvitation(ctx, m.ID, "Inv@"+d, time.Hour, wfID); domain.ErrorCode(err) != domain.EConflict {
		t.Fatalf("second pending invitation to the same email: %v", err)
	}

	// the email activity mints the token; the page finds it by hash
	tok, hash := domain.NewToken("lri_")
	mail, ok, err := s.AddInvitationToken(ctx, inv.ID, hash)
	must(t, err)
	if !ok || mail.MasterName != "Master" || mail.Email != "inv@"+d {
		t.Fatalf("token: %+v %v", mail, ok)
	}
	v, err := s.InvitationByToken(ctx, domain.HashToken(tok))
	must(t, err)
	if v.ID != inv.ID || len(v.Owned) != 2 || v.MasterName != "Master" {
		t.Fatalf("view %+v", v)
	}
	if _, err := s.InvitationByToken(ctx, domain.HashToken(tok+"x")); domain.ErrorCode(err) != domain.ENotFound {
		t.Fatalf("wrong token: %v", err)
	}
	// a resend after a crash mints another token: the first link keeps working
	tok2, hash2 := domain.NewToken("lri_")
	_, ok, err = s.AddInvitationToken(ctx, inv.ID, hash2)
	must(t, err)
	for _, tk := range []string{tok, tok2} {
		if v, err := s.InvitationByToken(ctx, domain.HashToken(tk)); err != nil || v.ID != inv.ID || !ok {
			t.Fatalf("token %s after a second mint: %v", tk[:8], err)
		}
	}

	if _, err := s.AcceptInvitation(ctx, store.AcceptRequest{InvitationID: inv.ID}); domain.ErrorCode(err) != domain.EInvalid {
		t.Fatalf("two owned orgs and no choice: %v", err)
	}
	if _, err := s.AcceptInvitation(ctx, store.AcceptRequest{InvitationID: inv.ID, OrgID: m.ID}); domain.ErrorCode(err) != domain.EInvalid {
		t.Fatalf("an org the invitee does not own: %v", err)
	}
	if _, err := s.AcceptInvitation(ctx, store.AcceptRequest{InvitationID: inv.ID, OrgID: b.ID, UserID: aOwner.ID}); domain.ErrorCode(err) != domain.EForbidden {
		t.Fatalf("a user token of the other org's owner: %v", err)
	}
	res, err := s.AcceptInvitation(ctx, store.AcceptRequest{InvitationID: inv.ID, OrgID: b.ID})
	must(t, err)
	if res.SubOrgID != b.ID || res.MasterOrgID != m.ID || res.MasterOwnerEmail != "m@"+d || res.SubName != "B" {
		t.Fatalf("accept %+v", res)
	}
	again, err := s.AcceptInvitation(ctx, store.AcceptRequest{InvitationID: inv.ID, OrgID: a.ID})
	must(t, err)
	if again.SubOrgID != b.ID {
		t.Fatal("a retried accept changed the link")
	}
	if err := s.CloseInvitation(ctx, inv.ID, domain.InviteDeclined); domain.ErrorCode(err) != domain.EConflict {
		t.Fatalf("decline after accept: %v", err)
	}
	if _, ok, _ := s.AddInvitationToken(ctx, inv.ID, []byte("x")); ok {
		t.Fatal("a token was minted for an accepted invitation")
	}
	subs, err := s.SubAgencies(ctx, m.ID)
	must(t, err)
	if len(subs) != 1 || subs[0].ID != b.ID || subs[0].OwnerEmail != "INV@"+d {
		t.Fatalf("subs %+v", subs)
	}
}

func TestCloseInvitationIsIdempotentPerOutcome(t *testing.T) {
	t.Parallel()
	s := testenv.Tx(t)
	d := domainFor(t)
	m, _, _, err := s.CreateOrg(ctx, "Master", "UTC", "m@"+d, "M")
	must(t, err)
	inv, err := s.CreateInvitation(ctx, m.ID, "someone@"+d, time.Hour, wfID)
	must(t, err)
	must(t, s.CloseInvitation(ctx, inv.ID, domain.InviteRevoked))
	must(t, s.CloseInvitation(ctx, inv.ID, domain.InviteRevoked)) // a retried activity
	if err := s.CloseInvitation(ctx, inv.ID, domain.InviteExpired); domain.ErrorCode(err) != domain.EConflict {
		t.Fatalf("expire after revoke: %v", err)
	}
	if _, err := s.CreateInvitation(ctx, m.ID, "someone@"+d, time.Hour, wfID); err != nil {
		t.Fatalf("a new invitation after a revoked one: %v", err)
	}
}

func TestInviteRefusesWhatCannotBeLinked(t *testing.T) {
	t.Parallel()
	s := testenv.Tx(t)
	d := domainFor(t)
	mk := func(n string) store.Org {
		o, _, _, err := s.CreateOrg(ctx, n, "UTC", n+"@"+d, n)
		must(t, err)
		return o
	}
	a, b, c := mk("a"), mk("b"), mk("c")
	must(t, s.LinkOrgs(ctx, a.ID, b.ID))
	for _, tc := range []struct {
		from  store.Org
		email string
		why   string
	}{{a, "a@" + d, "own organization"}, {a, "b@" + d, "already a sub-agency"}, {c, "b@" + d, "already has a master"}, {b, "a@" + d, "cycle"}} {
		_, err := s.CreateInvitation(ctx, tc.from.ID, tc.email, time.Hour, wfID)
		if e, ok := err.(*domain.Error); !ok || e.Code != domain.EConflict || !strings.Contains(e.Message, tc.why) {
			t.Errorf("%s invites %s: %v, want conflict with %q", tc.from.Name, tc.email, err, tc.why)
		}
	}
	// someone who owns no org yet may be invited
	if _, err := s.CreateInvitation(ctx, a.ID, "newcomer@"+d, time.Hour, wfID); err != nil {
		t.Fatal(err)
	}
}

func TestUnlinkDropsTheSubAgencyFromRotations(t *testing.T) {
	t.Parallel()
	s := testenv.Tx(t)
	d := domainFor(t)
	m, _, _, err := s.CreateOrg(ctx, "M", "UTC", "m@"+d, "M")
	must(t, err)
	sub, _, _, err := s.CreateOrg(ctx, "S", "UTC", "s@"+d, "S")
	must(t, err)
	must(t, s.LinkOrgs(ctx, m.ID, sub.ID))
	cfg := domain.SourceConfig{Name: "Fan", Routing: domain.Routing{Mode: domain.RouteSubAgencies, SubAgencies: []string{sub.ID}}}
	delay, err := cfg.Validate()
	must(t, err)
	_, _, _, err = s.PutSource(ctx, m.ID, "fan", cfg, delay)
	must(t, err)
	_, err = s.Unlink(ctx, m.ID, sub.ID)
	must(t, err)
	src, err := s.GetSourceBySlug(ctx, m.ID, "fan")
	must(t, err)
	if len(src.Routing.SubAgencies) != 0 {
		t.Fatalf("unlinked sub-agency still in the rotation: %v", src.Routing.SubAgencies)
	}
	if _, err := s.Unlink(ctx, m.ID, sub.ID); domain.ErrorCode(err) != domain.ENotFound {
		t.Fatalf("unlink twice: %v", err)
	}
}

// An invitation whose run was lost stays pending past its expiry; it must not
// block inviting the same email again, and it reads as expired afterwards.
func TestStalePendingInvitationDoesNotBlockReinviting(t *testing.T) {
	t.Parallel()
	s := testenv.Tx(t)
	d := domainFor(t)
	m, _, _, err := s.CreateOrg(ctx, "Master", "UTC", "m@"+d, "M")
	must(t, err)
	_, _, _, err = s.CreateOrg(ctx, "Sub", "UTC", "sub@"+d, "S")
	must(t, err)
	stale, err := s.CreateInvitation(ctx, m.ID, "sub@"+d, -time.Second, wfID) // already past its expiry
	must(t, err)
	fresh, err := s.CreateInvitation(ctx, m.ID, "sub@"+d, 7*24*time.Hour, wfID)
	must(t, err)
	if fresh.ID == stale.ID || fresh.Status != domain.InvitePending {
		t.Fatalf("re-invite: %+v", fresh)
	}
	got, err := s.GetInvitation(ctx, m.ID, stale.ID)
	must(t, err)
	if got.Status != domain.InviteExpired {
		t.Fatalf("the stale invitation is %s, want expired", got.Status)
	}
}

// due takes every invitation due for a reconciler check, page by page as a
// pass does, as if the pass ran at now; it returns the ones among ids.
func due(t *testing.T, s *store.Store, now time.Time, ids map[string]bool) []string {
	t.Helper()
	var out []string
	for {
		page, err := s.DueInvitations(ctx, now, now, 15*time.Minute, 3)
		must(t, err)
		for _, inv := range page {
			if ids[inv.ID] {
				out = append(out, inv.ID)
			}
		}
		if len(page) < 3 {
			return out
		}
	}
}

// An invitation waits days for its answer; a reconciler pass makes sure it
// has its run, and the next passes (every 30 s, in every worker) leave it
// alone for 15 minutes instead of asking Temporal again for every pending
// invitation. Two workers' passes at once never both take one.
func TestReconcilerChecksAPendingInvitationOncePerInterval(t *testing.T) {
	s := testenv.Tx(t)
	d := domainFor(t)
	m, _, _, err := s.CreateOrg(ctx, "Master", "UTC", "m@"+d, "M")
	must(t, err)
	ids := map[string]bool{}
	for i := range 5 {
		inv, err := s.CreateInvitation(ctx, m.ID, fmt.Sprintf("inv%d@%s", i, d), 7*24*time.Hour, wfID)
		must(t, err)
		ids[inv.ID] = true
	}
	now := time.Now().Add(time.Second)
	if got := due(t, s, now, ids); len(got) != 5 {
		t.Fatalf("first pass found %d of 5 pending invitations", len(got))
	}
	if got := due(t, s, now.Add(30*time.Second), ids); len(got) != 0 {
		t.Fatalf("the next pass found %d invitations checked 30 s before", len(got))
	}
	if got := due(t, s, now.Add(14*time.Minute), ids); len(got) != 0 {
		t.Fatalf("a pass 14 minutes later found %d", len(got))
	}
	if got := due(t, s, now.Add(15*time.Minute), ids); len(got) != 5 {
		t.Fatalf("a pass 15 minutes later found %d of 5", len(got))
	}

	// Two workers at once, on committed rows: each invitation taken once.
	p, _ := testenv.DB(t)
	shared := store.New(p)
	m2, _, _, err := shared.CreateOrg(ctx, "Master", "UTC", "m2@"+d, "M")
	must(t, err)
	ids = map[string]bool{}
	for i := range 20 {
		inv, err := shared.CreateInvitation(ctx, m2.ID, fmt.Sprintf("w%d@%s", i, d), 7*24*time.Hour, wfID)
		must(t, err)
		ids[inv.ID] = true
	}
	now = time.Now().Add(time.Second)
	var wg sync.WaitGroup
	var mu sync.Mutex
	taken := map[string]int{}
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				page, err := shared.DueInvitations(ctx, now, now, 15*time.Minute, 2)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, inv := range page {
					if ids[inv.ID] {
						taken[inv.ID]++
					}
				}
				mu.Unlock()
				if len(page) < 2 {
					return
				}
			}
		}()
	}
	wg.Wait()
	for id := range ids {
		if taken[id] != 1 {
			t.Fatalf("invitation %s taken %d times by two concurrent passes", id, taken[id])
		}
	}
}
