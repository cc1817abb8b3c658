package store

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/leadrelay/leadrelay/internal/domain"
)

// Group is a named set of an org's users a rule rotates over, each with a
// weight (its share of the group's leads).
type Group struct {
	ID      string        `json:"id"`
	Name    string        `json:"name"`
	Members []GroupMember `json:"members"`
}

// GroupMember is one user of a group; Name is the user's, for display.
type GroupMember struct {
	UserID string `json:"user_id"`
	Name   string `json:"name"`
	Weight int    `json:"weight"`
}

var groupName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// GroupNameRule is what a group's name must look like.
const GroupNameRule = "lowercase letters, digits, - and _, starting with a letter or digit, at most 64"

// ValidGroupName reports whether name can name a group.
func ValidGroupName(name string) bool { return groupName.MatchString(name) }

// ListGroups returns the org's groups by name, members by name.
func (s *Store) ListGroups(ctx context.Context, orgID string) ([]Group, error) {
	rows, err := s.db.Query(ctx, `SELECT g.id, g.name, m.user_id, u.name, m.weight
		FROM groups g LEFT JOIN group_members m ON m.group_id = g.id LEFT JOIN users u ON u.id = m.user_id
		WHERE g.org_id = $1 ORDER BY g.name, u.name, m.user_id`, orgID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Group{}
	for rows.Next() {
		var id, name string
		var uid, uname *string
		var weight *int
		if err := rows.Scan(&id, &name, &uid, &uname, &weight); err != nil {
			return nil, err
		}
		if len(out) == 0 || out[len(out)-1].ID != id {
			out = append(out, Group{ID: id, Name: name, Members: []GroupMember{}})
		}
		if uid != nil {
			g := &out[len(out)-1]
			g.Members = append(g.Members, GroupMember{UserID: *uid, Name: *uname, Weight: *weight})
		}
	}
	return out, rows.Err()
}

// PutGroup creates the org's group name or replaces its members, in one
// transaction; created says which. Members must be active users of the org
// (else 422 members[i].user_id), weights 1..100, each user once.
func (s *Store) PutGroup(ctx context.Context, orgID, name string, members []GroupMember) (g Group, created bool, err error) {
	if !ValidGroupName(name) {
		return Group{}, false, &domain.Error{Code: domain.EInvalid, Message: "invalid group", Fields: map[string]string{"name": GroupNameRule}}
	}
	f := domain.FieldErrors{}
	seen := map[string]int{}
	for i := range members {
		m := &members[i]
		if m.Weight < 1 || m.Weight > 100 {
			f.Add(fmt.Sprintf("members[%d].weight", i), "1 to 100")
		}
		id, ok := domain.NormalID(m.UserID)
		if !ok {
			f.Add(fmt.Sprintf("members[%d].user_id", i), "a user id of this org")
			continue
		}
		m.UserID = id
		if j, dup := seen[id]; dup {
			f.Add(fmt.Sprintf("members[%d].user_id", i), fmt.Sprintf("already a member (members[%d])", j))
		}
		seen[id] = i
	}
	// Every problem is named at once: the members are looked up even when
	// another field is already wrong.
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		// The members' rows are share-locked so a user cannot be
		// deactivated between the check and the insert.
		ids := make([]string, 0, len(members))
		for _, m := range members {
			if domain.ValidUUID(m.UserID) {
				ids = append(ids, m.UserID)
			}
		}
		active := map[string]string{}
		rows, err := tx.Query(ctx, `SELECT id, name FROM users WHERE id = ANY($1::uuid[]) AND org_id = $2 AND active ORDER BY id FOR SHARE`, ids, orgID)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id, n string
			if err := rows.Scan(&id, &n); err != nil {
				rows.Close()
				return err
			}
			active[id] = n
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for i := range members {
			n, ok := active[members[i].UserID]
			if !ok {
				f.Add(fmt.Sprintf("members[%d].user_id", i), "not an active user of this org")
			}
			members[i].Name = n
		}
		if err := f.Err("invalid group"); err != nil {
			return err
		}
		err = tx.QueryRow(ctx, `INSERT INTO groups (org_id, name) VALUES ($1, $2) ON CONFLICT (org_id, name)
			DO UPDATE SET updated_at = now() RETURNING id, (xmax = 0)`, orgID, name).Scan(&g.ID, &created)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM group_members WHERE group_id = $1`, g.ID); err != nil {
			return err
		}
		for _, m := range members {
			if _, err := tx.Exec(ctx, `INSERT INTO group_members (group_id, user_id, weight) VALUES ($1, $2, $3)`, g.ID, m.UserID, m.Weight); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Group{}, false, err
	}
	g.Name, g.Members = name, members
	if g.Members == nil {
		g.Members = []GroupMember{}
	}
	return g, created, nil
}

// DeleteGroup removes the org's group unless a source routes to it (its
// default rule or one of its rules): 409 naming those sources. The group's
// row is locked first, so a PutSource that checks the group exists (with a
// share lock on it) either finishes before this check sees its rules, or
// waits and finds the group gone.
func (s *Store) DeleteGroup(ctx context.Context, orgID, name string) error {
	if !ValidGroupName(name) {
		return domain.Errorf(domain.ENotFound, "group not found")
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		var id string
		err := tx.QueryRow(ctx, `SELECT id FROM groups WHERE org_id = $1 AND name = $2 FOR UPDATE`, orgID, name).Scan(&id)
		if err != nil {
			return notFound(err, "group")
		}
		rows, err := tx.Query(ctx, `SELECT slug FROM lead_sources WHERE org_id = $1 AND (routing_group = $2
				OR EXISTS (SELECT 1 FROM jsonb_array_elements(rules) r WHERE r->'routing'->>'mode' = 'group' AND r->'routing'->>'group' = $2))
			ORDER BY slug`, orgID, name)
		if err != nil {
			return err
		}
		slugs, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		if len(slugs) > 0 {
			return domain.Errorf(domain.EConflict, "the group is in use by sources: %s (change their routing first)", strings.Join(slugs, ", "))
		}
		_, err = tx.Exec(ctx, `DELETE FROM groups WHERE id = $1`, id)
		return err
	})
}
