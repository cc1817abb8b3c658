package store

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/leadrelay/leadrelay/internal/domain"
)

// MaxBulkAssign bounds the leads of one bulk assignment: one transaction
// holds all their row locks, and 1,000 keeps it to well under a second.
const MaxBulkAssign = 1000

// ownedLead is what an assignment or a transfer reads of a lead, under lock.
type ownedLead struct {
	id, orgID string
	owner     *string // nil: team-owned
	assigned  *string
	routed    bool
	state     leadState
}

func (l ownedLead) ownerID() string { return deref(l.owner) }

// lockOwnedSQL locks the leads $1 that org $2 ("" for any) holds.
const lockOwnedSQL = `SELECT l.id, l.org_id, l.owner_user_id, l.assigned_to, l.routed_at IS NOT NULL, ` + leadStateCols + `
	FROM leads l WHERE l.id = ANY($1::uuid[]) AND ($2 = '' OR l.org_id::text = $2) ORDER BY l.id FOR UPDATE OF l`

// lockOwned locks the leads among ids that orgScope holds ("" for any org),
// in id order so concurrent bulk assignments cannot deadlock.
func lockOwned(ctx context.Context, tx pgx.Tx, orgScope string, ids []string) (map[string]ownedLead, error) {
	// A malformed id would fail the whole query on the uuid cast: it is
	// simply not found.
	ids = slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return !domain.ValidUUID(id) })
	rows, err := tx.Query(ctx, lockOwnedSQL, ids, orgScope)
	if err != nil {
		return nil, err
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ownedLead, error) {
		var l ownedLead
		err := r.Scan(&l.id, &l.orgID, &l.owner, &l.assigned, &l.routed, &l.state.status, &l.state.handover)
		return l, err
	})
	out := make(map[string]ownedLead, len(list))
	for _, l := range list {
		out[l.id] = l
	}
	return out, err
}

// member is a user an assignment or a transfer names.
type member struct{ id, name string }

// activeMember reads the user a change names: an active user of orgID, else
// a 422 naming field. The row is locked FOR SHARE, so a deactivation waits
// for this change to commit, and the reroute it starts then sees the lead.
func activeMember(ctx context.Context, tx pgx.Tx, orgID, userID, field string) (member, error) {
	m := member{id: userID}
	if domain.ValidUUID(userID) {
		err := tx.QueryRow(ctx, `SELECT name FROM users WHERE id = $1 AND org_id = $2 AND active FOR SHARE`, userID, orgID).Scan(&m.name)
		if err == nil || err != pgx.ErrNoRows {
			return m, err
		}
	}
	return m, &domain.Error{Code: domain.EInvalid, Message: "not an active user of the org that holds the lead",
		Fields: map[string]string{field: "not an active user of the org that holds the lead"}}
}

// nameOf is how a timeline message names a user, or the operator.
func nameOf(ctx context.Context, tx pgx.Tx, userID string) (string, error) {
	if userID == "" {
		return "the operator", nil
	}
	var name string
	err := tx.QueryRow(ctx, `SELECT name FROM users WHERE id = $1`, userID).Scan(&name)
	return name, err
}

// stillRouting refuses a change to a lead whose routing has not committed:
// the routing transaction would overwrite the assignment a moment later.
func stillRouting(l ownedLead) error {
	if l.routed {
		return nil
	}
	return domain.Errorf(domain.EConflict, "the lead is still being routed: try again in a moment")
}

// AssignLead assigns one lead to userID, keeping its owner (SPEC §1). The
// lead must be held by orgScope ("" for any org: the operator), else it is
// not found; by must be allowed to change it (domain.Changer.MayChange);
// userID must be an active user of the org that holds it (422 user_id).
func (s *Store) AssignLead(ctx context.Context, orgScope string, by domain.Changer, leadID, userID string) error {
	return s.changeLead(ctx, orgScope, by, leadID, func(tx pgx.Tx, l ownedLead) error {
		to, err := activeMember(ctx, tx, l.orgID, userID, "user_id")
		if err != nil {
			return err
		}
		if err := stillRouting(l); err != nil {
			return err
		}
		if err := l.state.routingRefusal("assigned"); err != nil {
			return err
		}
		_, err = assignOwned(ctx, tx, by, l, to)
		return err
	})
}

// changeLead locks one lead that orgScope holds, checks that by may change
// it, and runs change in the same transaction.
func (s *Store) changeLead(ctx context.Context, orgScope string, by domain.Changer, leadID string,
	change func(pgx.Tx, ownedLead) error) error {
	if !domain.ValidUUID(leadID) {
		return domain.Errorf(domain.ENotFound, "lead not found")
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		leads, err := lockOwned(ctx, tx, orgScope, []string{leadID})
		if err != nil {
			return err
		}
		l, ok := leads[leadID]
		if !ok {
			return domain.Errorf(domain.ENotFound, "lead not found")
		}
		if err := by.MayChange(l.ownerID()); err != nil {
			return err
		}
		return change(tx, l)
	})
}

