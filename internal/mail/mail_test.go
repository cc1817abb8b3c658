package mail

import (
	"strings"
	"testing"
)

// A name with a newline (or any control character) gives a one-line
// subject that still holds all of the name, and the body does not start
// with the rest of the subject: purchase, retention, invitation and
// confirmation emails alike.
func TestSubjectsAreOneLine(t *testing.T) {
	evil := "Ada\nLovelace\r\nBcc: x@evil.example\u2028\u0007"
	data := map[string]any{}
	for _, k := range []string{"ExternalID", "FromName", "LeadEmail", "LeadName", "LeadPhone", "LeadURL", "MemberName", "OrgName",
		"Reason", "RecipientName", "Slug", "SourceName", "Expires", "InviterEmail", "InviterName", "Link", "MasterName",
		"MasterOwnerName", "SubName", "SubOwnerEmail"} {
		data[k] = evil
	}
	for _, name := range []string{"purchase", "retention", "invitation", "confirmation"} {
		m, err := Render(name, "k", "to@example.com", "leadrelay.test", data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if strings.ContainsAny(m.Subject, "\r\n\u2028\a") || !strings.Contains(m.Subject, "Ada Lovelace Bcc: x@evil.example") {
			t.Errorf("%s subject %q: want one line with the whole name", name, m.Subject)
		}
		if strings.HasPrefix(strings.TrimSpace(m.Text), "Lovelace") || strings.HasPrefix(m.Text, "Bcc") {
			t.Errorf("%s body starts with the rest of the subject: %q", name, m.Text[:min(60, len(m.Text))])
		}
	}
}
