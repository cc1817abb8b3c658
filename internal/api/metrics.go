package api

import (
	"net/http"
	"time"

	"github.com/leadrelay/leadrelay/internal/metrics"
)

// measure counts one answered request under its route pattern, and, for the
// routes whose answer is itself a business event, that event: the status
// says it on every return path of the handler, so none is missed or counted
// twice. Patterns are the mux's own, so no id reaches a label.
func (s *Server) measure(r *http.Request, status int, took time.Duration) {
	s.Metrics.HTTPRequest(r.Pattern, status, took)
	if count := answerEvents[r.Pattern]; count != nil {
		count(s.Metrics, status)
	}
}

// answerEvents are the routes whose answer is a business event.
var answerEvents = map[string]func(m *metrics.Metrics, status int){
	"POST /v1/leads": func(m *metrics.Metrics, status int) { m.LeadReceived(leadOutcome(status)) },
	"POST /v1/orgs/{org}/queue/claim": func(m *metrics.Metrics, status int) {
		if status == http.StatusOK { // 204: nothing to claim
			m.Claimed()
		}
	},
	"POST /v1/leads/{id}/return": func(m *metrics.Metrics, status int) {
		if status == http.StatusOK {
			m.Returned()
		}
	},
	"POST /v1/orgs/{org}/invitations": func(m *metrics.Metrics, status int) {
		if status == http.StatusAccepted {
			m.Invitation("created")
		}
	},
}

// leadOutcome reads a lead post's answer: 202 a new lead, 200 the same
// external_id again, 4xx refused (bad key, bad body, rate limited), 5xx an
// error on our side (the vendor retries).
func leadOutcome(status int) string {
	switch {
	case status == http.StatusAccepted:
		return "new"
	case status == http.StatusOK:
		return "duplicate"
	case status >= 500:
		return "error"
	}
	return "refused"
}
