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

// NormalID gives one spelling of an id whatever its case, and refuses what
// is not an id.
func TestNormalID(t *testing.T) {
	const want = "0b9a2c3e-6f1d-4a8b-9c2d-1e2f3a4b5c6d"
	for _, in := range []string{want, "0B9A2C3E-6F1D-4A8B-9C2D-1E2F3A4B5C6D", "0b9A2c3E-6f1D-4a8B-9c2D-1e2F3a4B5c6D"} {
		if got, ok := NormalID(in); !ok || got != want {
			t.Errorf("NormalID(%q) = %q, %v", in, got, ok)
		}
	}
	for _, in := range []string{"", "{" + want + "}", "urn:uuid:" + want, "0b9a2c3e6f1d4a8b9c2d1e2f3a4b5c6d", want + " ", "acme"} {
		if got, ok := NormalID(in); ok {
			t.Errorf("NormalID(%q) = %q, want refused", in, got)
		}
	}
}
