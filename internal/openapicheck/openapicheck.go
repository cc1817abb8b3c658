// Package openapicheck holds the API to its OpenAPI 3.1 description
// (internal/api/openapi.json): it checks that the document is OpenAPI
// 3.1-shaped and self-consistent, lists the operations it documents, and
// checks a real answer — status, content type, required headers and the JSON
// body — against what the document promises for that operation. Tests use
// it; the server never does.
//
// Schemas are JSON Schema 2020-12, as OpenAPI 3.1 uses them, compiled and
// checked against the draft's metaschema by
// github.com/santhosh-tekuri/jsonschema/v6, with formats (uuid, date-time,
// email) asserted.
package openapicheck

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// docURL is the base URL the document's schemas are compiled under; $refs
// inside it ("#/components/schemas/Lead") resolve against it.
const docURL = "https://leadrelay.invalid/openapi.json"

// Op is one documented operation: a method and a path template in the
// document's (and Go's ServeMux's) syntax, /v1/orgs/{org}.
type Op struct {
	Method, Path string
}

func (o Op) String() string { return o.Method + " " + o.Path }

// Spec is a loaded description.
type Spec struct {
	doc      map[string]any
	ops      []Op
	compiler *jsonschema.Compiler

	mu      sync.Mutex
	schemas map[string]*jsonschema.Schema // by JSON pointer
}

// methods are the operation keys of a path item, upper-cased as HTTP sends them.
var methods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// Load parses a description and prepares its schemas for checking.
func Load(doc []byte) (*Spec, error) {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return nil, fmt.Errorf("the description is not JSON: %w", err)
	}
	root, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("the description is not a JSON object")
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(docURL, root); err != nil {
		return nil, err
	}
	s := &Spec{doc: root, compiler: c, schemas: map[string]*jsonschema.Schema{}}
	paths, _ := root["paths"].(map[string]any)
	for _, p := range sortedKeys(paths) {
		item, _ := paths[p].(map[string]any)
		for _, m := range methods {
			if _, ok := item[m]; ok {
				s.ops = append(s.ops, Op{strings.ToUpper(m), p})
			}
		}
	}
	return s, nil
}

// Operations lists every documented operation, by path then method.
func (s *Spec) Operations() []Op { return slices.Clone(s.ops) }

// Match finds the documented operation a request for method and a concrete
// path (no query) goes to: a template segment {name} matches any one
// non-empty segment, and of several matches the one with the most literal
// segments wins, as in ServeMux.
func (s *Spec) Match(method, path string) (Op, bool) {
	segs := strings.Split(path, "/")
	best, bestLit := Op{}, -1
	for _, op := range s.ops {
		if op.Method != method {
			continue
		}
		tsegs := strings.Split(op.Path, "/")
		if len(tsegs) != len(segs) {
			continue
		}
		lit := 0
		for i, t := range tsegs {
			switch {
			case isParam(t) && segs[i] != "":
			case t == segs[i]:
				lit++
			default:
				lit = -1
			}
			if lit < 0 {
				break
			}
		}
		if lit > bestLit {
			best, bestLit = op, lit
		}
	}
	return best, bestLit >= 0
}

func isParam(seg string) bool {
	return len(seg) > 2 && seg[0] == '{' && seg[len(seg)-1] == '}'
}

