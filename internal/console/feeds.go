package console

import (
	"net/http"
	"net/url"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
)

// feedKinds say what a feed event means, and which way the lead went
// relative to the org reading it: "to" the other org, "from" it, or "with"
// it for a handover's answer (both orgs read the same line).
var feedKinds = map[string]struct{ what, way string }{
	"transfer_out":       {"Transferred out", "to"},
	"transfer_in":        {"Transferred in", "from"},
	"handover_sent":      {"Handed over for review", "to"},
	"handover_received":  {"Handover received", "from"},
	"handover_accepted":  {"Handover accepted", "with"},
	"handover_rejected":  {"Handover rejected", "with"},
	"handover_expired":   {"Handover expired, lead went back", "with"},
	"handover_withdrawn": {"Handover withdrawn", "with"},
}

// feedRow is one line of the feed page.
type feedRow struct {
	store.FeedEvent
	What, Way, Other string
}

// feedPage is the org's sales feed through GET /v1/orgs/{org}/feed, newest
// first, a page at a time.
func (c *Console) feedPage(w http.ResponseWriter, r *http.Request, v *visit) {
	var out struct {
		Events []store.FeedEvent `json:"events"`
		Next   string            `json:"next_cursor"`
	}
	q := url.Values{}
	if cur := r.URL.Query().Get("cursor"); cur != "" {
		q.Set("cursor", cur)
	}
	if _, err := c.call(r, v, "GET", "/v1/orgs/"+v.Session.User.OrgID+"/feed?"+q.Encode(), nil, &out); err != nil {
		c.failed(w, r, v, err)
		return
	}
	// The other org's name: the feed holds its id (and its name inside the
	// message already), so reading the name is no new permission. One read
	// per distinct org of the page.
	names := map[string]string{}
	rows := make([]feedRow, 0, len(out.Events))
	for _, e := range out.Events {
		k, ok := feedKinds[e.Kind]
		if !ok {
			k.what, k.way = e.Kind, "with"
		}
		row := feedRow{FeedEvent: e, What: k.what, Way: k.way}
		if e.OtherOrgID != nil {
			id := *e.OtherOrgID
			if _, seen := names[id]; !seen {
				names[id] = "another agency"
				if n, err := c.orgName(r, id); err == nil {
					names[id] = n
				} else if domain.ErrorCode(err) != domain.ENotFound {
					c.failed(w, r, v, err)
					return
				}
			}
			row.Other = names[id]
		}
		rows = append(rows, row)
	}
	c.render(w, r, http.StatusOK, "feed", view{Title: "Sales feed", V: v, Data: struct {
		Rows   []feedRow
		Next   string
		Paging bool
	}{rows, out.Next, q.Get("cursor") != ""}})
}