// AssignLeads assigns the org's leads to userID, all or none, keeping each
// one's owner. Every lead is checked as AssignLead checks one; a lead the
// org does not hold is a 422 naming it (lead_ids[i]), like any bad input.
// It returns how many leads changed: one already assigned to userID is left
// as it is, without a timeline event.
func (s *Store) AssignLeads(ctx context.Context, orgID string, by domain.Changer, userID string, leadIDs []string) (int, error) {
	changed := 0
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		leads, err := lockOwned(ctx, tx, orgID, leadIDs)
		if err != nil {
			return err
		}
		missing, denied, busy := domain.FieldErrors{}, domain.FieldErrors{}, domain.FieldErrors{}
		for i, id := range leadIDs {
			field := fmt.Sprintf("lead_ids[%d]", i)
			l, ok := leads[id]
			switch {
			case !ok:
				missing.Add(field, "no such lead in this org")
			case by.MayChange(l.ownerID()) != nil && l.owner != nil:
				denied.Add(field, "agent-owned by another user: only they may assign it")
			case by.MayChange(l.ownerID()) != nil:
				denied.Add(field, "team-owned: only the org's owner, an admin or a manager may assign it")
			case !l.routed:
				busy.Add(field, "still being routed: try again in a moment")
			case l.state.routingRefusalField() != "":
				busy.Add(field, l.state.routingRefusalField())
			}
		}
		if err := missing.Err("invalid lead_ids"); err != nil {
			return err
		}
		if len(denied) > 0 {
			return &domain.Error{Code: domain.EForbidden, Message: "not allowed to assign some of these leads", Fields: denied}
		}
		to, err := activeMember(ctx, tx, orgID, userID, "user_id")
		if err != nil {
			return err
		}
		if len(busy) > 0 {
			return &domain.Error{Code: domain.EConflict, Message: "some leads cannot be assigned now: see each lead's reason", Fields: busy}
		}
		for _, id := range leadIDs {
			did, err := assignOwned(ctx, tx, by, leads[id], to)
			if err != nil {
				return err
			}
			if did {
				changed++
			}
		}
		return nil
	})
	return changed, err
}

// assignOwned assigns a locked lead to `to` and writes the "assigned" event
// that says who did it and who still owns the lead. A lead already assigned
// to them is left alone.
func assignOwned(ctx context.Context, tx pgx.Tx, by domain.Changer, l ownedLead, to member) (bool, error) {
	if deref(l.assigned) == to.id {
		return false, nil
	}
	byName, err := nameOf(ctx, tx, by.UserID)
	if err != nil {
		return false, err
	}
	owner := "the team still owns it"
	if l.owner != nil {
		name, err := nameOf(ctx, tx, *l.owner)
		if err != nil {
			return false, err
		}
		owner = name + " still owns it"
	}
	if _, err := tx.Exec(ctx, `UPDATE leads SET assigned_to = $2, location = NULL, updated_at = now() WHERE id = $1`,
		l.id, to.id); err != nil {
		return false, err
	}
	return true, addEvent(ctx, tx, l.id, l.orgID, "assigned", by.Actor(),
		fmt.Sprintf("assigned to %s by %s; %s", to.name, byName, owner),
		map[string]any{"assigned_to": to.id, "previous": l.assigned})
}

// TransferOwnership makes userID the lead's owner and assignee, or, with
// userID nil, makes the lead team-owned again (its assignee stays). On a
// team-owned lead the org's owner, admins and managers (and the operator)
// may do it; on an agent-owned one only the user who owns it. Asking for
// the owner the lead already has changes nothing.
func (s *Store) TransferOwnership(ctx context.Context, orgScope string, by domain.Changer, leadID string, userID *string) error {
	return s.changeLead(ctx, orgScope, by, leadID, func(tx pgx.Tx, l ownedLead) error {
		var to *member
		if userID != nil {
			m, err := activeMember(ctx, tx, l.orgID, *userID, "user_id")
			if err != nil {
				return err
			}
			to = &m
		}
		if err := stillRouting(l); err != nil {
			return err
		}
		if err := l.state.routingRefusal("given another owner"); err != nil {
			return err
		}
		if (to == nil && l.owner == nil) || (to != nil && l.ownerID() == to.id) {
			return nil
		}
		return transferOwned(ctx, tx, by, l, to)
	})
}

// transferOwned writes the new owner (nil: the team) and the "ownership"
// event that explains it.
func transferOwned(ctx context.Context, tx pgx.Tx, by domain.Changer, l ownedLead, to *member) error {
	byName, err := nameOf(ctx, tx, by.UserID)
	if err != nil {
		return err
	}
	from := "the team"
	if l.owner != nil {
		if from, err = nameOf(ctx, tx, *l.owner); err != nil {
			return err
		}
	}
	data := map[string]any{"previous_owner": l.owner}
	var msg string
	if to == nil {
		_, err = tx.Exec(ctx, `UPDATE leads SET owner_user_id = NULL, updated_at = now() WHERE id = $1`, l.id)
		msg = fmt.Sprintf("given back to the team by %s: the org owns it again", byName)
		data["owner_user_id"] = nil
	} else {
		_, err = tx.Exec(ctx, `UPDATE leads SET owner_user_id = $2, assigned_to = $2, location = NULL, updated_at = now() WHERE id = $1`,
			l.id, to.id)
		msg = fmt.Sprintf("ownership transferred from %s to %s by %s, and assigned to %s: only %s may give it back",
			from, to.name, byName, to.name, to.name)
		data["owner_user_id"], data["assigned_to"] = to.id, to.id
	}
	if err != nil {
		return err
	}
	return addEvent(ctx, tx, l.id, l.orgID, "ownership", by.Actor(), msg, data)
}
