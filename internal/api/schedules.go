package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.uber.org/zap"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/runs"
)

// scheduleOut is one timed distribution as the API shows it.
type scheduleOut struct {
	ID       string             `json:"id"` // "<source>.<name>": the org's business keys, never Temporal's ID
	Name     string             `json:"name"`
	Source   scheduleSource     `json:"source"`
	Mode     domain.RoutingMode `json:"mode"`
	Does     string             `json:"does"`
	At       string             `json:"at"`   // "" for a calendar made by hand in Temporal
	Days     string             `json:"days"` // ditto
	Timezone string             `json:"timezone"`
	When     string             `json:"when"`
	Paused   bool               `json:"paused"`
	NextRuns []time.Time        `json:"next_runs"`
}

type scheduleSource struct {
	Slug string `json:"slug"`
	Name string `json:"name"`
}

type scheduleIn struct {
	Source   string `json:"source"`
	Name     string `json:"name"`
	Mode     string `json:"mode"`
	At       string `json:"at"`
	Days     string `json:"days"`
	Timezone string `json:"timezone"`
}

// modeWords say where a distribution's leads go.
var modeWords = map[domain.RoutingMode]string{
	domain.RouteOwner:       "to the owner",
	domain.RouteStaffEvenly: "evenly among the staff",
	domain.RouteSubAgencies: "evenly among the sub-agencies",
}

// scheduleView is s as the API shows it; sourceName is the source's name
// ("" when it is gone: its slug stands in).
func scheduleView(s runs.Schedule, sourceName string) scheduleOut {
	if sourceName == "" {
		sourceName = s.Slug
	}
	out := scheduleOut{ID: s.Slug + "." + s.Name, Name: s.Name, Source: scheduleSource{Slug: s.Slug, Name: sourceName},
		Mode: s.Mode, Timezone: s.TimeZone, Paused: s.Paused, NextRuns: s.NextRuns, When: "on a calendar made in Temporal"}
	if out.NextRuns == nil {
		out.NextRuns = []time.Time{}
	}
	out.Does = "distributes the pending leads of " + sourceName
	if w, ok := modeWords[s.Mode]; ok {
		out.Does += " " + w
	}
	if at, days, ok := strings.Cut(s.Timetable, " "); ok {
		if tt, err := domain.ParseTimetable(at, days); err == nil {
			out.At, out.Days, out.When = at, days, tt.Words()
		}
	}
	if s.TimeZone != "" {
		out.When += " (" + s.TimeZone + ")"
	}
	return out
}

// scheduleRef reads the path's schedule id within the path's org. The id is
// the source's slug and the schedule's name: the Temporal ID is built from
// them and the org the caller belongs to, so no id reaches another org's
// schedule. An id that does not parse names no schedule.
func scheduleRef(r *http.Request) (runs.ScheduleRef, error) {
	slug, name, ok := strings.Cut(r.PathValue("id"), ".")
	if !ok || !domain.ValidSlug(slug) || !domain.ValidScheduleName(name) {
		return runs.ScheduleRef{}, domain.Errorf(domain.ENotFound, "schedule not found")
	}
	return runs.ScheduleRef{OrgID: r.PathValue("org"), Slug: slug, Name: name}, nil
}

// scheduleErr keeps the domain's errors and says plainly when Temporal
// cannot be reached; its own words stay in the log.
func (s *Server) scheduleErr(err error) error {
	var de *domain.Error
	var unavailable *serviceerror.Unavailable
	var deadline *serviceerror.DeadlineExceeded
	switch {
	case errors.As(err, &de):
		return err
	case errors.As(err, &unavailable), errors.As(err, &deadline), errors.Is(err, context.DeadlineExceeded):
		s.Log.Warn("temporal schedules unavailable", zap.Error(err))
		return domain.Errorf(domain.EUnavailable, "the schedules cannot be reached right now: try again")
	}
	return err
}

// sourceNames maps the org's source slugs to their names.
func (s *Server) sourceNames(ctx context.Context, org string) (map[string]string, error) {
	list, err := s.Store.ListSources(ctx, org)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(list))
	for _, src := range list {
		out[src.Slug] = src.Name
	}
	return out, nil
}

// listSchedules: every member of the org sees its timed distributions. The
// list comes from Temporal's visibility (a schedule created a moment ago
// may be missing for a second); each is then described, so what is shown
// (paused, next runs) is current, and one deleted meanwhile is left out.
func (s *Server) listSchedules(w http.ResponseWriter, r *http.Request) {
	org := r.PathValue("org")
	if _, err := s.member(r, org, false); err != nil {
		writeErr(w, err)
		return
	}
	sched := s.starter(false).Schedules()
	names, err := s.sourceNames(r.Context(), org)
	if err != nil {
		writeErr(w, err)
		return
	}
	list, err := sched.List(r.Context(), org)
	if err != nil {
		writeErr(w, s.scheduleErr(err))
		return
	}
	out := []scheduleOut{}
	for _, l := range list {
		d, err := sched.Describe(r.Context(), l.ScheduleRef)
		if domain.ErrorCode(err) == domain.ENotFound {
			continue
		}
		if err != nil {
			writeErr(w, s.scheduleErr(err))
			return
		}
		out = append(out, scheduleView(d, names[d.Slug]))
	}
	writeJSON(w, 200, map[string]any{"schedules": out})
}

