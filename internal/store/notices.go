package store

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"
)

// RecordedDecision reads back the decision already made for one hop, with
// everything its emails show: the lead's data, the hop's source and its
// purchase-notification addresses. It never routes; a hop not yet routed is
// not found. Workflows carry ids only, and the email activities read the rest
// here.
func (s *Store) RecordedDecision(ctx context.Context, req RouteRequest) (Decision, error) {
	d := Decision{LeadID: req.LeadID, OrgID: req.OrgID}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var intake, intakeSource, first, last string
		err := tx.QueryRow(ctx, `SELECT intake_org_id, source_id, source_slug, first_name, last_name, email, phone
			FROM leads WHERE id = $1`, req.LeadID).
			Scan(&intake, &intakeSource, &d.Slug, &first, &last, &d.LeadEmail, &d.LeadPhone)
		if err != nil {
			return notFound(err, "lead")
		}
		d.LeadName = strings.TrimSpace(first + " " + last)
		if d.OrgID == "" {
			d.OrgID = intake
		}
		err = tx.QueryRow(ctx, `SELECT name, purchase_notification_emails FROM lead_sources
			WHERE CASE WHEN $1::uuid = $2::uuid THEN id = $3 ELSE org_id = $1 AND slug = $4 END`,
			d.OrgID, intake, intakeSource, d.Slug).Scan(&d.SourceName, &d.PurchaseEmails)
		if err != nil && err != pgx.ErrNoRows { // a sub-agency without this slug notifies no one
			return err
		}
		return reread(ctx, tx, &d)
	})
	return d, err
}

// LinkNotice is what the confirmation of an accepted invitation says.
type LinkNotice struct {
	MasterOrgID, SubOrgID                         string
	MasterName, MasterOwnerEmail, MasterOwnerName string
	SubName, SubOwnerEmail                        string
}

// LinkNotice reads the link an accepted invitation made, with both owners.
func (s *Store) LinkNotice(ctx context.Context, invitationID string) (LinkNotice, error) {
	var n LinkNotice
	err := s.db.QueryRow(ctx, `SELECT m.id, c.id, m.name, mu.email, mu.name, c.name, cu.email
		FROM invitations i
		JOIN orgs m ON m.id = i.org_id JOIN users mu ON mu.org_id = m.id AND mu.role = 'owner'
		JOIN orgs c ON c.id = i.sub_org_id JOIN users cu ON cu.org_id = c.id AND cu.role = 'owner'
		WHERE i.id = $1 AND i.status = 'accepted'`, invitationID).
		Scan(&n.MasterOrgID, &n.SubOrgID, &n.MasterName, &n.MasterOwnerEmail, &n.MasterOwnerName, &n.SubName, &n.SubOwnerEmail)
	return n, notFound(err, "accepted invitation")
}
