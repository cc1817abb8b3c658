package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/leadrelay/leadrelay/internal/api"
	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
)

// org is the signed-in user's org through GET /v1/orgs/{org}.
func (c *Console) org(r *http.Request, v *visit) (api.OrgOut, error) {
	var o api.OrgOut
	_, err := c.call(r, v, "GET", "/v1/orgs/"+v.Session.User.OrgID, nil, &o)
	return o, err
}

// orgName is the name of an org the API already named to the caller (its
// parent, the other side of a transfer or of a feed event): the name only,
// read from the store, since a member may not open another org through the
// API.
func (c *Console) orgName(r *http.Request, id string) (string, error) {
	o, err := c.Store.GetOrg(r.Context(), id)
	return o.Name, err
}

// settingsForm is what the settings form shows: the org's values, or what
// the person typed when the API refused it.
type settingsForm struct {
	Name, Timezone, ClaimWindow string
	HandoverEnabled, CrossSilo  bool
	RetentionDays               string // "": for ever
}

// retentionText is retention_days as the form shows it.
func retentionText(days *int) string {
	if days == nil {
		return ""
	}
	return strconv.Itoa(*days)
}

// retentionValue is the form's retention_days as the API takes it: empty
// is null (for ever), a whole number is itself, and anything else is sent
// as typed so the API's answer names the field.
func retentionValue(typed string) any {
	typed = strings.TrimSpace(typed)
	if typed == "" {
		return nil
	}
	if n, err := strconv.Atoi(typed); err == nil {
		return n
	}
	return typed
}

// accountData is everything the account page shows. Each section read that
// the API refuses to this user keeps the API's words instead of its list.
type accountData struct {
	Org      api.OrgOut
	Settings settingsForm
	// Parent is the name of the org this one is a sub-agency of ("" if none).
	Parent      string
	Subs        []store.SubAgency
	Invitations []store.Invitation
	// InvitationsRefused and UsersRefused are the API's reason for not
	// listing them to this user.
	InvitationsRefused string
	Users              []api.UserOut
	UsersRefused       string
	// Refused names the form the API refused ("settings", "invite",
	// "new-user", "user-<id>", "unlink-<id>"), whose typed values and field
	// errors the page shows.
	Refused string
	// Invite and NewUser are what was typed into those forms.
	Invite  string
	NewUser newUserForm
	// Roles are the roles a user can be given.
	Roles []domain.Role
}

// accountPage shows the org's settings, its sub-agencies and invitations,
// and its team (SPEC §8).
func (c *Console) accountPage(w http.ResponseWriter, r *http.Request, v *visit) {
	d, err := c.account(r, v)
	if err != nil {
		c.failed(w, r, v, err)
		return
	}
	c.render(w, r, http.StatusOK, "account", view{Title: "Account", V: v, Data: d})
}

// account reads what the account page shows, each part through the API as
// the signed-in user.
func (c *Console) account(r *http.Request, v *visit) (*accountData, error) {
	org := v.Session.User.OrgID
	d := &accountData{Roles: roleChoices}
	var err error
	if d.Org, err = c.org(r, v); err != nil {
		return nil, err
	}
	d.Settings = settingsForm{Name: d.Org.Name, Timezone: d.Org.Timezone, ClaimWindow: d.Org.ClaimWindow,
		HandoverEnabled: d.Org.HandoverEnabled, CrossSilo: d.Org.CrossSilo, RetentionDays: retentionText(d.Org.RetentionDays)}
	if d.Org.ParentID != nil {
		// The API named the parent to this member; only its name is shown.
		if d.Parent, err = c.orgName(r, *d.Org.ParentID); err != nil {
			return nil, err
		}
	}
	if d.Subs, err = c.subAgencies(r, v); err != nil {
		return nil, err
	}
	var invs struct {
		Invitations []store.Invitation `json:"invitations"`
	}
	if _, err := c.call(r, v, "GET", "/v1/orgs/"+org+"/invitations", nil, &invs); err != nil {
		if _, msg, _, ok := refused(err); ok {
			d.InvitationsRefused = msg
		} else {
			return nil, err
		}
	}
	d.Invitations = invs.Invitations
	var users struct {
		Users []api.UserOut `json:"users"`
	}
	if _, err := c.call(r, v, "GET", "/v1/orgs/"+org+"/users", nil, &users); err != nil {
		if _, msg, _, ok := refused(err); ok {
			d.UsersRefused = msg
		} else {
			return nil, err
		}
	}
	d.Users = users.Users
	return d, nil
}

// refusedAccount shows the account page again after the API refused one of
// its forms: the refusal at the top and next to each field (named as the
// form names them: prefix + the API's field), the typed values kept by
// keep.
func (c *Console) refusedAccount(w http.ResponseWriter, r *http.Request, v *visit, err error, form, prefix string, keep func(*accountData)) {
	status, msg, fields, ok := refused(err)
	if !ok || status == http.StatusNotFound {
		c.failed(w, r, v, err)
		return
	}
	d, rerr := c.account(r, v)
	if rerr != nil {
		c.failed(w, r, v, rerr)
		return
	}
	d.Refused = form
	if keep != nil {
		keep(d)
	}
	named := map[string]string{}
	for k, s := range fields {
		named[prefix+k] = s
	}
	if len(fields) > 0 {
		// The API's message names the request ("invalid org"); the fields say
		// what is wrong, where the person looks.
		msg = "Nothing was changed. Check the fields marked below."
	}
	c.render(w, r, status, "account", view{Title: "Account", V: v, Problem: msg, Fields: named, Form: r.PostForm, Data: d})
}

// saveSettings sends the settings form as PATCH /v1/orgs/{org}.
func (c *Console) saveSettings(w http.ResponseWriter, r *http.Request, v *visit) {
	typed := settingsForm{Name: r.PostFormValue("name"), Timezone: r.PostFormValue("timezone"),
		ClaimWindow: r.PostFormValue("claim_window"), HandoverEnabled: r.PostFormValue("handover_enabled") == "on",
		CrossSilo: r.PostFormValue("cross_silo") == "on", RetentionDays: r.PostFormValue("retention_days")}
	in := map[string]any{"name": typed.Name, "timezone": typed.Timezone, "claim_window": typed.ClaimWindow,
		"handover_enabled": typed.HandoverEnabled, "cross_silo": typed.CrossSilo, "retention_days": retentionValue(typed.RetentionDays)}
	if _, err := c.call(r, v, "PATCH", "/v1/orgs/"+v.Session.User.OrgID, in, nil); err != nil {
		c.refusedAccount(w, r, v, err, "settings", "", func(d *accountData) { d.Settings = typed })
		return
	}
	seeAccount(w, r, "settings-saved", "settings")
}

// seeAccount redirects to the account page after a change, with its
// message and the section to show.
func seeAccount(w http.ResponseWriter, r *http.Request, done, section string) {
	http.Redirect(w, r, "/app/account?done="+url.QueryEscape(done)+"#"+section, http.StatusSeeOther)
}

// storeFailed renders an error of a store read: "not found" as the API
// says it, anything else as a failure.
func (c *Console) storeFailed(w http.ResponseWriter, r *http.Request, v *visit, err error) {
	if domain.ErrorCode(err) == domain.ENotFound {
		c.notFound(w, r, v)
		return
	}
	c.failed(w, r, v, err)
}
