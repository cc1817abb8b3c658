package store_test

import (
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/internal/testenv"
)

var yes, no = true, false

// handedOver hands n of from's routed leads over to to and returns them
// with the transfer: pending in to's manager pipeline.
func handedOver(t *testing.T, s *store.Store, from, to fixture, prefix string, n int) ([]string, store.Transfer) {
	t.Helper()
	ids := routedLeads(t, s, from, prefix, n)
	tr := newTransfer(t, s, from.org.ID, to.org.ID, domain.TransferManagerReview, ids)
	out, err := s.MoveTransferBatch(ctx, store.TransferBatch{TransferID: tr.ID, Index: 0, Size: 500})
	must(t, err)
	if out.Moved != n {
		t.Fatalf("handed over: %+v", out)
	}
	return ids, tr
}

func handoverStatus(t *testing.T, p *pgxpool.Pool, leadID, transferID string) string {
	t.Helper()
	var st string
	must(t, p.QueryRow(ctx, `SELECT status FROM handovers WHERE lead_id = $1 AND transfer_id = $2`, leadID, transferID).Scan(&st))
	return st
}

// TestExpiryRacedByAnAnswerSaysWhatTheDatabaseDecided is the race of issue
// 15 item 6 in PostgreSQL: the answer commits first, then the expiry runs.
// The expiry must report accepted (what its run then says), not expired;
// and the other way round, an answer after the expiry is a conflict.
func TestExpiryRacedByAnAnswerSaysWhatTheDatabaseDecided(t *testing.T) {
	p, _ := testenv.DB(t)
	s := store.New(p)
	m, sub := linkedPair(t, s)
	ids, tr := handedOver(t, s, m, sub, "race-", 2)
	manager := sub.staff[2]

	accept := store.HandoverAnswer{ID: domain.NewID(), LeadID: ids[0], TransferID: tr.ID, Kind: "accept", Actor: manager.ID, AssignTo: sub.staff[0].ID}
	must(t, s.RecordHandoverAnswer(ctx, accept))
	if st, err := s.ApplyHandoverAnswer(ctx, accept.ID); err != nil || st != domain.HandoverAccepted {
		t.Fatalf("accept: %q %v", st, err)
	}
	st, decided, err := s.ExpireHandover(ctx, ids[0], tr.ID)
	if err != nil || st != domain.HandoverAccepted || decided {
		t.Fatalf("expiry after an accepted answer: status %q decided %v err %v; want accepted, not decided by the expiry", st, decided, err)
	}
	l, err := s.GetLead(ctx, sub.org.ID, ids[0])
	must(t, err)
	if l.AssignedTo == nil || *l.AssignedTo != sub.staff[0].ID {
		t.Fatalf("the accepted lead stays with its assignee: %+v", l)
	}

	st, decided, err = s.ExpireHandover(ctx, ids[1], tr.ID)
	if err != nil || st != domain.HandoverExpired || !decided {
		t.Fatalf("expiry of a pending handover: %q %v %v", st, decided, err)
	}
	late := store.HandoverAnswer{ID: domain.NewID(), LeadID: ids[1], TransferID: tr.ID, Kind: "accept", Actor: manager.ID, AssignTo: sub.staff[0].ID}
	must(t, s.RecordHandoverAnswer(ctx, late))
	if _, err := s.ApplyHandoverAnswer(ctx, late.ID); domain.ErrorCode(err) != domain.EConflict {
		t.Fatalf("an answer after the expiry: %v, want a conflict", err)
	}
	if got := handoverStatus(t, p, ids[1], tr.ID); got != domain.HandoverExpired {
		t.Fatalf("the late answer changed the handover: %s", got)
	}
	last, err := s.LastHandoverTo(ctx, ids[1], sub.org.ID)
	if err != nil || last.Status != domain.HandoverExpired || last.Deadline.IsZero() {
		t.Fatalf("the receiving org's last handover of the lead: %+v %v", last, err)
	}
}

