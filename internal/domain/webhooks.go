package domain

import (
	"net/url"
	"slices"
	"strings"
)

// WebhookEvents are the event types an endpoint may subscribe to, as the
// timeline_events trigger of migration 00020 names them
// (docs/webhooks.md maps each to its timeline kinds). A family's wildcard
// (handover.*, claim.*) subscribes to every type of it, those added later
// included.
var WebhookEvents = []string{
	"lead.received", "lead.assigned", "lead.worked", "lead.transferred", "lead.returned",
	"handover.accepted", "handover.rejected", "handover.expired", "handover.withdrawn", "handover.*",
	"claim.claimed", "claim.released", "claim.expired", "claim.*",
}

// MaxWebhookURL is the longest endpoint URL kept.
const MaxWebhookURL = 2048

// WebhookEndpoint is what an org registers: where to POST which events.
type WebhookEndpoint struct {
	URL    string   `json:"url"`
	Events []string `json:"events"`
}

// Validate checks the URL's shape (http or https, a host, no userinfo, at
// most MaxWebhookURL bytes) and the events (known, at least one), naming
// the field of each problem. Where the host resolves to is the webhook
// guard's check (internal/webhook), made again at every delivery.
func (w *WebhookEndpoint) Validate() error {
	f := FieldErrors{}
	w.URL = strings.TrimSpace(w.URL)
	switch u, err := url.Parse(w.URL); {
	case w.URL == "":
		f.Add("url", "required")
	case len(w.URL) > MaxWebhookURL:
		f.Add("url", "at most 2048 characters")
	case err != nil || !u.IsAbs():
		f.Add("url", "not an absolute URL")
	case u.Scheme != "http" && u.Scheme != "https":
		f.Add("url", "must be an http or https URL")
	case u.User != nil:
		f.Add("url", "must not carry a user name or password")
	case u.Hostname() == "":
		f.Add("url", "has no host")
	case u.Fragment != "":
		f.Add("url", "must not have a #fragment")
	}
	if len(w.Events) == 0 {
		f.Add("events", "name at least one event")
	}
	seen := map[string]bool{}
	var kept []string
	for _, e := range w.Events {
		if !slices.Contains(WebhookEvents, e) {
			f.Add("events", "unknown event "+quoteShort(e)+"; known: "+strings.Join(WebhookEvents, ", "))
			continue
		}
		if !seen[e] {
			seen[e] = true
			kept = append(kept, e)
		}
	}
	w.Events = kept
	return f.Err("invalid webhook endpoint")
}

// quoteShort quotes s for a message, cut to 40 bytes so a caller's garbage
// cannot fill the answer.
func quoteShort(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return "\"" + s + "\""
}
