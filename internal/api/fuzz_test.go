package api

import (
	"bytes"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
)

// parseLeadBody is what POST /v1/leads does with a body before anything is
// written: decode, then Validate.
func parseLeadBody(body []byte) (domain.LeadInput, error) {
	req := httptest.NewRequest("POST", "/v1/leads", bytes.NewReader(body))
	var in domain.LeadInput
	if err := decode(httptest.NewRecorder(), req, domain.MaxLeadBody, &in); err != nil {
		return in, err
	}
	return in, in.Validate()
}

// checkRefusal: a refusal is a domain error the API answers with a 4xx, and
// a 422 names at least one field, in printable text.
func checkRefusal(t *testing.T, err error) {
	t.Helper()
	var e *domain.Error
	if !errors.As(err, &e) {
		t.Fatalf("refusal is not a domain error: %v", err)
	}
	rec := httptest.NewRecorder()
	writeErr(rec, err)
	if rec.Code < 400 || rec.Code > 499 {
		t.Fatalf("refusal answers %d: %v", rec.Code, err)
	}
	if e.Code == domain.EInvalid && len(e.Fields) == 0 {
		t.Fatalf("422 without a field: %v", err)
	}
	for k, v := range e.Fields {
		if !utf8.ValidString(k) || !utf8.ValidString(v) || strings.ContainsRune(k, 0) {
			t.Fatalf("field name or message is not text: %q: %q", k, v)
		}
	}
}

func checkText(t *testing.T, field, s string) {
	t.Helper()
	if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
		t.Fatalf("accepted %s %q: not UTF-8 text without NUL", field, s)
	}
}

// FuzzLeadBody: whatever a vendor posts, the parser never panics and either
// refuses it with a 4xx naming a field, or yields a lead whose every string
// is UTF-8 without NUL and whose external_id has no control characters and
// 1 to 128 characters.
func FuzzLeadBody(f *testing.F) {
	f.Add([]byte(`{"external_id":"seed-1","email":"a@b.example"}`)) // more in testdata/fuzz/FuzzLeadBody
	f.Fuzz(func(t *testing.T, body []byte) {
		in, err := parseLeadBody(body)
		if err != nil {
			checkRefusal(t, err)
			return
		}
		id := in.ExternalID
		checkText(t, "external_id", id)
		if n := utf8.RuneCountInString(id); n < 1 || n > 128 {
			t.Fatalf("accepted external_id of %d characters", n)
		}
		for _, r := range id {
			if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
				t.Fatalf("accepted external_id %q with control character U+%04X", id, r)
			}
		}
		for k, v := range map[string]string{"first_name": in.FirstName, "last_name": in.LastName, "email": in.Email,
			"phone": in.Phone, "company": in.Company, "rating": in.Rating, "notes": in.Notes, "location": in.Location,
			"address.street": in.Address.Street, "address.city": in.Address.City, "address.state": in.Address.State,
			"address.postal_code": in.Address.PostalCode} {
			checkText(t, k, v)
		}
		for _, l := range in.Labels {
			checkText(t, "label", l)
		}
		for k, v := range in.Attributes {
			checkText(t, "attribute key", k)
			checkText(t, "attribute value", v)
		}
	})
}

// FuzzListLeadsQuery: whatever query string reaches GET /v1/orgs/{org}/leads,
// its parsing never panics and either refuses it with a 4xx naming the
// parameter, or yields a filter of UTF-8 text without NUL, a known status, a
// user id, a slug, a known location, an owner that is a user id or team, a
// trimmed search without control characters of at most maxSearch
// characters, and a limit in range. TestListLeadsQueryThroughHandler runs
// the same corpus through the real handler and PostgreSQL: never a 5xx.
func FuzzListLeadsQuery(f *testing.F) {
	f.Add("status=new&limit=10") // more in testdata/fuzz/FuzzListLeadsQuery
	f.Fuzz(func(t *testing.T, raw string) {
		lf, err := leadFilter(raw)
		if err != nil {
			checkRefusal(t, err)
			return
		}
		for k, v := range map[string]string{"status": lf.Status, "assigned_to": lf.AssignedTo, "source": lf.Source, "cursor": lf.Cursor,
			"location": lf.Location, "owner": lf.Owner, "q": lf.Q} {
			checkText(t, k, v)
		}
		if lf.Status != "" && !domain.ValidLeadStatus(lf.Status) {
			t.Fatalf("accepted status %q", lf.Status)
		}
		if lf.AssignedTo != "" && !domain.ValidUUID(lf.AssignedTo) {
			t.Fatalf("accepted assigned_to %q", lf.AssignedTo)
		}
		if lf.Source != "" && !domain.ValidSlug(lf.Source) {
			t.Fatalf("accepted source %q", lf.Source)
		}
		if lf.Location != "" && lf.Location != domain.LocationPending && lf.Location != domain.LocationQueue {
			t.Fatalf("accepted location %q", lf.Location)
		}
		if lf.Owner != "" && lf.Owner != store.OwnerTeam && !domain.ValidUUID(lf.Owner) {
			t.Fatalf("accepted owner %q", lf.Owner)
		}
		if domain.IDProblem(lf.Q) != "" || utf8.RuneCountInString(lf.Q) > maxSearch || lf.Q != strings.TrimSpace(lf.Q) {
			t.Fatalf("accepted q %q", lf.Q)
		}
		if lf.Limit < 0 || lf.Limit > 500 {
			t.Fatalf("accepted limit %d", lf.Limit)
		}
	})
}
