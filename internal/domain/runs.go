package domain

// RunRef says what a run's summary in the Temporal Web UI should call by
// name: an org (OrgID), the org a lead or transfer goes to (ToOrgID), a lead
// (LeadID: its external id and the source that received it) and, without a
// lead, a source by its slug at OrgID. Any part may be empty.
type RunRef struct {
	OrgID, ToOrgID, LeadID, Slug string
}

// RunNames are the names a run's summary shows beside the ids it was asked
// about: org and source names and the vendor's external id, which are
// business names and keys, never a person's data. A name that could not be
// read is "": the summary then shows the id instead.
type RunNames struct {
	RunRef     // Slug is the lead's when LeadID was given
	Org, ToOrg string
	Source     string // the source that received the lead, or OrgID's source for Slug
	ExternalID string
}
