package domain

import (
	"errors"
	"strings"
	"testing"
)

// A return needs a one-line reason of 1 to 500 characters; comments are
// optional, up to 5,000 characters over any number of lines; NUL nowhere.
func TestReturnInputValidate(t *testing.T) {
	t.Parallel()
	text := func(s string) *string { return &s }
	for _, in := range []ReturnInput{
		{Reason: "duplicate lead"},
		{Reason: " " + strings.Repeat("é", MaxReturnReason) + " "},
		{Reason: "wrong number", Comments: text("Called twice.\nNobody answered.")},
		{Reason: "🦊 not interested", Comments: text(strings.Repeat("ü", MaxReturnComments))},
		{Reason: "x", Comments: text("")},
	} {
		if err := in.Validate(); err != nil {
			t.Errorf("%.40q refused: %v", in.Reason, err)
		}
	}
	for _, c := range []struct {
		in    ReturnInput
		field string
	}{
		{ReturnInput{}, "reason"},
		{ReturnInput{Reason: "   "}, "reason"},
		{ReturnInput{Reason: strings.Repeat("x", MaxReturnReason+1)}, "reason"},
		{ReturnInput{Reason: "two\nlines"}, "reason"},
		{ReturnInput{Reason: "nul\x00"}, "reason"},
		{ReturnInput{Reason: "ok", Comments: text(strings.Repeat("x", MaxReturnComments+1))}, "comments"},
		{ReturnInput{Reason: "ok", Comments: text("a\x00b")}, "comments"},
		{ReturnInput{Reason: "ok", Comments: text("a\xffb")}, "comments"},
	} {
		err := c.in.Validate()
		if e, _ := err.(*Error); e == nil || e.Code != EInvalid || e.Fields[c.field] == "" {
			t.Errorf("%.40q / %v: %v, want a message for %s", c.in.Reason, c.in.Comments, err, c.field)
		}
	}
}

// Who may return: the rule of assignment. Team-owned: the owner, admins,
// managers and the operator. Agent-owned: its owner only.
func TestMayReturn(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		by    Changer
		owner string
		ok    bool
	}{
		{Changer{UserID: "u", Role: RoleOwner}, "", true},
		{Changer{UserID: "u", Role: RoleAdmin}, "", true},
		{Changer{UserID: "u", Role: RoleManager}, "", true},
		{Changer{}, "", true},
		{Changer{UserID: "u", Role: RoleStaff}, "", false},
		{Changer{UserID: "u", Role: RoleProfessional}, "", false},
		{Changer{UserID: "u", Role: RoleStaff}, "u", true},
		{Changer{UserID: "u", Role: RoleOwner}, "v", false},
		{Changer{}, "v", false},
	} {
		err := c.by.MayReturn(c.owner)
		if (err == nil) != c.ok || (err != nil && ErrorCode(err) != EForbidden) {
			t.Errorf("%+v on owner %q: %v, want allowed=%v", c.by, c.owner, err, c.ok)
		}
	}
}

func sample() ReturnFields {
	return ReturnFields{LeadID: "l-1", ExternalID: "ext-9", LeadName: "Ada Lovelace", FirstName: "Ada", LastName: "Lovelace",
		Source: "EverQuote", SourceSlug: "everquote", OrgName: "Summit", ReturnedBy: "Meg Manager", Reason: "duplicate",
		Comments: "Called twice."}
}

