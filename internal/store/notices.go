package store

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// RecordedDecision reads back the decision already made for one hop, with
// everything its emails show: the lead's data, the hop's source and its
// purchase-notification addresses. It never routes; a hop not yet routed is
// not found. Workflows carry ids only, and the email activities read the rest
// here.
func (s *Store) RecordedDecision(ctx context.Context, req RouteRequest) (Decision, error) {
	var d Decision
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		l, err := readLead(ctx, tx, req.LeadID)
		if err != nil {
			return err
		}
		d = l.decision(req.OrgID)
		src, err := l.source(ctx, tx, d.OrgID)
		if err != nil {
			return err
		}
		if src != nil { // a sub-agency without this slug notifies no one
			d.SourceName, d.PurchaseEmails = src.name, src.purchaseEmails
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
