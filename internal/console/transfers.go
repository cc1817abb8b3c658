package console

import (
	"net/http"
	"net/url"

	"github.com/leadrelay/leadrelay/internal/store"
)

// transferData is what transfers.html shows.
type transferData struct {
	T            store.TransferStatus
	Done         bool
	Sender       bool // the sending org: it sees the failures
	Counted      int  // moved and failed: how far the run has come
	Percent      int
	From, To     string
	ModeText     string
	Failures     []string
	MoreFailures int
}

var modeTexts = map[string]string{
	"owner":          "to the receiving org's owner",
	"staff_evenly":   "evenly among the receiving org's staff",
	"manager_review": "handed over to the receiving org's manager pipeline",
}

// transferPage shows a transfer's progress from GET /v1/orgs/{org}/transfers/{id}.
// While it runs the page refreshes itself every two seconds (a meta
// refresh: live without JavaScript, allowed by the CSP), and stops once
// the transfer is done.
func (c *Console) transferPage(w http.ResponseWriter, r *http.Request, v *visit) {
	org := v.Session.User.OrgID
	var t store.TransferStatus
	if _, err := c.call(r, v, "GET", "/v1/orgs/"+org+"/transfers/"+url.PathEscape(r.PathValue("id")), nil, &t); err != nil {
		c.failed(w, r, v, err)
		return
	}
	d := transferData{T: t, Done: t.Status != "running", Sender: t.OrgID == org, Counted: t.Transferred + t.FailedCount,
		ModeText: modeTexts[t.Mode]}
	if t.Total > 0 {
		d.Percent = d.Counted * 100 / t.Total
	}
	d.From, d.To = c.linkedName(r, t.OrgID), c.linkedName(r, t.ToOrgID)
	if d.Sender {
		ids := []string{}
		for i, f := range t.Failed {
			if i == maxListed {
				break
			}
			ids = append(ids, f.LeadID)
		}
		names := c.leadNames(r, v, ids)
		for i, f := range t.Failed {
			if i == maxListed {
				d.MoreFailures = len(t.Failed) - maxListed
				break
			}
			d.Failures = append(d.Failures, names[f.LeadID]+": "+f.Error)
		}
	}
	c.render(w, r, http.StatusOK, "transfers", view{Title: "Transfer", V: v, Data: d})
}

// linkedName is orgName, or "another org" when it cannot be read: a page
// that shows a transfer names its two sides but does not fail on them.
func (c *Console) linkedName(r *http.Request, id string) string {
	if n, err := c.orgName(r, id); err == nil {
		return n
	}
	return "another org"
}
