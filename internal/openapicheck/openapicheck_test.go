package openapicheck

import (
	"net/http"
	"strings"
	"testing"
)

// A small description with the parts the checks look at.
const sample = `{
  "openapi": "3.1.0",
  "info": {"title": "t", "version": "1"},
  "tags": [{"name": "things"}],
  "paths": {
    "/things/{id}": {
      "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}}],
      "get": {
        "operationId": "getThing", "summary": "a thing", "tags": ["things"], "security": [],
        "responses": {
          "200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}},
          "204": {"description": "nothing"},
          "429": {"description": "slow down", "headers": {"Retry-After": {"required": true, "schema": {"type": "integer"}}},
                  "content": {"application/json": {"schema": {"type": "object"}}}},
          "default": {"description": "oops", "content": {"application/json": {"schema": {"type": "object"}}}}
        }
      }
    },
    "/things/special": {
      "get": {"operationId": "special", "summary": "the special one", "security": [],
              "responses": {"200": {"description": "ok", "content": {"text/html": {"schema": {"type": "string"}}}}}}
    }
  },
  "components": {
    "schemas": {
      "Thing": {"type": "object", "required": ["id"], "additionalProperties": false,
                "properties": {"id": {"type": "string", "format": "uuid"}, "at": {"type": "string", "format": "date-time"}}}
    }
  }
}`

const id = "6f1c2c1e-8f5e-4a39-9a3a-1b2c3d4e5f60"

func load(t *testing.T, doc string) *Spec {
	t.Helper()
	s, err := Load([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestMatchPrefersLiteralSegments(t *testing.T) {
	s := load(t, sample)
	for path, want := range map[string]string{"/things/special": "/things/special", "/things/" + id: "/things/{id}"} {
		if op, ok := s.Match("GET", path); !ok || op.Path != want {
			t.Errorf("%s matched %v %v, want %s", path, op, ok, want)
		}
	}
	for _, path := range []string{"/things/", "/things/a/b", "/other"} {
		if op, ok := s.Match("GET", path); ok {
			t.Errorf("%s matched %v", path, op)
		}
	}
	if _, ok := s.Match("POST", "/things/"+id); ok {
		t.Error("an undocumented method matched")
	}
}

func TestCheckAnswer(t *testing.T) {
	s := load(t, sample)
	js := http.Header{"Content-Type": {"application/json"}}
	html := http.Header{"Content-Type": {"text/html; charset=utf-8"}}
	cases := []struct {
		name, path string
		status     int
		header     http.Header
		body       string
		wantErr    string // "" for a match
	}{
		{"matching body", "/things/" + id + "?x=1", 200, js, `{"id":"` + id + `","at":"2026-01-02T03:04:05.123Z"}`, ""},
		{"undocumented field", "/things/" + id, 200, js, `{"id":"` + id + `","extra":1}`, "does not match"},
		{"bad format", "/things/" + id, 200, js, `{"id":"nope"}`, "does not match"},
		{"missing required", "/things/" + id, 200, js, `{}`, "does not match"},
		{"not JSON", "/things/" + id, 200, js, `{`, "not JSON"},
		{"undocumented status", "/things/" + id, 404, js, `{}`, "status not documented"},
		{"default stands for 5xx", "/things/" + id, 500, js, `{}`, ""},
		{"wrong content type", "/things/" + id, 200, html, `<p>`, "not documented"},
		{"no body documented", "/things/" + id, 204, http.Header{}, ``, ""},
		{"a body where none is documented", "/things/" + id, 204, js, `{}`, "without a body"},
		{"required header missing", "/things/" + id, 429, js, `{}`, "Retry-After"},
		{"required header there", "/things/" + id, 429, http.Header{"Content-Type": {"application/json"}, "Retry-After": {"1"}}, `{}`, ""},
		{"html is not parsed", "/things/special", 200, html, `<p>hi`, ""},
		{"unknown path", "/nowhere", 200, js, `{}`, "no documented operation"},
	}
	for _, c := range cases {
		err := s.CheckAnswer("GET", c.path, c.status, c.header, []byte(c.body))
		switch {
		case c.wantErr == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("%s: got %v, want an error with %q", c.name, err, c.wantErr)
		}
	}
}

func TestCheckFindsBrokenDocuments(t *testing.T) {
	if err := load(t, sample).Check(); err != nil {
		t.Fatalf("the sample is fine: %v", err)
	}
	for name, c := range map[string]struct{ old, new, want string }{
		"version":         {`"openapi": "3.1.0"`, `"openapi": "3.0.3"`, "openapi is"},
		"dangling ref":    {`#/components/schemas/Thing"`, `#/components/schemas/Thingy"`, "does not resolve"},
		"bad schema":      {`"format": "date-time"}`, `"format": "date-time", "minLength": "x"}`, "metaschema"},
		"undeclared path": {`"parameters": [{"name": "id"`, `"parameters": [{"name": "key"`, "{id} is not declared"},
		"duplicate id":    {`"operationId": "special"`, `"operationId": "getThing"`, "operationId getThing"},
		"no security":     {`"summary": "the special one", "security": [],`, `"summary": "the special one",`, "no security list"},
		"unknown tag":     {`"tags": ["things"]`, `"tags": ["stuff"]`, "tag stuff"},
		"bad status key":  {`"204": {`, `"20x": {`, "not a status"},
	} {
		doc := strings.Replace(sample, c.old, c.new, 1)
		if doc == sample {
			t.Fatalf("%s: the sample has no %s", name, c.old)
		}
		err := load(t, doc).Check()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error with %q", name, err, c.want)
		}
	}
}