// The language: fields, if/else/with, variables, a few functions, an
// optional Subject line.
func TestReturnTemplateRenders(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ src, subject, body string }{
		{"Subject: Returned {{.ExternalID}} ({{.Reason}})\n\nHi,\n{{.LeadName}}{{if .Comments}}: {{.Comments}}{{end}}\n",
			"Returned ext-9 (duplicate)", "Hi,\nAda Lovelace: Called twice.\n"},
		{"{{upper .FirstName}} {{lower .LastName}} {{trim \"  x \"}} {{len .Reason}}", "Lead returned by Summit: Ada Lovelace",
			"ADA lovelace x 9"},
		{"Subject: {{with .Comments}}has comments{{else}}none{{end}}\n{{$r := .Reason}}{{$r}} {{$.Source}} {{print 1 2}}",
			"has comments", "duplicate EverQuote 1 2"},
		{"{{if and (eq .SourceSlug \"everquote\") (ne .Reason \"x\") (not .LeadEmail)}}yes{{end}}{{/* a note */}}", "Lead returned by Summit: Ada Lovelace", "yes"},
		{"Subject:   \nbody", "Lead returned by Summit: Ada Lovelace", "body"},
		{"Subject: only a subject", "only a subject", ""},
	} {
		rt, err := ParseReturnTemplate(c.src)
		if err != nil {
			t.Fatalf("%q: %v", c.src, err)
		}
		subject, body, err := rt.Render(sample())
		if err != nil || subject != c.subject || body != c.body {
			t.Errorf("%q: subject %q body %q err %v; want %q, %q", c.src, subject, body, err, c.subject, c.body)
		}
		if p := ReturnTemplateProblem(c.src); p != "" {
			t.Errorf("%q refused: %s", c.src, p)
		}
	}
	f := sample()
	f.LeadName = ""
	if got := f.DefaultSubject(); got != "Lead returned by Summit: ext-9" {
		t.Errorf("subject without a name: %q", got)
	}
}

// A template that cannot work is refused with the template's own words and
// where it went wrong (line, and column where Go's parser gives one).
func TestReturnTemplateProblems(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ src, want string }{
		{"Hello {{.LeadName", "return_template:1: unclosed action"},
		{"line one\n{{if .Reason}}no end", "return_template:2: unexpected EOF"},
		{"a\nb {{.Nope}}", "return_template:2:4: unknown field .Nope"},
		{"{{.Reason.Length}}", "return_template:1:9: unknown field .Reason.Length"},
		{"{{$.Nope}}", "unknown field $.Nope"},
		{"{{range .Reason}}x{{end}}", "return_template:1:8: {{range}} is not part of"},
		{"{{range 1000000000}}{{end}}", "{{range}} is not part of"},
		{`{{define "a"}}x{{end}}{{template "a"}}`, "{{define}} and {{block}}"},
		{`{{template "a"}}`, "{{template}} is not part of"},
		{`{{block "b" .}}x{{end}}`, "{{define}} and {{block}}"},
		{`{{printf "%0999999999d" 1}}`, `return_template:1:2: function "printf" is not part of`},
		{`{{index .Reason 1}}`, `function "index"`},
		{`{{call .Reason}}`, `function "call"`},
		{`{{nosuch .Reason}}`, `return_template:1: function "nosuch" not defined`},
		{"{{eq .Reason 1}}", "return_template:1:2: executing \"return_template\" at <eq .Reason 1>: error calling eq: incompatible types"},
		{"{{if .Comments}}{{len 3}}{{end}}", "error calling len"},
		{"{{if not .LeadEmail}}{{upper 3}}{{end}}", "1:29: executing \"return_template\" at <3>: expected string"},
		{"{{.Reason 1}}", "Reason has arguments but cannot be invoked"},
		{strings.Repeat("{{.Comments}}", 60), "larger than 256 KiB"},
		{strings.Repeat("x", MaxReturnTemplate+1), "at most 16 KiB"},
		{"a\x00b", "NUL"},
	} {
		p := ReturnTemplateProblem(c.src)
		if !strings.Contains(p, c.want) {
			t.Errorf("%.60q: %q, want it to say %q", c.src, p, c.want)
		}
	}
}