// putSchedule: the org's owner or an admin creates a timed distribution, or
// updates the one of that source and name (the same request twice: one
// schedule), as `starter schedule create` does.
func (s *Server) putSchedule(w http.ResponseWriter, r *http.Request) {
	org := r.PathValue("org")
	if _, err := s.member(r, org, true); err != nil {
		writeErr(w, err)
		return
	}
	var in scheduleIn
	if err := decode(w, r, smallBody, &in); err != nil {
		writeErr(w, err)
		return
	}
	if in.Name == "" {
		in.Name = "default"
	}
	if in.Mode == "" {
		in.Mode = string(domain.RouteStaffEvenly)
	}
	plan := runs.SchedulePlan{ScheduleRef: runs.ScheduleRef{OrgID: org, Slug: in.Source, Name: in.Name},
		Mode: domain.RoutingMode(in.Mode), At: in.At, Days: in.Days, TimeZone: in.Timezone}
	got, err := s.starter(false).Schedules().Apply(r.Context(), plan, false)
	if err != nil {
		writeErr(w, s.scheduleErr(err))
		return
	}
	names, err := s.sourceNames(r.Context(), org)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 200, scheduleView(got, names[got.Slug]))
}

// manageSchedule finds the path's schedule for a change by the org's owner
// or an admin. What does not exist is not found before anyone is told they
// may not change it, as with every other object: members see the list.
func (s *Server) manageSchedule(r *http.Request) (runs.ScheduleRef, string, error) {
	org := r.PathValue("org")
	c, err := s.member(r, org, false)
	if err != nil {
		return runs.ScheduleRef{}, "", err
	}
	ref, err := scheduleRef(r)
	if err != nil {
		return ref, "", err
	}
	if _, err := s.starter(false).Schedules().Describe(r.Context(), ref); err != nil {
		return ref, "", s.scheduleErr(err)
	}
	if err := c.mayManage(); err != nil {
		return ref, "", err
	}
	who := "the admin token"
	if c.User != nil {
		who = "user " + c.User.ID
	}
	return ref, who, nil
}

// scheduleAction is one of pause, resume and trigger by the org's owner or
// an admin; the answer is the schedule as it now is.
func (s *Server) scheduleAction(status int, do func(context.Context, runs.Schedules, runs.ScheduleRef, string) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		org := r.PathValue("org")
		ref, who, err := s.manageSchedule(r)
		if err != nil {
			writeErr(w, err)
			return
		}
		sched := s.starter(false).Schedules()
		if err := do(r.Context(), sched, ref, who); err != nil {
			writeErr(w, s.scheduleErr(err))
			return
		}
		got, err := sched.Describe(r.Context(), ref)
		if err != nil {
			writeErr(w, s.scheduleErr(err))
			return
		}
		names, err := s.sourceNames(r.Context(), org)
		if err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, status, scheduleView(got, names[got.Slug]))
	}
}

func (s *Server) pauseSchedule(w http.ResponseWriter, r *http.Request) {
	s.scheduleAction(200, func(ctx context.Context, sc runs.Schedules, ref runs.ScheduleRef, who string) error {
		return sc.Pause(ctx, ref, "paused through the API by "+who)
	})(w, r)
}

func (s *Server) resumeSchedule(w http.ResponseWriter, r *http.Request) {
	s.scheduleAction(200, func(ctx context.Context, sc runs.Schedules, ref runs.ScheduleRef, who string) error {
		return sc.Resume(ctx, ref, "resumed through the API by "+who)
	})(w, r)
}

// triggerSchedule starts one run now, a slot of its own, even when paused:
// 202, the run goes on after the answer.
func (s *Server) triggerSchedule(w http.ResponseWriter, r *http.Request) {
	s.scheduleAction(202, func(ctx context.Context, sc runs.Schedules, ref runs.ScheduleRef, _ string) error {
		return sc.Trigger(ctx, ref)
	})(w, r)
}

// deleteSchedule removes the schedule; runs it started finish.
func (s *Server) deleteSchedule(w http.ResponseWriter, r *http.Request) {
	ref, _, err := s.manageSchedule(r)
	if err != nil {
		writeErr(w, err)
		return
	}
	if err := s.starter(false).Schedules().Delete(r.Context(), ref); err != nil {
		writeErr(w, s.scheduleErr(err))
		return
	}
	writeJSON(w, 200, map[string]any{"id": ref.Slug + "." + ref.Name, "deleted": true})
}
