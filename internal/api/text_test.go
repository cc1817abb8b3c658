package api

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/leadrelay/leadrelay/internal/domain"
)

func wantField(t *testing.T, name string, err error, code, field string) {
	t.Helper()
	e, _ := err.(*domain.Error)
	if e == nil || e.Code != code || (field != "" && e.Fields[field] == "") {
		t.Errorf("%s: %v, want %s naming %q", name, err, code, field)
	}
}

// Every route decodes its body with decode: NUL and anything that is not
// UTF-8, in any key or value at any depth, is a 422 naming the field, where
// encoding/json alone would store U+FFFD or the NUL.
func TestDecodeRefusesNULAndInvalidUTF8(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, body, field string }{
		{"escaped NUL", `{"external_id":"a\u0000b","email":"a@b.example"}`, "external_id"},
		{"raw NUL", "{\"external_id\":\"a-1\",\"email\":\"a@b.example\",\"notes\":\"x\x00y\"}", "notes"},
		{"raw 0xff", "{\"external_id\":\"a-1\",\"email\":\"a@b.example\",\"first_name\":\"\xff\"}", "first_name"},
		{"nested", `{"external_id":"a-1","email":"a@b.example","address":{"city":"x","street":"\u0000"}}`, "address.street"},
		{"label", `{"external_id":"a-1","email":"a@b.example","labels":["a","b","\ud800"]}`, "labels[2]"},
		{"attribute value", "{\"external_id\":\"a-1\",\"email\":\"a@b.example\",\"attributes\":{\"plan\":\"\xc0\x80\"}}", "attributes.plan"},
		{"attribute key", `{"external_id":"a-1","email":"a@b.example","attributes":{"p\u0000":"x"}}`, "attributes.p\uFFFD"},
		{"lone low surrogate", `{"external_id":"\udc00","email":"a@b.example"}`, "external_id"},
		{"high then not low", `{"external_id":"\ud83d\u0041","email":"a@b.example"}`, "external_id"},
		{"utf-8 surrogate", "{\"external_id\":\"\xed\xa0\x80\",\"email\":\"a@b.example\"}", "external_id"},
		{"unknown key", `{"external_id":"a","email":"a@b.example","x\u0000":1}`, "x\uFFFD"},
	}
	for _, c := range cases {
		_, err := parseLeadBody([]byte(c.body))
		wantField(t, c.name, err, domain.EInvalid, c.field)
	}
	// Other routes' bodies, through the same decode.
	var org orgIn
	_, err := decodeString(`{"name":"Acme","owner":{"email":"a@b.example","name":"A\u0000"}}`, &org)
	wantField(t, "org owner name", err, domain.EInvalid, "owner.name")
	var src domain.SourceConfig
	_, err = decodeString(`{"name":"EQ","routing":{"mode":"owner"},"purchase_notification_emails":["a@b.example","\ud800"]}`, &src)
	wantField(t, "source emails", err, domain.EInvalid, "purchase_notification_emails[1]")
	var acc struct {
		OrgID string `json:"org_id"`
	}
	_, err = decodeString("{\"org_id\":\"\xff\"}", &acc)
	wantField(t, "accept org_id", err, domain.EInvalid, "org_id")
}

func decodeString(body string, dst any) (any, error) {
	req := httptest.NewRequest("POST", "/", strings.NewReader(body))
	return dst, decode(httptest.NewRecorder(), req, smallBody*2, dst)
}

// Syntax errors stay 400 (malformed); size 413; valid Unicode passes intact.
func TestDecodeKeepsSyntaxErrorsAndValidUnicode(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]string{
		"truncated after NUL": `{"external_id":"a\u0000`,
		"bad escape":          `{"external_id":"\u12"}`,
		"raw tab":             "{\"external_id\":\"a\tb\"}",
		"trailing NUL":        "{\"external_id\":\"a\"}\x00",
		"deep":                `{"attributes":` + strings.Repeat("[", 12000) + strings.Repeat("]", 12000) + `}`,
	} {
		_, err := parseLeadBody([]byte(body))
		wantField(t, name, err, domain.EMalformed, "")
	}
	_, err := parseLeadBody([]byte(`{"external_id":"` + strings.Repeat("x", 70<<10) + `"}`))
	wantField(t, "70 KiB", err, domain.ETooLarge, "")

	in, err := parseLeadBody([]byte(`{"external_id":"\ud83e\udd8a-طلب-注文-` + "\u200d\ufffd" + `","email":"a@b.example",` +
		`"first_name":"Zoë","labels":["\ud83d\ude00"],"attributes":{"ключ":"値"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if in.ExternalID != "🦊-طلب-注文-\u200d\ufffd" || in.FirstName != "Zoë" || in.Labels[0] != "😀" || in.Attributes["ключ"] != "値" {
		t.Fatalf("valid Unicode changed: %+v", in)
	}
}

func TestLeadFilterRefusals(t *testing.T) {
	t.Parallel()
	cases := []struct{ query, code, field string }{
		{"status=%00", domain.EInvalid, "status"},
		{"source=%ff", domain.EInvalid, "source"},
		{"cursor=%ff", domain.EInvalid, "cursor"},
		{"assigned_to=%00", domain.EInvalid, "assigned_to"},
		{"status=%C0%80", domain.EInvalid, "status"},
		{"status=new&status=%00", domain.EInvalid, "status"},
		{"%00=1", domain.EInvalid, "\uFFFD"},
		{"status=bogus", domain.EInvalid, "status"},
		{"status=%zz", domain.EInvalid, "status"},
		{"limit=0", domain.EInvalid, "limit"},
		{"source=Ever%20Quote", domain.EInvalid, "source"},
		{"cursor=" + strings.Repeat("A", 600), domain.EInvalid, "cursor"},
		{"cursor=a.b", domain.EInvalid, "cursor"},
		{"%zz=1", domain.EMalformed, ""},
		{"status=new;limit=1", domain.EMalformed, ""},
	}
	for _, c := range cases {
		_, err := leadFilter(c.query)
		wantField(t, c.query, err, c.code, c.field)
	}
	f, err := leadFilter("status=new&source=everquote&limit=10&cursor=abc_-9&unknown=%F0%9F%A6%8A")
	if err != nil || f.Status != "new" || f.Source != "everquote" || f.Limit != 10 || f.Cursor != "abc_-9" {
		t.Fatalf("%+v %v", f, err)
	}
}
