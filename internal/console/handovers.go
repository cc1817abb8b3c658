package console

import (
	"net/http"
	"net/url"
	"time"
)

// pipelineItem is a handover waiting at the org, as
// GET /v1/orgs/{org}/handovers shows it.
type pipelineItem struct {
	LeadID  string `json:"lead_id"`
	Name    string `json:"name"`
	FromOrg struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"from_org"`
	SentBy *struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"sent_by"`
	SentAt    time.Time `json:"sent_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// pipelineView is the pipeline page: the waiting leads, whom an accepted
// one may go to, and which row's form a refusal belongs to.
type pipelineView struct {
	Items    []pipelineItem
	Next     string
	People   people
	Failed   string // "accept" or "reject"
	FailedID string // the lead of the refused form
}

// pipelinePage lists the handovers waiting for this org's decision.
func (c *Console) pipelinePage(w http.ResponseWriter, r *http.Request, v *visit) {
	c.showPipeline(w, r, v, http.StatusOK, view{}, "", "")
}

func (c *Console) showPipeline(w http.ResponseWriter, r *http.Request, v *visit, status int, vw view, failed, failedID string) {
	var out struct {
		Handovers []pipelineItem `json:"handovers"`
		Next      string         `json:"next_cursor"`
	}
	q := url.Values{}
	if cur := r.URL.Query().Get("cursor"); cur != "" {
		q.Set("cursor", cur)
	}
	path := "/v1/orgs/" + v.Session.User.OrgID + "/handovers"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	if _, err := c.call(r, v, "GET", path, nil, &out); err != nil {
		c.failed(w, r, v, err)
		return
	}
	ppl, err := c.users(r, v)
	if err != nil {
		c.failed(w, r, v, err)
		return
	}
	vw.Title, vw.V = "Manager pipeline", v
	vw.Data = pipelineView{Items: out.Handovers, Next: out.Next, People: ppl, Failed: failed, FailedID: failedID}
	c.render(w, r, status, "pipeline", vw)
}

// pipelineAnswer posts a manager's answer to a handover: accept (and
// assign) or reject (with a reason), through the API's handover routes.
func (c *Console) pipelineAnswer(kind string) func(w http.ResponseWriter, r *http.Request, v *visit) {
	return func(w http.ResponseWriter, r *http.Request, v *visit) {
		id := r.PathValue("id")
		body := map[string]any{"reason": r.PostFormValue("reason")}
		if kind == "accept" {
			body = map[string]any{"assign_to": r.PostFormValue("assign_to")}
		}
		_, err := c.call(r, v, "POST", "/v1/leads/"+url.PathEscape(id)+"/handover/"+kind, body, nil)
		if err != nil {
			status, msg, fields, ok := refused(err)
			if !ok || status == http.StatusNotFound {
				c.failed(w, r, v, err)
				return
			}
			c.showPipeline(w, r, v, status, view{Problem: msg, Fields: fields, Form: r.PostForm}, kind, id)
			return
		}
		http.Redirect(w, r, "/app/pipeline?done=handover-"+kind+"ed", http.StatusSeeOther)
	}
}
