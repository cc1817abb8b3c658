package domain

// AssignsLeads reports whether r may assign the org's team-owned leads and
// make one of them agent-owned (SPEC §4: owner, admin, manager).
func (r Role) AssignsLeads() bool { return r == RoleOwner || r == RoleAdmin || r == RoleManager }

// Changer is who asks to assign a lead or to transfer its ownership: a user
// of the org that holds it, or the operator's admin token (UserID "").
type Changer struct {
	UserID string
	Role   Role
}

// Operator reports the admin token.
func (c Changer) Operator() bool { return c.UserID == "" }

// Actor is how the timeline names c: the user's id, or "admin".
func (c Changer) Actor() string {
	if c.Operator() {
		return "admin"
	}
	return c.UserID
}

// MayChange says whether c may assign a lead owned by ownerUserID ("" for a
// team-owned lead) or transfer its ownership. Transferring a lead to a user
// is final for the org (SPEC §1): from then on only that user decides, and
// neither the org's admins nor the operator may overrule them.
func (c Changer) MayChange(ownerUserID string) error {
	switch {
	case ownerUserID != "" && c.UserID == ownerUserID:
		return nil
	case ownerUserID != "":
		return Errorf(EForbidden, "the lead is agent-owned: only the user who owns it may assign it or transfer it")
	case c.Operator() || c.Role.AssignsLeads():
		return nil
	}
	return Errorf(EForbidden, "only the org's owner, an admin or a manager may assign a team-owned lead or transfer it")
}
