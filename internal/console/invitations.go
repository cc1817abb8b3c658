package console

import (
	"net/http"
)

// invite sends the invite form as POST /v1/orgs/{org}/invitations: the
// invitation's workflow emails the link.
func (c *Console) invite(w http.ResponseWriter, r *http.Request, v *visit) {
	email := r.PostFormValue("invite_email")
	if _, err := c.call(r, v, "POST", "/v1/orgs/"+v.Session.User.OrgID+"/invitations", map[string]string{"email": email}, nil); err != nil {
		c.refusedAccount(w, r, v, err, "invite", "invite_", func(d *accountData) { d.Invite = email })
		return
	}
	seeAccount(w, r, "invited", "sub-agencies")
}

// revokeInvitation revokes a pending invitation (DELETE
// /v1/orgs/{org}/invitations/{id}); its link stops working.
func (c *Console) revokeInvitation(w http.ResponseWriter, r *http.Request, v *visit) {
	id := r.PathValue("id")
	// Another org's invitation is not found, whoever asks: the API checks
	// the role first, and would tell a manager "forbidden" about it.
	if _, err := c.Store.GetInvitation(r.Context(), v.Session.User.OrgID, id); err != nil {
		c.storeFailed(w, r, v, err)
		return
	}
	if _, err := c.call(r, v, "DELETE", "/v1/orgs/"+v.Session.User.OrgID+"/invitations/"+id, nil, nil); err != nil {
		c.refusedAccount(w, r, v, err, "revoke-"+id, "revoke-"+id+"-", nil)
		return
	}
	seeAccount(w, r, "revoked", "sub-agencies")
}

// unlinkSub ends a link (DELETE /v1/orgs/{master}/sub-agencies/{sub}) once
// the person ticked the box that confirms it. {sub} is one of the org's
// sub-agencies, or the org itself: its owner leaving its parent.
func (c *Console) unlinkSub(w http.ResponseWriter, r *http.Request, v *visit) {
	org, sub := v.Session.User.OrgID, r.PathValue("sub")
	master, found := org, false
	if sub == org {
		o, err := c.org(r, v)
		if err != nil {
			c.failed(w, r, v, err)
			return
		}
		if o.ParentID != nil {
			master, found = *o.ParentID, true
		}
	} else {
		// Only the org's own sub-agencies can be unlinked from here; anything
		// else is not found before any question is asked about it.
		subs, err := c.subAgencies(r, v)
		if err != nil {
			c.failed(w, r, v, err)
			return
		}
		for _, s := range subs {
			found = found || s.ID == sub
		}
	}
	if !found {
		c.notFound(w, r, v)
		return
	}
	if r.PostFormValue("confirm") != "yes" {
		// Nothing is sent to the API before the person confirmed.
		d, err := c.account(r, v)
		if err != nil {
			c.failed(w, r, v, err)
			return
		}
		d.Refused = "unlink-" + sub
		c.render(w, r, http.StatusUnprocessableEntity, "account", view{Title: "Account", V: v,
			Problem: "Nothing was unlinked: tick the box to confirm first.",
			Fields:  map[string]string{"unlink-" + sub + "-confirm": "Tick this box to confirm the unlink."}, Data: d})
		return
	}
	if _, err := c.call(r, v, "DELETE", "/v1/orgs/"+master+"/sub-agencies/"+sub, nil, nil); err != nil {
		c.refusedAccount(w, r, v, err, "unlink-"+sub, "unlink-"+sub+"-", nil)
		return
	}
	seeAccount(w, r, "unlinked", "sub-agencies")
}
