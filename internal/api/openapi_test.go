package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/leadrelay/leadrelay/internal/openapicheck"
)

var (
	specOnce sync.Once
	spec     *openapicheck.Spec
	specErr  error
)

// loadSpec is the embedded description, loaded once per test binary.
func loadSpec(t *testing.T) *openapicheck.Spec {
	t.Helper()
	specOnce.Do(func() { spec, specErr = openapicheck.Load(OpenAPI()) })
	if specErr != nil {
		t.Fatal(specErr)
	}
	return spec
}

// servedElsewhere lists operations the description documents (SPEC §4)
// that this route table may not serve yet. GET /metrics belongs to the
// metrics work; once its route is in routes(), delete its line.
var servedElsewhere = map[openapicheck.Op]string{
	{Method: "GET", Path: "/metrics"}: "the Prometheus endpoint (SPEC §3, §4)",
}

// Every route the server registers is documented, and every documented
// operation is registered: the description cannot fall behind the route
// table, nor promise a route that does not exist.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	t.Parallel()
	s := loadSpec(t)
	registered := map[openapicheck.Op]bool{}
	for _, r := range (&Server{}).routes() {
		op := openapicheck.Op{Method: r.method, Path: r.pattern}
		if registered[op] {
			t.Errorf("%s is in the route table twice", op)
		}
		if r.handler == nil {
			t.Errorf("%s has no handler", op)
		}
		registered[op] = true
	}
	documented := map[openapicheck.Op]bool{}
	for _, op := range s.Operations() {
		documented[op] = true
		if !registered[op] && servedElsewhere[op] == "" {
			t.Errorf("%s is documented in internal/api/openapi.json but no route serves it", op)
		}
	}
	for op := range registered {
		if !documented[op] {
			t.Errorf("%s is served but not documented: add it to internal/api/openapi.json", op)
		}
	}
	if len(registered) < 30 {
		t.Fatalf("only %d routes registered: the table was not read", len(registered))
	}
}

// The description is an OpenAPI 3.1 document that holds together, by two
// judges: openapicheck.Check (every schema compiles as JSON Schema 2020-12,
// every $ref resolves, path parameters match the paths, every operation says
// who may call it) and kin-openapi's 3.1 loader and validator, which know
// the rest of the specification's rules.
func TestOpenAPIDocumentIsOpenAPI31(t *testing.T) {
	t.Parallel()
	if err := loadSpec(t).Check(); err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	if !doc.IsOpenAPI31OrLater() || doc.OpenAPIMajorMinor() != "3.1" {
		t.Fatalf("openapi %q is not 3.1", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"adminToken", "userToken", "vendorKey"} {
		if doc.Components.SecuritySchemes[name] == nil {
			t.Errorf("the description has no security scheme %s", name)
		}
	}
}

// GET /v1/openapi.json: anyone, no token; the embedded document as JSON,
// cacheable and revalidated by its ETag.
func TestOpenAPIIsServed(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, false, nil)
	a := ts.do(t, "GET", "/v1/openapi.json", "", "", "")
	if a.status != 200 || a.body != string(OpenAPI()) {
		t.Fatalf("GET /v1/openapi.json: %d, %d bytes", a.status, len(a.body))
	}
	etag := a.header.Get("ETag")
	if ct := a.header.Get("Content-Type"); ct != "application/json" || etag == "" || a.header.Get("Cache-Control") != "public, max-age=300" {
		t.Fatalf("headers: %v", a.header)
	}
	if err := loadSpec(t).CheckAnswer("GET", "/v1/openapi.json", a.status, a.header, []byte(a.body)); err != nil {
		t.Error(err)
	}
	req := httptest.NewRequest("GET", "/v1/openapi.json", nil)
	req.Header.Set("If-None-Match", etag)
	req.Header.Set("Range", "bytes=0-10")
	rec := httptest.NewRecorder()
	ts.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
		t.Fatalf("revalidation: %d with %d bytes", rec.Code, rec.Body.Len())
	}
	req = httptest.NewRequest("GET", "/v1/openapi.json", nil)
	req.Header.Set("Range", "bytes=0-10")
	rec = httptest.NewRecorder()
	ts.h.ServeHTTP(rec, req)
	if rec.Code != 200 || rec.Body.Len() != len(OpenAPI()) {
		t.Fatalf("a range is answered whole: %d with %d bytes", rec.Code, rec.Body.Len())
	}
	if h := ts.do(t, "HEAD", "/v1/openapi.json", "", "", ""); h.status != 200 || h.body != "" {
		t.Fatalf("HEAD: %d %q", h.status, h.body)
	}
	if !slices.Contains(loadSpec(t).Operations(), openapicheck.Op{Method: "GET", Path: "/v1/openapi.json"}) {
		t.Fatal("the description does not document itself")
	}
}
