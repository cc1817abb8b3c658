package domain

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"
	"unicode/utf8"
)

// MaxReturnTemplate bounds a source's return_template, in bytes.
const MaxReturnTemplate = 16 << 10

// MaxReturnEmail bounds what a return_template renders with every field at
// its longest: a template that could write more is refused when the source
// is saved, so no email fails later for being too large.
const MaxReturnEmail = 256 << 10

// maxRendered stops a render that writes far past MaxReturnEmail: samples are
// ASCII, real text may take up to four bytes a character.
const maxRendered = 4 * MaxReturnEmail

// ReturnFields are what a return email is written from: the built-in
// template's data and the fields a source's return_template may use, as
// {{.LeadName}} and so on. Every field is text, "" when unknown.
type ReturnFields struct {
	LeadID     string // leadrelay's id of the lead
	ExternalID string // the vendor's id of the lead
	LeadName   string // first and last name
	FirstName  string
	LastName   string
	LeadEmail  string
	LeadPhone  string
	Source     string // the source's name
	SourceSlug string
	OrgName    string // the org whose source received the lead: the vendor's customer
	ReturnedBy string // who returned it: a user's name, or "the operator"
	ReturnedAt string // when, in the org's timezone (DateLayout)
	ReceivedAt string // when the lead arrived, in the org's timezone
	Reason     string // one line
	Comments   string // "" unless the source includes comments on return
}

// DefaultSubject is the built-in subject of a return email, also used when a
// return_template has no "Subject:" line.
func (f ReturnFields) DefaultSubject() string {
	who := f.LeadName
	if who == "" {
		who = f.ExternalID
	}
	return "Lead returned by " + f.OrgName + ": " + who
}

// returnFieldNames are the fields a template may name: ReturnFields'.
var returnFieldNames = func() []string {
	t := reflect.TypeFor[ReturnFields]()
	names := make([]string, t.NumField())
	for i := range names {
		names[i] = t.Field(i).Name
	}
	return names
}()

// ReturnFieldNames are the fields a return template may name, for a page
// that lists them.
func ReturnFieldNames() []string { return slices.Clone(returnFieldNames) }

// returnFuncs are the functions of the language besides the built-in ones
// allowedFuncs lets through.
var returnFuncs = template.FuncMap{"upper": strings.ToUpper, "lower": strings.ToLower, "trim": strings.TrimSpace}

// allowedFuncs are the only functions a return_template may call. Left out:
// printf (a width can ask for gigabytes), index, slice and call (they fail on
// data the samples cannot foresee), html, js and urlquery (no use in a text
// email).
var allowedFuncs = []string{"and", "or", "not", "eq", "ne", "len", "print", "upper", "lower", "trim"}

// ReturnTemplate is a source's return_template, parsed and checked.
//
// The language is Go's text/template, narrowed so that checking a template
// once, when the source is saved, is enough: {{.Field}} for the fields of
// ReturnFields, {{if}}/{{else}}/{{with}}, variables, comments, and the
// functions in allowedFuncs. {{range}}, {{template}}, {{define}} and {{block}}
// are refused (with no list to range over they could only loop or recurse).
// An optional first line "Subject: …" is the email's subject; without it
// the subject is ReturnFields.DefaultSubject.
type ReturnTemplate struct{ t *template.Template }

// ParseReturnTemplate parses and checks a return_template: the error is the
// template's own message, with its line and column.
func ParseReturnTemplate(src string) (*ReturnTemplate, error) {
	if p := TextProblem(src); p != "" {
		return nil, errors.New(p)
	}
	if len(src) > MaxReturnTemplate {
		return nil, fmt.Errorf("at most %d KiB", MaxReturnTemplate>>10)
	}
	t, err := template.New("return_template").Funcs(returnFuncs).Parse(src)
	if err != nil {
		return nil, err
	}
	if len(t.Templates()) > 1 {
		return nil, errors.New("template: return_template: {{define}} and {{block}} are not part of the return template language")
	}
	if t.Tree != nil {
		if err := checkNode(t, t.Tree.Root); err != nil {
			return nil, err
		}
	}
	return &ReturnTemplate{t: t}, nil
}

