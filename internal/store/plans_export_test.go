package store

import "time"

// The statements of the hot paths, exactly as the store sends them, for
// TestHotQueriesUseIndexes to explain.
const (
	InsertLeadSQL    = insertLeadSQL
	RepeatOfSQL      = repeatOfSQL
	DuplicateLeadSQL = duplicateLeadSQL
	LeadRowSQL       = leadRowSQL
	RereadSQL        = rereadSQL
	StaffMembersSQL  = staffMembersSQL
	OpenLeadsSQL     = openLeadsSQL
	ClaimOrderSQL    = claimOrderSQL
	NewClaimSQL      = newClaimSQL
	LockClaimedSQL   = lockClaimedSQL
	LockOwnedSQL     = lockOwnedSQL
	BatchItemsSQL    = batchItemsSQL
	BatchLeadsSQL    = batchLeadsSQL
	MoveLeadsSQL     = moveLeadsSQL
	FeedPageSQL      = feedPageSQL
	DigestContentSQL = digestContentSQL
	UncoveredDaysSQL = uncoveredDaysSQL
	SpeedSQL         = speedSQL

	// GetLead's lead read, and the paged timeline read (issue 20): a page
	// of events before a cursor, and one more to know a next page exists.
	LeadByIDSQL     = leadByIDSQL
	TimelinePageSQL = timelinePageSQL
)

// ListLeadsQueryForTest is ListLeads' statement for f and its arguments,
// the first of them the mode ListLeads sends it in.
func ListLeadsQueryForTest(orgID string, f LeadFilter) (string, []any, error) {
	return listLeadsQuery(orgID, &f)
}

// VendorReturnsQueryForTest is VendorReturns' statement and its arguments.
func VendorReturnsQueryForTest(sourceID string, since time.Time, cursor string, limit int) (string, []any, error) {
	return vendorReturnsQuery(sourceID, since, cursor, limit)
}

// CursorForTest is the page cursor that continues after (at, id).
func CursorForTest(at time.Time, id string) string { return encodeCursor(at, id) }
