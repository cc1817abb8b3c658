package domain

import (
	"strings"
	"testing"
)

// TestTransferDirections is SPEC §5.3's table: every direction with every
// mode and the settings that open or close it.
func TestTransferDirections(t *testing.T) {
	t.Parallel()
	master := LinkedOrg{ID: "m"}
	sub1 := LinkedOrg{ID: "s1", ParentID: "m"}
	sub2 := LinkedOrg{ID: "s2", ParentID: "m"}
	subsub := LinkedOrg{ID: "ss", ParentID: "s1"}
	stranger := LinkedOrg{ID: "x"}
	for _, c := range []struct {
		from, to LinkedOrg
		want     TransferDirection
	}{
		{master, sub1, DirectionDown}, {sub1, master, DirectionUp}, {sub1, sub2, DirectionSibling},
		{sub1, subsub, DirectionDown}, {master, subsub, DirectionNone}, {subsub, sub2, DirectionNone},
		{master, stranger, DirectionNone}, {stranger, master, DirectionNone}, {master, master, DirectionNone},
	} {
		if got := Direction(c.from, c.to); got != c.want {
			t.Errorf("%s → %s: %q, want %q", c.from.ID, c.to.ID, got, c.want)
		}
	}

	plain, handover, crossSilo, both := LinkedOrg{ID: "m"}, LinkedOrg{ID: "m", HandoverEnabled: true},
		LinkedOrg{ID: "m", CrossSilo: true}, LinkedOrg{ID: "m", HandoverEnabled: true, CrossSilo: true}
	const ok = ""
	for _, c := range []struct {
		name     string
		dir      TransferDirection
		parent   LinkedOrg
		mode     TransferMode
		licensed bool
		want     string // "" allowed, else the code
	}{
		{"down owner", DirectionDown, plain, TransferOwner, false, ok},
		{"down staff_evenly", DirectionDown, plain, TransferStaffEvenly, false, ok},
		{"down handover, not enabled", DirectionDown, plain, TransferManagerReview, true, EForbidden},
		{"down handover", DirectionDown, handover, TransferManagerReview, true, ok},
		{"down handover without a licence", DirectionDown, handover, TransferManagerReview, false, EForbidden},
		{"up owner", DirectionUp, both, TransferOwner, true, EInvalid},
		{"up staff_evenly", DirectionUp, both, TransferStaffEvenly, true, EInvalid},
		{"up handover", DirectionUp, handover, TransferManagerReview, true, ok},
		{"up handover, not enabled", DirectionUp, crossSilo, TransferManagerReview, true, EForbidden},
		{"sibling without cross_silo", DirectionSibling, handover, TransferOwner, true, EForbidden},
		{"sibling owner", DirectionSibling, crossSilo, TransferOwner, false, ok},
		{"sibling staff_evenly", DirectionSibling, crossSilo, TransferStaffEvenly, false, ok},
		{"sibling handover, not enabled", DirectionSibling, crossSilo, TransferManagerReview, true, EForbidden},
		{"sibling handover", DirectionSibling, both, TransferManagerReview, true, ok},
		{"unlinked", DirectionNone, both, TransferOwner, true, EForbidden},
	} {
		err := CheckTransfer(c.dir, c.parent, c.mode, c.licensed)
		if got := codeOf(err); got != c.want {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
		if c.want == EInvalid && err.(*Error).Fields["mode"] == "" {
			t.Errorf("%s: the refusal must name the mode field", c.name)
		}
	}
}

func codeOf(err error) string {
	if err == nil {
		return ""
	}
	return ErrorCode(err)
}

// TestCheckLinkIsTheRequestsRule: a running transfer's batches stop on
// exactly the links and settings a new request is refused for, each with
// its own reason, so the sender reads why the rest did not move.
func TestCheckLinkIsTheRequestsRule(t *testing.T) {
	plain, handover, crossSilo := LinkedOrg{ID: "m"}, LinkedOrg{ID: "m", HandoverEnabled: true}, LinkedOrg{ID: "m", CrossSilo: true}
	for _, c := range []struct {
		name   string
		dir    TransferDirection
		parent LinkedOrg
		mode   TransferMode
		want   LinkProblem
		reason string
	}{
		{"still linked", DirectionDown, plain, TransferOwner, LinkOK, ""},
		{"unlinked", DirectionNone, handover, TransferOwner, LinkNone, "orgs no longer linked"},
		{"cross_silo off", DirectionSibling, handover, TransferStaffEvenly, LinkCrossSiloOff, "cross_silo turned off"},
		{"handover off", DirectionDown, crossSilo, TransferManagerReview, LinkHandoverOff, "handover turned off"},
		{"sibling handover off", DirectionSibling, crossSilo, TransferManagerReview, LinkHandoverOff, "handover turned off"},
		{"relinked the other way", DirectionUp, handover, TransferOwner, LinkUpNotHandover, "by handover only"},
	} {
		got := CheckLink(c.dir, c.parent, c.mode)
		if got != c.want || (c.reason == "") != (got.StopReason() == "") || !strings.Contains(got.StopReason(), c.reason) {
			t.Errorf("%s: %v %q, want %v %q", c.name, got, got.StopReason(), c.want, c.reason)
		}
		if (got == LinkOK) != (CheckTransfer(c.dir, c.parent, c.mode, true) == nil) {
			t.Errorf("%s: a batch and a request disagree", c.name)
		}
	}
}
