package domain

import (
	"strings"
	"testing"
	"time"
)

func TestLeadValidation(t *testing.T) {
	t.Parallel()
	ok := LeadInput{ExternalID: " x1 ", Phone: "+1 (312) 555-0100"}
	if err := ok.Validate(); err != nil || ok.ExternalID != "x1" {
		t.Fatalf("valid lead refused: %v", err)
	}
	for name, c := range map[string]struct {
		in    LeadInput
		field string
	}{
		"no id":        {LeadInput{Email: "a@b.co"}, "external_id"},
		"long id":      {LeadInput{ExternalID: strings.Repeat("x", 129), Email: "a@b.co"}, "external_id"},
		"no contact":   {LeadInput{ExternalID: "x"}, "email"},
		"bad email":    {LeadInput{ExternalID: "x", Email: "a@b"}, "email"},
		"display name": {LeadInput{ExternalID: "x", Email: "Ada <a@b.co>"}, "email"},
		"bad phone":    {LeadInput{ExternalID: "x", Phone: "call me"}, "phone"},
		"bad location": {LeadInput{ExternalID: "x", Email: "a@b.co", Location: "inbox"}, "location"},
		"empty label":  {LeadInput{ExternalID: "x", Email: "a@b.co", Labels: []string{" "}}, "labels"},
		"bad kind":     {LeadInput{ExternalID: "x", Email: "a@b.co", Kind: "customer"}, "kind"},
	} {
		err := c.in.Validate()
		e, _ := err.(*Error)
		if e == nil || e.Code != EInvalid || e.Fields[c.field] == "" {
			t.Errorf("%s: %v, want a message for %s", name, err, c.field)
		}
	}
}

func TestPlaceForceLocationWins(t *testing.T) {
	t.Parallel()
	cases := []struct {
		mode          RoutingMode
		force, vendor string
		want          string
	}{
		{RouteStaffEvenly, "", "", ""},
		{RouteOwner, "", "queue", "queue"},
		{RoutePending, "", "", "pending"},
		{RouteQueue, "", "", "queue"},
		{RouteQueue, "pending", "queue", "pending"},
		{RouteStaffEvenly, "queue", "pending", "queue"},
	}
	for _, c := range cases {
		p := Place(c.mode, c.force, c.vendor, 15*time.Minute)
		if p.Location != c.want || (c.want != "" && p.Reason == "") {
			t.Errorf("Place(%s, force=%q, vendor=%q) = %+v, want %q", c.mode, c.force, c.vendor, p, c.want)
		}
	}
}

func TestSourceValidation(t *testing.T) {
	t.Parallel()
	c := SourceConfig{Name: "EQ", Routing: Routing{Mode: RouteQueue, QueueDelay: "15m"}}
	d, err := c.Validate()
	if err != nil || d != 15*time.Minute || c.Priority != "normal" {
		t.Fatalf("%v %v %q", d, err, c.Priority)
	}
	bad := SourceConfig{Routing: Routing{Mode: RouteSubAgencies, SubAgencies: []string{"nope"}, QueueDelay: "-1m"},
		Priority: "urgent", PurchaseNotificationEmails: []string{"x"}}
	_, err = bad.Validate()
	e := err.(*Error)
	for _, f := range []string{"name", "routing.sub_agencies", "routing.queue_delay", "priority", "purchase_notification_emails"} {
		if e.Fields[f] == "" {
			t.Errorf("no message for %s: %v", f, e.Fields)
		}
	}
}

func TestTokensAreRandomAndStoredHashed(t *testing.T) {
	t.Parallel()
	a, ha := NewToken("lru_")
	b, _ := NewToken("lru_")
	if a == b || !strings.HasPrefix(a, "lru_") || len(a) < 4+43 || string(ha) != string(HashToken(a)) || strings.Contains(string(ha), a) {
		t.Fatalf("tokens %q %q", a, b)
	}
}
