package console

import (
	"net/http"
	"net/url"

	"github.com/leadrelay/leadrelay/internal/store"
)

// leadsPage lists the org's leads through GET /v1/orgs/{org}/leads.
func (c *Console) leadsPage(w http.ResponseWriter, r *http.Request, v *visit) {
	var out struct {
		Leads []store.Lead `json:"leads"`
		Next  string       `json:"next_cursor"`
	}
	q := url.Values{}
	if cur := r.URL.Query().Get("cursor"); cur != "" {
		q.Set("cursor", cur)
	}
	path := "/v1/orgs/" + v.Session.User.OrgID + "/leads?" + q.Encode()
	if _, err := c.call(r, v, "GET", path, nil, &out); err != nil {
		c.failed(w, r, v, err)
		return
	}
	c.render(w, r, http.StatusOK, "leads", view{Title: "Leads", V: v, Data: out})
}
