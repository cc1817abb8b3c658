package openapicheck

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Check checks that the document is OpenAPI 3.1-shaped and holds together,
// and reports every problem at once:
//   - openapi is "3.1.x"; info has a title and a version; paths and
//     components are objects;
//   - every operation has a unique operationId, a summary, known tags,
//     a security list naming only declared schemes (an explicit [] for
//     routes open to anyone), and responses keyed by status, range or
//     default, each with a description;
//   - every {name} of a path is a required path parameter of that path and
//     every path parameter is in the path;
//   - every $ref resolves inside the document;
//   - every schema (components, parameters, bodies, answers) is valid JSON
//     Schema 2020-12.
func (s *Spec) Check() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if v, _ := s.doc["openapi"].(string); !strings.HasPrefix(v, "3.1.") {
		bad(`openapi is %q, want "3.1.x"`, s.doc["openapi"])
	}
	info, _ := s.doc["info"].(map[string]any)
	for _, k := range []string{"title", "version"} {
		if v, _ := info[k].(string); v == "" {
			bad("info.%s is missing", k)
		}
	}
	paths, ok := s.doc["paths"].(map[string]any)
	if !ok || len(paths) == 0 {
		bad("paths is missing or empty")
	}
	components, ok := s.doc["components"].(map[string]any)
	if !ok {
		bad("components is missing")
	}
	schemes, _ := components["securitySchemes"].(map[string]any)
	tags := map[string]bool{}
	for _, t := range asList(s.doc["tags"]) {
		if m, ok := t.(map[string]any); ok {
			tags[fmt.Sprint(m["name"])] = true
		}
	}

	s.walkRefs("", s.doc, &errs)

	ids := map[string]Op{}
	for _, op := range s.ops {
		p := pointer("paths", op.Path, strings.ToLower(op.Method))
		o, _ := s.at(p).(map[string]any)
		id, _ := o["operationId"].(string)
		switch prev, dup := ids[id]; {
		case id == "":
			bad("%s: no operationId", op)
		case dup:
			bad("%s: operationId %s is also %s's", op, id, prev)
		}
		ids[id] = op
		if v, _ := o["summary"].(string); v == "" {
			bad("%s: no summary", op)
		}
		for _, t := range asList(o["tags"]) {
			if !tags[fmt.Sprint(t)] {
				bad("%s: tag %v is not declared in tags", op, t)
			}
		}
		sec, ok := o["security"].([]any)
		if !ok {
			bad("%s: no security list: say who may call it ([] for anyone)", op)
		}
		for _, req := range sec {
			m, _ := req.(map[string]any)
			for name := range m {
				if _, ok := schemes[name]; !ok {
					bad("%s: security scheme %s is not declared", op, name)
				}
			}
		}
		s.checkParams(op, &errs)
		s.checkResponses(op, p, &errs)
		if _, ok := o["requestBody"]; ok {
			rp, body, err := s.resolve(p + "/requestBody")
			if err != nil {
				errs = append(errs, err)
			}
			content, _ := body["content"].(map[string]any)
			if len(content) == 0 {
				bad("%s: requestBody without content", op)
			}
			for _, media := range sortedKeys(content) {
				s.compiles(rp+"/content/"+escape(media)+"/schema", &errs)
			}
		}
	}
	schemas, _ := components["schemas"].(map[string]any)
	for _, name := range sortedKeys(schemas) {
		s.compiles(pointer("components", "schemas", name), &errs)
	}
	return errors.Join(errs...)
}

var pathParam = regexp.MustCompile(`\{([^}/]+)\}`)

// checkParams matches an operation's path parameters with its template.
func (s *Spec) checkParams(op Op, errs *[]error) {
	declared := map[string]bool{}
	for _, p := range []string{pointer("paths", op.Path), pointer("paths", op.Path, strings.ToLower(op.Method))} {
		obj, _ := s.at(p).(map[string]any)
		for i := range asList(obj["parameters"]) {
			pp, param, err := s.resolve(fmt.Sprintf("%s/parameters/%d", p, i))
			if err != nil {
				*errs = append(*errs, err)
				continue
			}
			name, _ := param["name"].(string)
			in, _ := param["in"].(string)
			if name == "" || !slices.Contains([]string{"path", "query", "header", "cookie"}, in) {
				*errs = append(*errs, fmt.Errorf("%s: parameter #%s needs a name and an in", op, pp))
				continue
			}
			if _, ok := param["schema"]; ok {
				s.compiles(pp+"/schema", errs)
			}
			if in != "path" {
				continue
			}
			if req, _ := param["required"].(bool); !req {
				*errs = append(*errs, fmt.Errorf("%s: path parameter %s must be required", op, name))
			}
			declared[name] = true
		}
	}
	inPath := map[string]bool{}
	for _, m := range pathParam.FindAllStringSubmatch(op.Path, -1) {
		inPath[m[1]] = true
		if !declared[m[1]] {
			*errs = append(*errs, fmt.Errorf("%s: path parameter {%s} is not declared", op, m[1]))
		}
	}
	for name := range declared {
		if !inPath[name] {
			*errs = append(*errs, fmt.Errorf("%s: parameter %s is declared in: path but is not in the path", op, name))
		}
	}
}

// checkResponses checks an operation's responses and compiles their schemas.
func (s *Spec) checkResponses(op Op, p string, errs *[]error) {
	o, _ := s.at(p).(map[string]any)
	responses, _ := o["responses"].(map[string]any)
	if len(responses) == 0 {
		*errs = append(*errs, fmt.Errorf("%s: no responses", op))
	}
	for _, key := range sortedKeys(responses) {
		if !statusKey.MatchString(key) {
			*errs = append(*errs, fmt.Errorf("%s: response key %q is not a status, a range or default", op, key))
		}
		rp, resp, err := s.resolve(p + "/responses/" + escape(key))
		if err != nil {
			*errs = append(*errs, err)
			continue
		}
		if d, _ := resp["description"].(string); d == "" {
			*errs = append(*errs, fmt.Errorf("%s %s: a response needs a description", op, key))
		}
		content, _ := resp["content"].(map[string]any)
		for _, media := range sortedKeys(content) {
			s.compiles(rp+"/content/"+escape(media)+"/schema", errs)
		}
	}
}

// compiles records why the schema at ptr does not compile, if it does not.
func (s *Spec) compiles(ptr string, errs *[]error) {
	if s.at(ptr) == nil {
		*errs = append(*errs, fmt.Errorf("#%s: no schema", ptr))
		return
	}
	if _, err := s.schema(ptr); err != nil {
		*errs = append(*errs, fmt.Errorf("#%s: %w", ptr, err))
	}
}

// walkRefs checks that every $ref in v resolves.
func (s *Spec) walkRefs(ptr string, v any, errs *[]error) {
	switch c := v.(type) {
	case map[string]any:
		if ref, ok := c["$ref"].(string); ok {
			if !strings.HasPrefix(ref, "#") || s.at(ref[1:]) == nil {
				*errs = append(*errs, fmt.Errorf("#%s: $ref %s does not resolve", ptr, ref))
			}
		}
		for _, k := range sortedKeys(c) {
			s.walkRefs(ptr+"/"+escape(k), c[k], errs)
		}
	case []any:
		for i, e := range c {
			s.walkRefs(fmt.Sprintf("%s/%d", ptr, i), e, errs)
		}
	}
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}