// TestLinkAndSettingChangesWithdrawPendingHandovers: unlinking the orgs,
// turning the master's handover_enabled off, or its cross_silo off between
// two sub-agencies sends each pending handover back to the sender as it was,
// withdrawn, in the same transaction; the answers recorded but not applied
// are gone and can no longer decide it. Handovers the change does not touch
// stay pending.
func TestLinkAndSettingChangesWithdrawPendingHandovers(t *testing.T) {
	p, _ := testenv.DB(t)
	s := store.New(p)

	check := func(t *testing.T, withdrawn []store.Handover, from fixture, ids []string, tr store.Transfer, answerID string) {
		t.Helper()
		if len(withdrawn) != len(ids) {
			t.Fatalf("withdrawn %d handovers, want %d: %+v", len(withdrawn), len(ids), withdrawn)
		}
		for _, id := range ids {
			if st := handoverStatus(t, p, id, tr.ID); st != domain.HandoverWithdrawn {
				t.Fatalf("handover of %s is %s, want withdrawn", id, st)
			}
			l, err := s.GetLead(ctx, from.org.ID, id)
			if err != nil {
				t.Fatalf("the lead is back with the sender: %v", err)
			}
			if l.AssignedTo == nil || l.Location != nil {
				t.Fatalf("back as it was (assigned, out of the pipeline): %+v", l)
			}
			if last := l.Timeline[len(l.Timeline)-1]; last.Kind != "handover_withdrawn" {
				t.Fatalf("the timeline says withdrawn: %+v", last)
			}
		}
		if n := count(t, p, `SELECT count(*) FROM handover_answers WHERE transfer_id = $1`, tr.ID); n != 0 {
			t.Fatalf("%d answers left for a withdrawn handover", n)
		}
		if _, err := s.ApplyHandoverAnswer(ctx, answerID); domain.ErrorCode(err) != domain.EConflict {
			t.Fatalf("an answer the withdrawal overtook: %v, want a conflict", err)
		}
	}
	answer := func(t *testing.T, to fixture, leadID string, tr store.Transfer) string {
		a := store.HandoverAnswer{ID: domain.NewID(), LeadID: leadID, TransferID: tr.ID, Kind: "accept", Actor: to.staff[2].ID, AssignTo: to.staff[0].ID}
		must(t, s.RecordHandoverAnswer(ctx, a))
		return a.ID
	}

	t.Run("unlink", func(t *testing.T) {
		m, sub := linkedPair(t, s)
		_, _, err := s.UpdateOrg(ctx, m.org.ID, store.OrgPatch{HandoverEnabled: &yes})
		must(t, err)
		other := seed(t, s, 3, domain.SourceConfig{})
		must(t, s.LinkOrgs(ctx, m.org.ID, other.org.ID))
		ids, tr := handedOver(t, s, m, sub, "unlink-", 2)
		kept, keptTr := handedOver(t, s, m, other, "kept-", 1)
		a := answer(t, sub, ids[0], tr)
		withdrawn, err := s.Unlink(ctx, m.org.ID, sub.org.ID)
		must(t, err)
		check(t, withdrawn, m, ids, tr, a)
		if st := handoverStatus(t, p, kept[0], keptTr.ID); st != domain.HandoverPending {
			t.Fatalf("a handover to another, still linked sub-agency: %s", st)
		}
	})
	t.Run("handover_enabled off", func(t *testing.T) {
		m, sub := linkedPair(t, s)
		_, _, err := s.UpdateOrg(ctx, m.org.ID, store.OrgPatch{HandoverEnabled: &yes})
		must(t, err)
		ids, tr := handedOver(t, s, m, sub, "off-", 2)
		a := answer(t, sub, ids[1], tr)
		if _, w, err := s.UpdateOrg(ctx, m.org.ID, store.OrgPatch{CrossSilo: &yes}); err != nil || len(w) != 0 {
			t.Fatalf("a change that keeps handovers allowed withdrew %v (%v)", w, err)
		}
		_, withdrawn, err := s.UpdateOrg(ctx, m.org.ID, store.OrgPatch{HandoverEnabled: &no})
		must(t, err)
		check(t, withdrawn, m, ids, tr, a)
	})
	t.Run("cross_silo off", func(t *testing.T) {
		m, a := linkedPair(t, s)
		b := seed(t, s, 3, domain.SourceConfig{})
		must(t, s.LinkOrgs(ctx, m.org.ID, b.org.ID))
		_, _, err := s.UpdateOrg(ctx, m.org.ID, store.OrgPatch{HandoverEnabled: &yes, CrossSilo: &yes})
		must(t, err)
		ids, tr := handedOver(t, s, a, b, "silo-", 1)
		down, downTr := handedOver(t, s, m, b, "down-", 1)
		ans := answer(t, b, ids[0], tr)
		_, withdrawn, err := s.UpdateOrg(ctx, m.org.ID, store.OrgPatch{CrossSilo: &no})
		must(t, err)
		check(t, withdrawn, a, ids, tr, ans)
		if st := handoverStatus(t, p, down[0], downTr.ID); st != domain.HandoverPending {
			t.Fatalf("a handover from the master, which cross_silo does not govern: %s", st)
		}
	})
}