// A source's return_template is checked when the source is saved: the
// problem is named return_template; a blank one means the built-in template.
func TestSourceConfigChecksTheReturnTemplate(t *testing.T) {
	t.Parallel()
	bad, blank, good := "{{.Nope}}", " \n ", "Subject: {{.Reason}}\n{{.LeadName}}"
	for _, c := range []struct {
		tmpl    *string
		problem bool
	}{{&bad, true}, {&blank, false}, {&good, false}, {nil, false}} {
		sc := SourceConfig{Name: "EverQuote", Routing: Routing{Mode: RouteOwner}, ReturnTemplate: c.tmpl}
		_, err := sc.Validate()
		e, _ := err.(*Error)
		if c.problem != (e != nil && e.Fields["return_template"] != "") || (!c.problem && err != nil) {
			t.Errorf("%v: %v", c.tmpl, err)
		}
		if c.tmpl == &blank && sc.ReturnTemplate != nil {
			t.Errorf("a blank template is kept: %q", *sc.ReturnTemplate)
		}
	}
	many := make([]string, 21)
	for i := range many {
		many[i] = "a@b.example"
	}
	sc := SourceConfig{Name: "EverQuote", Routing: Routing{Mode: RouteOwner}, ReturnNotificationEmails: many}
	if _, err := sc.Validate(); err == nil || err.(*Error).Fields["return_notification_emails"] == "" {
		t.Errorf("21 return addresses: %v", err)
	}
}

// A page marks the line a template's problem is about: the line Go's parser
// or the trial render names, or none when the problem is the whole template.
func TestReturnTemplateLine(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		src  string
		line int
	}{
		{"Subject: x\nHello {{.LeadNmae}}", 2},
		{"a\nb\n{{if .Reason}}no end", 3},
		{"one\ntwo\nthree {{upper 3}}", 3},
		{"Hello {{.LeadName", 1},
		{`{{define "a"}}x{{end}}`, 0},
		{strings.Repeat("x", MaxReturnTemplate+1), 0},
	} {
		p := ReturnTemplateProblem(c.src)
		if got := ReturnTemplateLine(p); got != c.line {
			t.Errorf("%.40q: %q is about line %d, want %d", c.src, p, got, c.line)
		}
	}
}

// A return window is a Go duration from a minute to 90 days in whole
// seconds ("" : none); reasons are trimmed, bounded and unique without
// case, each refusal naming the reason by index; a return's reason is
// matched without case and answered in the list's spelling.
func TestReturnRules(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]bool{"": true, "72h": true, "1m": true, "2160h": true, "90m30s": true,
		"59s": false, "2160h1s": false, "7d": false, "1.5s": false, "-1h": false, "soon": false} {
		if _, ok := ParseReturnWindow(in); ok != want {
			t.Errorf("ParseReturnWindow(%q) ok = %v", in, ok)
		}
	}
	c := SourceConfig{Name: "EQ", Routing: Routing{Mode: RouteOwner}, ReturnWindow: " 168h ",
		ReturnReasons: []string{" Duplicate ", "Wrong number"}}
	if _, err := c.Validate(); err != nil || c.ReturnWindow != "168h" || c.ReturnReasons[0] != "Duplicate" {
		t.Fatalf("good rules: %v %q %q", err, c.ReturnWindow, c.ReturnReasons)
	}
	bad := SourceConfig{Name: "EQ", Routing: Routing{Mode: RouteOwner}, ReturnWindow: "7d",
		ReturnReasons: []string{"ok", " ", "OK", strings.Repeat("x", 101), "a\tb"}}
	_, err := bad.Validate()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("bad rules: %v", err)
	}
	for _, f := range []string{"return_window", "return_reasons[1]", "return_reasons[2]", "return_reasons[3]", "return_reasons[4]"} {
		if e.Fields[f] == "" {
			t.Errorf("no refusal of %s: %v", f, e.Fields)
		}
	}
	many := SourceConfig{Name: "EQ", Routing: Routing{Mode: RouteOwner}, ReturnReasons: make([]string, MaxReturnReasons+1)}
	if _, err := many.Validate(); !errors.As(err, &e) || e.Fields["return_reasons"] == "" {
		t.Errorf("51 reasons: %v", err)
	}

	list := []string{"Duplicate", "Wrong number"}
	if got, err := MatchReturnReason(list, "wrong NUMBER"); err != nil || got != "Wrong number" {
		t.Errorf("a reason in another case: %q %v", got, err)
	}
	if _, err := MatchReturnReason(list, "Bad"); !errors.As(err, &e) || e.Fields["reason"] != "not one of this source's return reasons: Duplicate; Wrong number" {
		t.Errorf("a reason off the list: %v", err)
	}
	if got, err := MatchReturnReason(nil, "anything"); err != nil || got != "anything" {
		t.Errorf("no list: %q %v", got, err)
	}
}
