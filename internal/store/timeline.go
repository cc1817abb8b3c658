package store

import (
	"context"
	"slices"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/leadrelay/leadrelay/internal/domain"
)

// LeadTimelineEvents is how many of its latest events a lead read carries.
// Repeated claim/expire cycles grow a timeline without bound, so a lead
// read costs the same on its thousandth event as on its fifth; 50 holds
// the whole history of almost every lead, and the rest is paged.
const LeadTimelineEvents = 50

// MaxTimelinePage bounds one page of GET /v1/leads/{id}/timeline.
const MaxTimelinePage = 200

// LeadTimeline is the part of its timeline a lead read carries: the latest
// events, oldest first, and the cursor to the ones before them, nil when
// these reach back to the lead's first event.
type LeadTimeline struct {
	Timeline           []Event `json:"timeline"`
	TimelineNextCursor *string `json:"timeline_next_cursor"`
}

// Timeline pages a lead's timeline back in time, only if orgID holds the
// lead (a lead of another org is "not found"; orgID "" means any): without
// a cursor the latest limit events, with one the limit events just before
// the page it came from. Each page is oldest first, like a lead read's. The
// cursor is an event id, and every read is scoped by the lead: a cursor
// from another lead's timeline shows nothing of that lead.
func (s *Store) Timeline(ctx context.Context, orgID, leadID, cursor string, limit int) ([]Event, string, error) {
	before, err := beforeID(cursor)
	if err != nil {
		return nil, "", err
	}
	if !domain.ValidUUID(leadID) {
		return nil, "", domain.Errorf(domain.ENotFound, "lead not found")
	}
	var held bool
	if err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM leads WHERE id = $1 AND ($2 = '' OR org_id::text = $2))`,
		leadID, orgID).Scan(&held); err != nil {
		return nil, "", err
	}
	if !held {
		return nil, "", domain.Errorf(domain.ENotFound, "lead not found")
	}
	return s.timelinePage(ctx, leadID, before, limit)
}

const timelinePageSQL = `SELECT id, at, kind, actor, message, data FROM timeline_events
		WHERE lead_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3`

// timelinePage reads the limit events of a lead just before the event id
// before, through the timeline_lead index (lead_id, id) backwards, and
// answers them oldest first with the cursor to the page before them.
func (s *Store) timelinePage(ctx context.Context, leadID string, before int64, limit int) ([]Event, string, error) {
	rows, err := s.db.Query(ctx, timelinePageSQL, leadID, before, limit+1)
	if err != nil {
		return nil, "", err
	}
	events, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Event, error) {
		var e Event
		err := r.Scan(&e.ID, &e.At, &e.Kind, &e.Actor, &e.Message, &e.Data)
		return e, err
	})
	if err != nil {
		return nil, "", err
	}
	events, next := idPage(events, limit, func(e Event) int64 { return e.ID })
	slices.Reverse(events)
	if events == nil {
		events = []Event{}
	}
	return events, next, nil
}

// fromNewest is the "before" of a first page: above every id.
const fromNewest = int64(1<<63 - 1)

// beforeID reads the cursor of a page keyed by a bigserial id, newest first
// (a lead's timeline, an org's feed): the id the page starts below. "" is
// the first page. A cursor that is not from a previous page is a 422
// naming the cursor.
func beforeID(cursor string) (int64, error) {
	if cursor == "" {
		return fromNewest, nil
	}
	n, err := strconv.ParseInt(cursor, 36, 64)
	if err != nil || n <= 0 {
		return 0, &domain.Error{Code: domain.EInvalid, Message: "bad cursor", Fields: map[string]string{"cursor": "not a cursor from a previous page"}}
	}
	return n, nil
}

// idPage is page for lists keyed by a bigserial id, newest first: it cuts
// items read with one row more than limit to limit, and answers the next
// page's cursor, "" after the last page.
func idPage[T any](items []T, limit int, id func(T) int64) ([]T, string) {
	if len(items) <= limit {
		return items, ""
	}
	items = items[:limit]
	return items, strconv.FormatInt(id(items[limit-1]), 36)
}
