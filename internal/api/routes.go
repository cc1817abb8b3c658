package api

import (
	"net/http"
	"strings"

	"github.com/leadrelay/leadrelay/internal/domain"
)

// route is one entry of the API's route table: the mux serves it, and the
// OpenAPI test checks that the description documents it.
type route struct {
	method, pattern string
	handler         http.HandlerFunc
}

// routes is the API's route table, one line a route: New serves it and the
// OpenAPI test compares it with internal/api/openapi.json, so a route added
// here must be documented there.
func (s *Server) routes() []route {
	return []route{
		{"GET", "/healthz", s.healthz},
		{"GET", "/readyz", s.readyz},
		{"POST", "/v1/orgs", s.createOrg},
		{"GET", "/v1/orgs/{org}", s.getOrg},
		{"PATCH", "/v1/orgs/{org}", s.patchOrg},
		{"GET", "/v1/orgs/{org}/users", s.listUsers},
		{"POST", "/v1/orgs/{org}/users", s.createUser},
		{"PATCH", "/v1/orgs/{org}/users/{user}", s.updateUser},
		{"PUT", "/v1/orgs/{org}/sources/{slug}", s.putSource},
		{"GET", "/v1/orgs/{org}/sources", s.listSources},
		{"POST", "/v1/orgs/{org}/sources/{slug}/key", s.rotateKey},
		{"DELETE", "/v1/orgs/{org}/sources/{slug}/key", s.revokeKey},
		{"GET", "/v1/ops/unrouted", s.unrouted},
		{"POST", "/v1/leads", s.postLead},
		{"GET", "/v1/leads/{id}", s.getLead},
		{"GET", "/v1/leads/{id}/timeline", s.leadTimeline},
		{"GET", "/v1/orgs/{org}/leads", s.listLeads},
		{"POST", "/v1/leads/{id}/assign", s.assignLead},
		{"POST", "/v1/leads/{id}/transfer-ownership", s.transferOwnership},
		{"POST", "/v1/orgs/{org}/leads/assign", s.bulkAssign},
		{"POST", "/v1/orgs/{org}/invitations", s.createInvitation},
		{"GET", "/v1/orgs/{org}/invitations", s.listInvitations},
		{"DELETE", "/v1/orgs/{org}/invitations/{id}", s.revokeInvitation},
		{"GET", "/invitations/{token}", s.invitationPage},
		{"POST", "/invitations/{token}/accept", s.acceptPage},
		{"POST", "/invitations/{token}/decline", s.declinePage},
		{"POST", "/v1/invitations/{token}/accept", s.acceptJSON},
		{"POST", "/v1/invitations/{token}/decline", s.declineJSON},
		{"GET", "/v1/orgs/{org}/sub-agencies", s.listSubAgencies},
		{"DELETE", "/v1/orgs/{org}/sub-agencies/{sub}", s.unlink},
		{"POST", "/v1/orgs/{org}/transfers", s.createTransfer},
		{"GET", "/v1/orgs/{org}/transfers/{id}", s.getTransfer},
		{"GET", "/v1/orgs/{org}/feed", s.feed},
		{"GET", "/v1/orgs/{org}/handovers", s.pipeline},
		{"GET", "/v1/orgs/{org}/schedules", s.listSchedules},
		{"POST", "/v1/orgs/{org}/schedules", s.putSchedule},
		{"POST", "/v1/orgs/{org}/schedules/{id}/pause", s.pauseSchedule},
		{"POST", "/v1/orgs/{org}/schedules/{id}/resume", s.resumeSchedule},
		{"POST", "/v1/orgs/{org}/schedules/{id}/trigger", s.triggerSchedule},
		{"DELETE", "/v1/orgs/{org}/schedules/{id}", s.deleteSchedule},
		{"POST", "/v1/leads/{id}/handover/accept", s.acceptHandover},
		{"POST", "/v1/leads/{id}/handover/reject", s.rejectHandover},
		{"POST", "/v1/leads/{id}/return", s.returnLead},
		{"POST", "/v1/orgs/{org}/queue/claim", s.claimNext},
		{"POST", "/v1/leads/{id}/release", s.releaseLead},
		{"POST", "/v1/leads/{id}/worked", s.markWorked},
		{"POST", "/v1/leads/{id}/invalid", s.markInvalid},
		{"GET", "/v1/orgs/{org}/groups", s.listGroups},
		{"PUT", "/v1/orgs/{org}/groups/{name}", s.putGroup},
		{"DELETE", "/v1/orgs/{org}/groups/{name}", s.deleteGroup},
		{"POST", "/v1/orgs/{org}/users/{user}/pause", s.pauseUser},
		{"POST", "/v1/orgs/{org}/users/{user}/resume", s.resumeUser},
		{"POST", "/v1/orgs/{org}/sources/{slug}/route-preview", s.routePreview},
		{"GET", "/v1/orgs/{org}/sources/{slug}/fairness", s.fairness},
		{"GET", "/v1/openapi.json", s.openAPI},
		{"GET", "/v1/orgs/{org}/reports/speed-to-lead", s.speedToLead},
		{"GET", "/v1/returns", s.vendorReturns},
		{"GET", "/v1/leads/{id}/return-rules", s.leadReturnRules},
		{"POST", "/v1/orgs/{org}/webhooks", s.createWebhook},
		{"GET", "/v1/orgs/{org}/webhooks", s.listWebhooks},
		{"GET", "/v1/orgs/{org}/webhooks/{id}", s.getWebhook},
		{"DELETE", "/v1/orgs/{org}/webhooks/{id}", s.deleteWebhook},
		{"POST", "/v1/orgs/{org}/webhooks/{id}/enable", s.enableWebhook},
		{"POST", "/v1/orgs/{org}/webhooks/{id}/deliveries/{delivery}/resend", s.resendWebhook},
	}
}

// pathIDs are the path wildcards that hold ids (orgs, users, leads,
// transfers, invitations, sub-agencies); {slug} and {token} are not ids.
var pathIDs = []string{"org", "user", "id", "sub"}

// normalPathIDs hands h the ids of its path in their one spelling
// (domain.NormalID), so no handler compares ABC… with abc… as two ids. A
// value that is not an id is left as sent, for the handler to refuse.
func normalPathIDs(pattern string, h http.HandlerFunc) http.HandlerFunc {
	var names []string
	for _, n := range pathIDs {
		if strings.Contains(pattern, "{"+n+"}") {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) {
		for _, n := range names {
			if id, ok := domain.NormalID(r.PathValue(n)); ok {
				r.SetPathValue(n, id)
			}
		}
		h(w, r)
	}
}
