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

// LinkProblem is why a link between two orgs does not carry a transfer of
// a mode: the one answer the request's check and every batch's re-check
// read, so a transfer that was allowed when asked stops when it no longer is.
type LinkProblem int

// The link problems.
const (
	LinkOK LinkProblem = iota
	// LinkNone: the orgs are not (or no longer) directly linked.
	LinkNone
	// LinkCrossSiloOff: sub-agencies of one master whose master does not
	// (or no longer) enable cross_silo.
	LinkCrossSiloOff
	// LinkUpNotHandover: a sub-agency sends to its master by handover only.
	LinkUpNotHandover
	// LinkHandoverOff: a handover where the master does not (or no longer)
	// enable handover_enabled.
	LinkHandoverOff
)

// CheckLink applies the direction rules of SPEC §5.3 to a link and a mode:
// a master sends leads down with any mode; a sub-agency sends them up only
// by handover; sub-agencies of one master send them to each other only when
// that master enabled cross_silo; a handover needs the master's
// handover_enabled. parent is the master of the link (from, to, or their
// common parent).
func CheckLink(dir TransferDirection, parent LinkedOrg, mode TransferMode) LinkProblem {
	switch {
	case dir == DirectionNone:
		return LinkNone
	case dir == DirectionSibling && !parent.CrossSilo:
		return LinkCrossSiloOff
	case dir == DirectionUp && mode != TransferManagerReview:
		return LinkUpNotHandover
	case mode == TransferManagerReview && !parent.HandoverEnabled:
		return LinkHandoverOff
	}
	return LinkOK
}

// StopReason is what a lead a running transfer could no longer move says,
// in the sending org's words, when its link stopped carrying the transfer.
func (p LinkProblem) StopReason() string {
	switch p {
	case LinkNone:
		return "orgs no longer linked: the transfer stopped"
	case LinkCrossSiloOff:
		return "cross_silo turned off at the master: the transfer stopped"
	case LinkUpNotHandover:
		return "the orgs' link changed: a sub-agency hands leads to its master by handover only; the transfer stopped"
	case LinkHandoverOff:
		return "handover turned off at the master (handover_enabled): the transfer stopped"
	}
	return ""
}

// CheckTransfer applies CheckLink to a request, and a handover's need for a
// caller with a sales licence. A refused direction is EForbidden; a mode
// the direction does not take is EInvalid on "mode".
func CheckTransfer(dir TransferDirection, parent LinkedOrg, mode TransferMode, callerLicensed bool) error {
	switch CheckLink(dir, parent, mode) {
	case LinkNone:
		return Errorf(EForbidden, "leads move only between linked orgs: a master and its sub-agency, or two sub-agencies of one master")
	case LinkCrossSiloOff:
		return Errorf(EForbidden, "sub-agencies move leads to each other only when their master enables cross_silo")
	case LinkUpNotHandover:
		return &Error{Code: EInvalid, Message: "a sub-agency hands leads to its master by handover only",
			Fields: map[string]string{"mode": "must be manager_review from a sub-agency to its master"}}
	case LinkHandoverOff:
		return Errorf(EForbidden, "handover is not enabled: the master org must set handover_enabled")
	}
	if mode == TransferManagerReview && !callerLicensed {
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

// AnswersHandovers reports whether r may accept or reject the handovers
// waiting in its org's manager pipeline, and so read that pipeline.
func (r Role) AnswersHandovers() bool {
	return r == RoleManager || r == RoleOwner || r == RoleAdmin
}