// checkNode refuses, with its position, what the language leaves out.
func checkNode(t *template.Template, n parse.Node) error {
	refuse := func(n parse.Node, why string) error {
		loc, _ := t.ErrorContext(n)
		return fmt.Errorf("template: %s: %s", loc, why)
	}
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := checkNode(t, c); err != nil {
				return err
			}
		}
	case *parse.ActionNode:
		return checkNode(t, n.Pipe)
	case *parse.IfNode:
		return checkBranch(t, &n.BranchNode)
	case *parse.WithNode:
		return checkBranch(t, &n.BranchNode)
	case *parse.RangeNode:
		return refuse(n, "{{range}} is not part of the return template language")
	case *parse.TemplateNode:
		return refuse(n, "{{template}} is not part of the return template language")
	case *parse.PipeNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Cmds {
			for _, a := range c.Args {
				if err := checkNode(t, a); err != nil {
					return err
				}
			}
		}
	case *parse.FieldNode:
		if len(n.Ident) != 1 || !slices.Contains(returnFieldNames, n.Ident[0]) {
			return refuse(n, fmt.Sprintf("unknown field %s: the fields are .%s", n, strings.Join(returnFieldNames, ", .")))
		}
	case *parse.VariableNode:
		// $ is the fields: $.Reason is .Reason; another variable holds text.
		if len(n.Ident) > 2 || (len(n.Ident) == 2 && (n.Ident[0] != "$" || !slices.Contains(returnFieldNames, n.Ident[1]))) {
			return refuse(n, fmt.Sprintf("unknown field %s: the fields are .%s", n, strings.Join(returnFieldNames, ", .")))
		}
	case *parse.ChainNode:
		return refuse(n, fmt.Sprintf("%s: the fields are text and have no fields of their own", n))
	case *parse.IdentifierNode:
		if !slices.Contains(allowedFuncs, n.Ident) {
			return refuse(n, fmt.Sprintf("function %q is not part of the return template language: use %s", n.Ident, strings.Join(allowedFuncs, ", ")))
		}
	}
	// Text, comments, dot, strings, numbers, booleans and nil need no check.
	return nil
}

func checkBranch(t *template.Template, b *parse.BranchNode) error {
	for _, n := range []parse.Node{b.Pipe, b.List, b.ElseList} {
		if err := checkNode(t, n); err != nil {
			return err
		}
	}
	return nil
}

// Render writes the email for f: its subject (the "Subject:" line, or the
// default one) and its body.
func (rt *ReturnTemplate) Render(f ReturnFields) (subject, body string, err error) {
	var b bytes.Buffer
	if err := rt.t.Execute(&capped{w: &b, left: maxRendered}, f); err != nil {
		return "", "", err
	}
	text := b.String()
	if line, rest, ok := strings.Cut(text, "\n"); strings.HasPrefix(line, "Subject:") {
		subject = strings.TrimSpace(strings.TrimPrefix(line, "Subject:"))
		if !ok {
			rest = ""
		}
		text = rest
	}
	if subject = clip(subject, 250); subject == "" {
		subject = f.DefaultSubject()
	}
	return subject, strings.TrimLeft(text, "\r\n"), nil
}

// errTooLarge stops a render that writes past its limit.
var errTooLarge = fmt.Errorf("the email would be larger than %d KiB", MaxReturnEmail>>10)

// capped is a writer that fails once left bytes are spent.
type capped struct {
	w    *bytes.Buffer
	left int
}

func (c *capped) Write(p []byte) (int, error) {
	if len(p) > c.left {
		return 0, errTooLarge
	}
	c.left -= len(p)
	return c.w.Write(p)
}

// clip shortens s to at most n characters, on a character boundary.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// ReturnTemplateProblem says what is wrong with a return_template, "" when
// nothing: it parses it, then renders it for a lead with every field at its
// longest, with and without comments, and for one with every optional field
// empty, so that each branch a real return can take has run once. Its
// message is the template's own, with line and column.
func ReturnTemplateProblem(src string) string {
	rt, err := ParseReturnTemplate(src)
	if err != nil {
		return err.Error()
	}
	for _, f := range sampleReturns() {
		_, body, err := rt.Render(f)
		if err != nil {
			return err.Error()
		}
		if len(body) > MaxReturnEmail {
			return errTooLarge.Error() + " with the longest values a return can have"
		}
	}
	return ""
}

// sampleReturns are the leads a template is tried on before it is saved.
func sampleReturns() []ReturnFields {
	long := func(n int) string { return strings.Repeat("x", n) }
	full := ReturnFields{LeadID: NewID(), ExternalID: long(MaxExternalID), LeadName: long(1001), FirstName: long(500),
		LastName: long(500), LeadEmail: long(254), LeadPhone: long(32), Source: long(200), SourceSlug: long(64),
		OrgName: long(200), ReturnedBy: long(200), ReturnedAt: DateLayout, ReceivedAt: DateLayout,
		Reason: long(MaxReturnReason), Comments: long(MaxReturnComments)}
	noComments := full
	noComments.Comments = ""
	bare := ReturnFields{LeadID: full.LeadID, ExternalID: "x", Source: "x", SourceSlug: "x", OrgName: "x", ReturnedBy: "x",
		ReturnedAt: DateLayout, ReceivedAt: DateLayout, Reason: "x"}
	return []ReturnFields{full, noComments, bare}
}

// problemLine finds the position Go's template package writes into its
// messages ("return_template:3:7: …" or "return_template:3: …").
var problemLine = regexp.MustCompile(`return_template:(\d+)(?::\d+)?: `)

// ReturnTemplateLine is the line of the template a ReturnTemplateProblem
// message is about (1 for the first), 0 when the message names none (a
// template too long, {{define}}): pages mark that line of what was typed.
func ReturnTemplateLine(problem string) int {
	m := problemLine.FindStringSubmatch(problem)
	if m == nil {
		return 0
	}
	n, err := strconv.Atoi(m[1])
	if err != nil {
		return 0
	}
	return n
}
