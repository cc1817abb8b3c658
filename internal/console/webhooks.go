package console

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/leadrelay/leadrelay/internal/api"
	"github.com/leadrelay/leadrelay/internal/domain"
)

// hooksData is what the webhooks pages show.
type hooksData struct {
	Hooks  []api.WebhookOut
	Hook   *api.WebhookOut // the endpoint page's, or the one just created
	Events []eventChoice   // the form's choices
	// Created: the endpoint was just made, and Hook.Secret is in full,
	// shown this once.
	Created  bool
	Deleting bool
}

// eventChoice is one event's checkbox.
type eventChoice struct {
	Name    string
	Checked bool
}

// hooksOnly keeps the webhook pages to the org's owner and admins, as the
// API does; to anyone else they are not there (and not in the menu).
func hooksOnly(c *Console, w http.ResponseWriter, r *http.Request, v *visit) bool {
	if v.Manages() {
		return true
	}
	c.notFound(w, r, v)
	return false
}

// webhooksPage lists the org's endpoints with the form that adds one.
func (c *Console) webhooksPage(w http.ResponseWriter, r *http.Request, v *visit) {
	if hooksOnly(c, w, r, v) {
		c.renderWebhooks(w, r, v, http.StatusOK, view{})
	}
}

func (c *Console) renderWebhooks(w http.ResponseWriter, r *http.Request, v *visit, status int, vw view) {
	var list struct {
		Webhooks []api.WebhookOut `json:"webhooks"`
	}
	if _, err := c.call(r, v, "GET", "/v1/orgs/"+v.Session.User.OrgID+"/webhooks", nil, &list); err != nil {
		c.failed(w, r, v, err)
		return
	}
	var events []eventChoice
	for _, e := range domain.WebhookEvents {
		events = append(events, eventChoice{Name: e, Checked: slices.Contains(vw.Form["events"], e)})
	}
	vw.Title, vw.V, vw.Data = "Webhooks", v, hooksData{Hooks: list.Webhooks, Events: events}
	c.render(w, r, status, "webhooks", vw)
}

// createWebhook adds an endpoint through POST /v1/orgs/{org}/webhooks and
// shows its secret, this once.
func (c *Console) createWebhook(w http.ResponseWriter, r *http.Request, v *visit) {
	if !hooksOnly(c, w, r, v) {
		return
	}
	in := map[string]any{"url": r.PostForm.Get("url"), "events": r.PostForm["events"]}
	if s := strings.TrimSpace(r.PostForm.Get("secret")); s != "" {
		in["secret"] = s
	}
	if r.PostForm["events"] == nil {
		in["events"] = []string{}
	}
	var created api.WebhookOut
	if _, err := c.call(r, v, "POST", "/v1/orgs/"+v.Session.User.OrgID+"/webhooks", in, &created); err != nil {
		status, msg, fields, ok := refused(err)
		if !ok {
			c.failed(w, r, v, err)
			return
		}
		form := url.Values{"url": {r.PostForm.Get("url")}, "events": r.PostForm["events"]} // never the secret
		c.renderWebhooks(w, r, v, status, view{Problem: msg, Fields: fields, Form: form})
		return
	}
	c.render(w, r, http.StatusOK, "webhook", view{Title: "Webhook added", V: v, Data: hooksData{Hook: &created, Created: true}})
}

// webhookPage shows one endpoint with its delivery log.
func (c *Console) webhookPage(w http.ResponseWriter, r *http.Request, v *visit) {
	if !hooksOnly(c, w, r, v) {
		return
	}
	var h api.WebhookOut
	if _, err := c.call(r, v, "GET", c.hookPath(v, r), nil, &h); err != nil {
		c.failed(w, r, v, err)
		return
	}
	c.render(w, r, http.StatusOK, "webhook", view{Title: "Webhook", V: v,
		Data: hooksData{Hook: &h, Deleting: r.URL.Query().Get("delete") == "1"}})
}

func (c *Console) hookPath(v *visit, r *http.Request) string {
	return "/v1/orgs/" + v.Session.User.OrgID + "/webhooks/" + url.PathEscape(r.PathValue("id"))
}

// webhookAction is enable, delete or resend, each through the API's route,
// then back to the page that asked.
func (c *Console) webhookAction(action string) func(http.ResponseWriter, *http.Request, *visit) {
	return func(w http.ResponseWriter, r *http.Request, v *visit) {
		if !hooksOnly(c, w, r, v) {
			return
		}
		method, path, back := "POST", c.hookPath(v, r), "/app/webhooks/"+url.PathEscape(r.PathValue("id"))
		switch action {
		case "delete":
			method, back = "DELETE", "/app/webhooks"
		case "enable":
			path += "/enable"
		case "resend":
			path += "/deliveries/" + url.PathEscape(r.PathValue("delivery")) + "/resend"
		}
		if _, err := c.call(r, v, method, path, nil, nil); err != nil {
			c.failed(w, r, v, err)
			return
		}
		http.Redirect(w, r, back+"?done=webhook-"+action, http.StatusSeeOther)
	}
}
