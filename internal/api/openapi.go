package api

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"net/http"
	"time"
)

// openAPIDoc is the OpenAPI 3.1 description of every route in routes(),
// written by hand: its tests compare it with the route table and check real
// answers against its schemas, which keeps it exact without a generator.
//
//go:embed openapi.json
var openAPIDoc []byte

// openAPIETag names this build's description, so a client can revalidate
// instead of downloading it again.
var openAPIETag = func() string {
	sum := sha256.Sum256(openAPIDoc)
	return `"` + hex.EncodeToString(sum[:8]) + `"`
}()

// OpenAPI returns the API's OpenAPI 3.1 description as served at
// GET /v1/openapi.json. Callers must not modify it.
func OpenAPI() []byte { return openAPIDoc }

// openAPI serves the description to anyone: it holds no data, only the
// shape of the API. It changes only with a deploy, so caches may keep it for
// minutes and then revalidate with its ETag.
func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "public, max-age=300")
	h.Set("ETag", openAPIETag)
	// ServeContent answers If-None-Match with 304 and HEAD without a body;
	// a range of a 60 KB document is not worth a status of its own.
	r.Header.Del("Range")
	http.ServeContent(w, r, "openapi.json", time.Time{}, bytes.NewReader(openAPIDoc))
}
