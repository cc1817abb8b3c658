package workflows

import (
	"go.temporal.io/sdk/temporal"
)

// Search attributes operators filter runs by in the Web UI.
var (
	OrgIDKey      = temporal.NewSearchAttributeKeyKeyword("OrgID")
	LeadSourceKey = temporal.NewSearchAttributeKeyKeyword("LeadSource")
	LeadIDKey     = temporal.NewSearchAttributeKeyKeyword("LeadID")
	LeadStatusKey = temporal.NewSearchAttributeKeyKeyword("LeadStatus")
	// ExternalIDKey holds the vendor's id, which never enters a workflow ID.
	ExternalIDKey = temporal.NewSearchAttributeKeyKeyword("ExternalID")
)

// LeadSearchAttributes are the five a lead's run starts with: its org,
// source, lead, status and the vendor's id.
func LeadSearchAttributes(org, slug, leadID, status, ext string) temporal.SearchAttributes {
	return temporal.NewSearchAttributes(OrgIDKey.ValueSet(org), LeadSourceKey.ValueSet(slug),
		LeadIDKey.ValueSet(leadID), LeadStatusKey.ValueSet(status), ExternalIDKey.ValueSet(ext))
}

// SearchAttributes lists them for registration.
var SearchAttributes = []temporal.SearchAttributeKey{OrgIDKey, LeadSourceKey, LeadIDKey, LeadStatusKey, ExternalIDKey}

// SearchAttributeNames are their names, for `temporal server start-dev --search-attribute`.
func SearchAttributeNames() []string {
	n := make([]string, len(SearchAttributes))
	for i, k := range SearchAttributes {
		n[i] = k.GetName()
	}
	return n
}

// DistributionSearchAttributes are what a distribution's runs are found by
// in the Web UI: the org and the source. Schedule runs also carry Temporal's
// own TemporalScheduledById.
func DistributionSearchAttributes(orgID, slug string) temporal.SearchAttributes {
	return temporal.NewSearchAttributes(OrgIDKey.ValueSet(orgID), LeadSourceKey.ValueSet(slug))
}
