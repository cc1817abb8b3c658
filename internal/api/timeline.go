package api

import (
	"net/http"

	"github.com/leadrelay/leadrelay/internal/store"
)

// timelineOut is one page of a lead's timeline, oldest first.
type timelineOut struct {
	Events []store.Event `json:"events"`
	// NextCursor is null at the page that holds the lead's first event, as
	// a lead read's timeline_next_cursor is.
	NextCursor *string `json:"next_cursor"`
}

// leadTimeline pages a lead's timeline back from its latest event: the
// older events a lead read leaves out. Whoever may read the lead may read
// its timeline, and a lead another org holds is a 404 here too.
func (s *Server) leadTimeline(w http.ResponseWriter, r *http.Request) {
	_, scope, err := s.leadCaller(r)
	if err != nil {
		writeErr(w, err)
		return
	}
	// An event id in base 36: 13 characters at most.
	limit, cursor, err := pageQuery(r.URL.RawQuery, store.MaxTimelinePage, 20)
	if err != nil {
		writeErr(w, err)
		return
	}
	events, next, err := s.Store.Timeline(r.Context(), scope, r.PathValue("id"), cursor, limit)
	if err != nil {
		writeErr(w, err)
		return
	}
	out := timelineOut{Events: events}
	if next != "" {
		out.NextCursor = &next
	}
	writeJSON(w, 200, out)
}
