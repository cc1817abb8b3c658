package console

import (
	"net/http"

	"github.com/leadrelay/leadrelay/internal/api"
	"github.com/leadrelay/leadrelay/internal/domain"
)

// newUserForm is what was typed into the add-a-user form.
type newUserForm struct {
	Email, Name, Role string
	Notify            bool
}

// roleChoices are the roles a user can be given (an org has one owner,
// made with the org).
var roleChoices = []domain.Role{domain.RoleAdmin, domain.RoleManager, domain.RoleProfessional, domain.RoleStaff}

// addUser sends the add-a-user form as POST /v1/orgs/{org}/users. The
// answer holds the new user's API token: this page is the only place it is
// ever shown, so it is rendered here rather than after a redirect (which
// would have to keep it somewhere).
func (c *Console) addUser(w http.ResponseWriter, r *http.Request, v *visit) {
	typed := newUserForm{Email: r.PostFormValue("new_email"), Name: r.PostFormValue("new_name"),
		Role: r.PostFormValue("new_role"), Notify: r.PostFormValue("new_notify") == "on"}
	in := map[string]any{"email": typed.Email, "name": typed.Name, "role": typed.Role, "notify_new_leads": typed.Notify}
	var u api.UserOut
	if _, err := c.call(r, v, "POST", "/v1/orgs/"+v.Session.User.OrgID+"/users", in, &u); err != nil {
		c.refusedAccount(w, r, v, err, "new-user", "new_", func(d *accountData) { d.NewUser = typed })
		return
	}
	c.render(w, r, http.StatusCreated, "user-added", view{Title: "User added", V: v, Data: u})
}

// userChange is the answer to a change of a user, and what it set off.
type userChange struct {
	User api.UserOut
	// Deactivated: this change made the user inactive, which starts the
	// reroute of their team-owned leads.
	Deactivated bool
}

// saveUser sends one user's form as PATCH /v1/orgs/{org}/users/{user}. The
// form carries each field's value as shown (was_…), and only the fields
// the person changed are sent: saving a row must not, for instance, start
// a deactivated user's reroute again.
func (c *Console) saveUser(w http.ResponseWriter, r *http.Request, v *visit) {
	id := r.PathValue("user")
	// Another org's user is not found, whoever asks and whatever the form
	// holds (the API would check the role first, and an unchanged form
	// would never reach it).
	if _, err := c.Store.GetUser(r.Context(), v.Session.User.OrgID, id); err != nil {
		c.storeFailed(w, r, v, err)
		return
	}
	in := map[string]any{}
	if role := r.PostFormValue("role"); role != "" && role != r.PostFormValue("was_role") {
		in["role"] = role
	}
	for _, f := range []string{"active", "notify_new_leads"} {
		if r.PostForm.Has("was_" + f) {
			now := r.PostFormValue(f) == "on"
			if now != (r.PostFormValue("was_"+f) == "true") {
				in[f] = now
			}
		}
	}
	if len(in) == 0 {
		seeAccount(w, r, "nothing-changed", "team")
		return
	}
	var out userChange
	if _, err := c.call(r, v, "PATCH", "/v1/orgs/"+v.Session.User.OrgID+"/users/"+id, in, &out.User); err != nil {
		if ae, ok := err.(*apiError); ok && ae.Status == http.StatusServiceUnavailable && ae.Message != "" {
			// The deactivation is written but its reroute could not start:
			// the API's words say so and what to do (send the form again).
			c.problem(w, r, v, ae.Status, "Not finished", ae.Message)
			return
		}
		c.refusedAccount(w, r, v, err, "user-"+id, "user-"+id+"-", nil)
		return
	}
	if active, sent := in["active"].(bool); sent && !active {
		out.Deactivated = true
		c.render(w, r, http.StatusOK, "user-saved", view{Title: "User deactivated", V: v, Data: out})
		return
	}
	seeAccount(w, r, "user-saved", "team")
}
