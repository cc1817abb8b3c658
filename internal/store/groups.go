package store

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/leadrelay/leadrelay/internal/domain"
)

// A group is a named set of an org's users, each with a weight, that a
// rule rotates over (SPEC §5.6, docs/routing.md "Groups").

// GroupMember is one member of a group with its weight (2: twice the share).
type GroupMember struct {
	UserID string `json:"user_id"`
	Name   string `json:"name"`
	Weight int    `json:"weight"`
}

// Group is a group and its members in the rotation's stable order.
type Group struct {
	ID      string        `json:"id"`
	Name    string        `json:"name"`
	Members []GroupMember `json:"members"`
}

// MaxGroupMembers bounds a group: an org's whole staff fits.
const MaxGroupMembers = 1000

// ListGroups is the org's groups by name.
func (s *Store) ListGroups(ctx context.Context, orgID string) ([]Group, error) {
	groups := []Group{}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id, name FROM groups WHERE org_id = $1 ORDER BY name`, orgID)
		if err != nil {
			return err
		}
		groups, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Group, error) {
			var g Group
			return g, r.Scan(&g.ID, &g.Name)
		})
		if err != nil {
			return err
		}
		for i := range groups {
			if groups[i].Members, err = groupMembers(ctx, tx, groups[i].ID); err != nil {
				return err
			}
		}
		return nil
	})
	return groups, err
}

func groupMembers(ctx context.Context, tx pgx.Tx, groupID string) ([]GroupMember, error) {
	rows, err := tx.Query(ctx, `SELECT u.id, u.name, m.weight FROM group_members m JOIN users u ON u.id = m.user_id
		WHERE m.group_id = $1 ORDER BY u.created_at, u.id`, groupID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (GroupMember, error) {
		var m GroupMember
		return m, r.Scan(&m.UserID, &m.Name, &m.Weight)
	})
}

// GroupProblems checks a group's members before any query: each an id,
// once, with a weight from 1 to 100 (0 or absent: 1).
func GroupProblems(members []GroupMember) error {
	f := domain.FieldErrors{}
	if len(members) > MaxGroupMembers {
		f.Add("members", fmt.Sprintf("at most %d members", MaxGroupMembers))
	}
	seen := map[string]bool{}
	for i := range members {
		m := &members[i]
		at := fmt.Sprintf("members[%d]", i)
		id, ok := domain.NormalID(m.UserID)
		switch {
		case !ok:
			f.Add(at+".user_id", "the id of one of the org's users")
		case seen[id]:
			f.Add(at+".user_id", "listed twice")
		}
		seen[id], m.UserID = true, id
		if m.Weight == 0 {
			m.Weight = 1
		}
		if m.Weight < 1 || m.Weight > 100 {
			f.Add(at+".weight", "a whole number from 1 to 100")
		}
	}
	return f.Err("invalid group")
}

// PutGroup creates the org's group or replaces its members; created says
// which. Every member must be an active user of the org.
func (s *Store) PutGroup(ctx context.Context, orgID, name string, members []GroupMember) (Group, bool, error) {
	if !domain.ValidSlug(name) {
		return Group{}, false, &domain.Error{Code: domain.EInvalid, Message: "invalid group",
			Fields: map[string]string{"name": "lowercase letters, digits, - and _, at most 64"}}
	}
	if err := GroupProblems(members); err != nil {
		return Group{}, false, err
	}
	g := Group{Name: name}
	var created bool
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		ids := make([]string, len(members))
		for i, m := range members {
			ids[i] = m.UserID
		}
		rows, err := tx.Query(ctx, `SELECT id::text FROM users WHERE org_id = $1 AND active AND id = ANY($2::uuid[])`, orgID, ids)
		if err != nil {
			return err
		}
		ok, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		f := domain.FieldErrors{}
		for i, id := range ids {
			if !slices.Contains(ok, id) {
				f.Add(fmt.Sprintf("members[%d].user_id", i), "not an active user of this org")
			}
		}
		if err := f.Err("invalid group"); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `INSERT INTO groups (org_id, name) VALUES ($1, $2)
			ON CONFLICT (org_id, name) DO UPDATE SET updated_at = now() RETURNING id, xmax = 0`, orgID, name).Scan(&g.ID, &created); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM group_members WHERE group_id = $1`, g.ID); err != nil {
			return err
		}
		weights := make([]int, len(members))
		for i, m := range members {
			weights[i] = m.Weight
		}
		if _, err := tx.Exec(ctx, `INSERT INTO group_members (group_id, user_id, weight)
			SELECT $1, u, w FROM unnest($2::uuid[], $3::int[]) AS x(u, w)`, g.ID, ids, weights); err != nil {
			return err
		}
		g.Members, err = groupMembers(ctx, tx, g.ID)
		return err
	})
	return g, created, err
}

// DeleteGroup deletes the org's group unless a source routes to it: then a
// conflict naming those sources. The group's row is locked first, so a
// source saved meanwhile (which reads it FOR SHARE) is seen or waits.
func (s *Store) DeleteGroup(ctx context.Context, orgID, name string) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		var id string
		if err := tx.QueryRow(ctx, `SELECT id FROM groups WHERE org_id = $1 AND name = $2 FOR UPDATE`, orgID, name).Scan(&id); err != nil {
			return notFound(err, "group")
		}
		rows, err := tx.Query(ctx, `SELECT slug FROM lead_sources WHERE org_id = $1 AND (routing_group = $2
			OR EXISTS (SELECT 1 FROM jsonb_array_elements(rules) r WHERE r->'routing'->>'group' = $2)) ORDER BY slug`, orgID, name)
		if err != nil {
			return err
		}
		using, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		if len(using) > 0 {
			return domain.Errorf(domain.EConflict, "group %s is routed to by source %s: change their rules first", name, strings.Join(using, ", "))
		}
		_, err = tx.Exec(ctx, `DELETE FROM groups WHERE id = $1`, id)
		return err
	})
}
