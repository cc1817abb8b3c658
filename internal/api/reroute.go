package api

import (
	"net/http"

	"go.uber.org/zap"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/runs"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/workflows"
)

// startReroute starts, once the deactivation has committed, the run that
// sends the user's team-owned leads back through routing. A repeated PATCH
// of an inactive user finds the same run (the ID counts deactivations). If
// Temporal cannot take it, the caller is told to repeat the request rather
// than told all is done; the reconciler also starts it within minutes.
func (s *Server) startReroute(w http.ResponseWriter, r *http.Request, u store.User) error {
	in := workflows.RerouteInput{UserID: u.ID, OrgID: u.OrgID, Deactivation: u.Deactivations}
	id := workflows.RerouteWorkflowID(u.ID, u.Deactivations)
	logField(w, zap.String("workflow_id", id))
	if err := s.starter(true).Reroute(r.Context(), in, runs.RestartFailed); err != nil {
		s.Log.Error("could not start a deactivated user's reroute", zap.String("user_id", u.ID), zap.String("workflow_id", id), zap.Error(err))
		return domain.Errorf(domain.EUnavailable, "the user is deactivated, but rerouting their leads could not start: repeat the same request")
	}
	return nil
}
