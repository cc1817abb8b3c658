package store

import (
	"context"

	"github.com/leadrelay/leadrelay/internal/domain"
)

// RunNames reads the names a run's summary shows. It is best effort: a
// summary is a label, so a failed read leaves names empty rather than keep a
// run from starting.
func (s *Store) RunNames(ctx context.Context, r domain.RunRef) domain.RunNames {
	n := domain.RunNames{RunRef: r}
	// Ids that are not UUIDs become "", then NULL, which match nothing, so
	// the query never fails on them (which would abort a transaction).
	uuid := func(id string) string {
		if domain.ValidUUID(id) {
			return id
		}
		return ""
	}
	_ = s.db.QueryRow(ctx, `SELECT
			coalesce((SELECT name FROM orgs WHERE id = nullif($1, '')::uuid), ''),
			coalesce((SELECT name FROM orgs WHERE id = nullif($2, '')::uuid), ''),
			coalesce(l.external_id, ''), coalesce(l.source_slug, $4),
			coalesce(ls.name, (SELECT name FROM lead_sources WHERE org_id = nullif($1, '')::uuid AND slug = $4), '')
		FROM (SELECT nullif($3, '')::uuid AS id) want
		LEFT JOIN leads l ON l.id = want.id
		LEFT JOIN lead_sources ls ON ls.id = l.source_id`, uuid(r.OrgID), uuid(r.ToOrgID), uuid(r.LeadID), r.Slug).
		Scan(&n.Org, &n.ToOrg, &n.ExternalID, &n.Slug, &n.Source)
	return n
}
