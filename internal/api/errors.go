package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
)

var statusOf = map[string]int{
	domain.EMalformed: 400, domain.EUnauthorized: 401, domain.EForbidden: 403, domain.ENotFound: 404,
	domain.EConflict: 409, domain.ETooLarge: 413, domain.EInvalid: 422, domain.ERateLimited: 429, domain.ECapReached: 429,
	domain.ERefused: 502, domain.EUnavailable: 503, domain.EInternal: 500,
}

type errBody struct {
	Error struct {
		Code    string            `json:"code"`
		Message string            `json:"message"`
		Fields  map[string]string `json:"fields,omitempty"`
	} `json:"error"`
}

func writeErr(w http.ResponseWriter, err error) {
	var e *domain.Error
	var slow *tooFast
	var capped *store.CapReached
	if errors.As(err, &capped) {
		w.Header().Set("Retry-After", retryAfter(capped.Wait))
	}
	switch {
	case errors.As(err, &slow):
		w.Header().Set("Retry-After", retryAfter(slow.wait))
		e = domain.Errorf(domain.ERateLimited, "%s: retry after %s", slow.what, slow.wait.Round(time.Millisecond))
	case errors.As(err, &e):
	case store.Unreachable(err):
		// The database is restarting or unreachable: the caller should retry
		// (a lead post is idempotent by external_id), not report a bug.
		w.Header().Set("Retry-After", "1")
		e = &domain.Error{Code: domain.EUnavailable, Message: "the database is unavailable: retry the same request"}
	default:
		e = &domain.Error{Code: domain.EInternal, Message: "internal error"}
	}
	var b errBody
	b.Error.Code, b.Error.Message, b.Error.Fields = e.Code, e.Message, e.Fields
	if rw, ok := w.(*recorder); ok && (e.Code == domain.EInternal || e.Code == domain.EUnavailable) {
		rw.err = err
	}
	writeJSON(w, statusOf[e.Code], b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
