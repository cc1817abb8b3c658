package domain

import "time"

// TransferMode is how a transfer places leads in the receiving org (SPEC §5.3).
type TransferMode string

// The transfer modes.
const (
	// TransferOwner assigns every moved lead to the receiving org's owner.
	TransferOwner TransferMode = "owner"
	// TransferStaffEvenly rotates moved leads over the receiving org's
	// rotating staff, continuing where its last transfer left off.
	TransferStaffEvenly TransferMode = "staff_evenly"
	// TransferManagerReview is the handover: each lead waits in the
	// receiving org's manager pipeline to be accepted or rejected back.
	TransferManagerReview TransferMode = "manager_review"
)

// Valid reports whether m is one of the modes.
func (m TransferMode) Valid() bool {
	return m == TransferOwner || m == TransferStaffEvenly || m == TransferManagerReview
}

// LinkedOrg is what the direction rules read of an org.
type LinkedOrg struct {
	ID              string
	ParentID        string // "" for a top-level org
	HandoverEnabled bool
	CrossSilo       bool
}

// TransferDirection names how two orgs are linked, as the rules see it.
type TransferDirection string

// The directions.
const (
	DirectionDown    TransferDirection = "master to sub-agency"
	DirectionUp      TransferDirection = "sub-agency to master"
	DirectionSibling TransferDirection = "between sub-agencies of one master"
	DirectionNone    TransferDirection = ""
)

// Direction is how from and to are linked. Only direct links count: a lead
// moves one level at a time, so each move is reviewed by the orgs it joins.
func Direction(from, to LinkedOrg) TransferDirection {
	switch {
	case to.ParentID != "" && to.ParentID == from.ID:
		return DirectionDown
	case from.ParentID != "" && from.ParentID == to.ID:
		return DirectionUp
	case from.ParentID != "" && from.ParentID == to.ParentID:
		return DirectionSibling
	}
	return DirectionNone
}

// CheckTransfer applies the direction rules of SPEC §5.3 to a request: a
// master sends leads down with any mode; a sub-agency sends them up only by
// handover; sub-agencies of one master send them to each other only when
// that master enabled cross_silo. A handover needs the parent's
// handover_enabled and a caller with a sales licence. parent is the master
// of the link (from, to, or their common parent). A refused direction is
// EForbidden; a mode the direction does not take is EInvalid on "mode".
func CheckTransfer(dir TransferDirection, parent LinkedOrg, mode TransferMode, callerLicensed bool) error {
	switch dir {
	case DirectionNone:
		return Errorf(EForbidden, "leads move only between linked orgs: a master and its sub-agency, or two sub-agencies of one master")
	case DirectionSibling:
		if !parent.CrossSilo {
			return Errorf(EForbidden, "sub-agencies move leads to each other only when their master enables cross_silo")
		}
	case DirectionUp:
		if mode != TransferManagerReview {
			return &Error{Code: EInvalid, Message: "a sub-agency hands leads to its master by handover only",
				Fields: map[string]string{"mode": "must be manager_review from a sub-agency to its master"}}
		}
	}
	if mode != TransferManagerReview {
		return nil
	}
	if !parent.HandoverEnabled {
		return Errorf(EForbidden, "handover is not enabled: the master org must set handover_enabled")
	}
	if !callerLicensed {
		return Errorf(EForbidden, "only users with a sales licence (manager, professional) hand over leads")
	}
	return nil
}

// Handover statuses.
const (
	HandoverPending  = "pending"
	HandoverAccepted = "accepted"
	HandoverRejected = "rejected"
	HandoverExpired  = "expired"
	// HandoverWithdrawn: the link or setting that allowed it went away
	// while it waited (unlink, handover_enabled or cross_silo off).
	HandoverWithdrawn = "withdrawn"
)

// HandoverTTL is how long a handed-over lead waits for a manager's review
// before it goes back to the sender by itself: a lead never waits for ever
// in a pipeline nobody watches.
const HandoverTTL = 30 * 24 * time.Hour
