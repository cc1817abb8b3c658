package store

import (
	"github.com/leadrelay/leadrelay/internal/domain"
)

// pendingHandoverSQL is true for a lead (aliased l) waiting for a handover
// decision. Every check of that state reads it through this one
// expression, so a route cannot forget a way a handover is pending.
const pendingHandoverSQL = `EXISTS (SELECT 1 FROM handovers h WHERE h.lead_id = l.id AND h.status = 'pending')`

// leadStateCols is what leadState scans, for a lead aliased l. Callers put
// it in the SELECT ... FOR UPDATE that locks the lead, so the state is read
// under the same lock the change is written under: a handover or a return
// committing meanwhile waits, and the change sees it.
const leadStateCols = `l.status, ` + pendingHandoverSQL

// leadState is a lead's routing state as a change reads it under its lock.
type leadState struct {
	status   string
	handover bool // waiting for a handover decision
}

// routingRefusal is why a lead in this state cannot be routed by hand
// (assigned, claimed, released, invalidated, its ownership transferred):
// a returned lead is final (SPEC §5.5: the vendor was told it was returned,
// so nobody works it again), and a lead waiting for a handover decision is
// the manager's to answer, whose accept, reject or expiry would otherwise
// undo the change. verb says what was refused ("assigned"), in the words of
// the 409 the caller sees; nil when the change may go on.
func (st leadState) routingRefusal(verb string) error {
	switch {
	case st.status == domain.StatusReturned:
		return domain.Errorf(domain.EConflict, "the lead was returned to its vendor and cannot be %s: returned leads are final", verb)
	case st.handover:
		return errPendingHandover(verb)
	}
	return nil
}

// routingRefusalField is routingRefusal for one lead of a list: the words a
// field of a 409 carries.
func (st leadState) routingRefusalField() string {
	switch {
	case st.status == domain.StatusReturned:
		return "returned to its vendor: returned leads are final"
	case st.handover:
		return "waiting for a handover decision"
	}
	return ""
}

// errPendingHandover is the 409 for a lead waiting for a handover decision.
func errPendingHandover(verb string) error {
	return domain.Errorf(domain.EConflict, "the lead is waiting for a handover decision: it can be %s once it is answered", verb)
}
