package workflows

// LeadWorkflowID names a lead's first run. The lead's id is minted by
// leadrelay and stands for the business key (source, external_id) through
// the unique key in PostgreSQL, so a repeated post finds the same run while
// the ID stays short printable ASCII whatever the vendor sends (the readable
// keys are search attributes). Temporal's SQL stores cap IDs at 255 bytes.
func LeadWorkflowID(leadID string) string { return "lead/" + leadID }

// HopWorkflowID names the run of one sub-agency hop. It is flat rather than
// nested on the parent's ID, so any depth stays at 82 bytes; a lead visits an
// org at most once per chain because links never form a cycle.
func HopWorkflowID(leadID, orgID string) string { return "lead/" + leadID + "/via/" + orgID }

// ValidWorkflowID is what every Temporal persistence accepts as an ID.
func ValidWorkflowID(id string) bool {
	if id == "" || len(id) > 255 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}
