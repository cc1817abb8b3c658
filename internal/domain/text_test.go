package domain

import (
	"strings"
	"testing"
)

// external_id: any script and emoji, up to 128 characters (not bytes); no
// control characters (Cc) and no line or paragraph separators.
func TestExternalIDCharacters(t *testing.T) {
	t.Parallel()
	for _, id := range []string{
		"🦊-42", "طلب-٤٢", "注文-四二", "👨\u200d👩\u200d👧", "a\u200bb", "Zoë", "a\ufffdb",
		strings.Repeat("é", 128), strings.Repeat("🦊", 128), strings.Repeat("x", 128),
	} {
		in := LeadInput{ExternalID: id, Email: "a@b.co"}
		if err := in.Validate(); err != nil {
			t.Errorf("%q (%d bytes) refused: %v", id, len(id), err)
		}
	}
	for _, id := range []string{
		"a\x00b", "a\x07b", "a\x1bb", "a\x7fb", "a\u0085b", "a\u009fb", "a\nb", "a\u2028b", "a\u2029b", "a\xffb",
		strings.Repeat("é", 129), strings.Repeat("🦊", 129), strings.Repeat("x", 129),
	} {
		in := LeadInput{ExternalID: id, Email: "a@b.co"}
		err := in.Validate()
		if e, _ := err.(*Error); e == nil || e.Code != EInvalid || e.Fields["external_id"] == "" {
			t.Errorf("%q: %v, want a message for external_id", id, err)
		}
	}
}

// Other strings: NUL and invalid UTF-8 are refused, naming the field; the
// rest (control characters such as newlines in notes included) is kept.
func TestLeadStringsRefuseNULAndInvalidUTF8(t *testing.T) {
	t.Parallel()
	for field, in := range map[string]LeadInput{
		"first_name":          {FirstName: "A\x00"},
		"notes":               {Notes: "\xff"},
		"address.postal_code": {Address: Address{PostalCode: "1\x00"}},
		"labels[1]":           {Labels: []string{"ok", "b\x00"}},
		"attributes.k":        {Attributes: map[string]string{"k": "\xc0\x80"}},
		"attributes":          {Attributes: map[string]string{"k\x00": "v"}},
		"email":               {Email: "a\x00@b.co"},
	} {
		in.ExternalID = "x"
		if in.Email == "" {
			in.Email = "a@b.co"
		}
		err := in.Validate()
		if e, _ := err.(*Error); e == nil || e.Fields[field] == "" {
			t.Errorf("%s: %v, want a message for it", field, err)
		}
	}
	ok := LeadInput{ExternalID: "x", Email: "a@b.co", Notes: "line 1\nline 2\ttab", FirstName: strings.Repeat("ü", 500)}
	if err := ok.Validate(); err != nil {
		t.Fatalf("refused: %v", err)
	}
	long := LeadInput{ExternalID: "x", Email: "a@b.co", FirstName: strings.Repeat("ü", 501)}
	if err := long.Validate(); err == nil {
		t.Fatal("501 characters accepted")
	}
}

func TestLeadStatuses(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"new", "returned", "onboarding", "invalid"} {
		if !ValidLeadStatus(s) {
			t.Errorf("%s refused", s)
		}
	}
	for _, s := range []string{"", "New", "assigned", "new\x00"} {
		if ValidLeadStatus(s) {
			t.Errorf("%q accepted", s)
		}
	}
}