// CheckAnswer checks one real answer to method path (a concrete path, with
// or without a query): the status must be documented for the operation (the
// "default" response stands only for 5xx), the Content-Type must be one the
// answer documents (none for an answer documented without content), every
// header the answer marks required must be there, and a JSON body must
// validate against the documented schema.
func (s *Spec) CheckAnswer(method, path string, status int, header http.Header, body []byte) error {
	path, _, _ = strings.Cut(path, "?")
	op, ok := s.Match(method, path)
	if !ok {
		return fmt.Errorf("%s %s: no documented operation", method, path)
	}
	where := fmt.Sprintf("%s (%s %s) answered %d", op, method, path, status)
	ptr := pointer("paths", op.Path, strings.ToLower(op.Method), "responses")
	responses, _ := s.at(ptr).(map[string]any)
	key := strconv.Itoa(status)
	if _, ok := responses[key]; !ok {
		key = key[:1] + "XX"
		if _, ok := responses[key]; !ok {
			if status < 500 {
				return fmt.Errorf("%s: status not documented", where)
			}
			key = "default"
		}
	}
	rptr, resp, err := s.resolve(ptr + "/" + escape(key))
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	hdrs, _ := resp["headers"].(map[string]any)
	for _, name := range sortedKeys(hdrs) {
		_, h, err := s.resolve(rptr + "/headers/" + escape(name))
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		if req, _ := h["required"].(bool); req && header.Get(name) == "" {
			return fmt.Errorf("%s: header %s is documented as required and missing", where, name)
		}
	}
	content, _ := resp["content"].(map[string]any)
	ct := header.Get("Content-Type")
	if len(content) == 0 {
		if len(bytes.TrimSpace(body)) > 0 {
			return fmt.Errorf("%s: documented without a body, answered %q", where, truncate(body))
		}
		return nil
	}
	media, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return fmt.Errorf("%s: Content-Type %q: %w", where, ct, err)
	}
	if _, ok := content[media]; !ok {
		return fmt.Errorf("%s: Content-Type %s is not documented (want one of %v)", where, media, sortedKeys(content))
	}
	if media != "application/json" {
		return nil
	}
	sch, err := s.schema(rptr + "/content/" + escape(media) + "/schema")
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: the body is not JSON: %v: %q", where, err, truncate(body))
	}
	if err := sch.Validate(inst); err != nil {
		return fmt.Errorf("%s: the body does not match the documented schema: %v\nbody: %s", where, err, truncate(body))
	}
	return nil
}

// schema compiles (once) the schema at a JSON pointer into the document.
func (s *Spec) schema(ptr string) (*jsonschema.Schema, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sch, ok := s.schemas[ptr]; ok {
		return sch, nil
	}
	sch, err := s.compiler.Compile(docURL + "#" + ptr)
	if err != nil {
		return nil, err
	}
	s.schemas[ptr] = sch
	return sch, nil
}

// at is the value at a JSON pointer (RFC 6901), nil when there is none.
func (s *Spec) at(ptr string) any {
	var cur any = s.doc
	if ptr == "" {
		return cur
	}
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		switch c := cur.(type) {
		case map[string]any:
			cur = c[tok]
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil
			}
			cur = c[i]
		default:
			return nil
		}
	}
	return cur
}

// resolve follows local $refs from the object at ptr and returns the
// pointer and the object finally reached.
func (s *Spec) resolve(ptr string) (string, map[string]any, error) {
	for range 16 {
		obj, ok := s.at(ptr).(map[string]any)
		if !ok {
			return ptr, nil, fmt.Errorf("nothing documented at #%s", ptr)
		}
		ref, ok := obj["$ref"].(string)
		if !ok {
			return ptr, obj, nil
		}
		if !strings.HasPrefix(ref, "#") {
			return ptr, nil, fmt.Errorf("#%s: only local references are used here, not %s", ptr, ref)
		}
		ptr = ref[1:]
	}
	return ptr, nil, fmt.Errorf("#%s: a loop of references", ptr)
}

// pointer builds a JSON pointer from unescaped tokens.
func pointer(tokens ...string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteString("/" + escape(t))
	}
	return b.String()
}

func escape(tok string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(tok)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func truncate(b []byte) string {
	if len(b) > 2000 {
		return string(b[:2000]) + "…"
	}
	return string(b)
}

// statusKey is a response key OpenAPI allows: a status, a range, default.
var statusKey = regexp.MustCompile(`^([1-5][0-9][0-9]|[1-5]XX|default)$`)
