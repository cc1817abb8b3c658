// Package api is leadrelay's HTTP API (SPEC §4): JSON under /v1, three kinds
// of bearer token, and one error shape everywhere.
package api

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/client"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/leadrelay/leadrelay/internal/config"
	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
)

// Server holds what the handlers need.
type Server struct {
	Store    *store.Store
	Pool     *pgxpool.Pool
	Temporal client.Client
	Cfg      *config.Config
	Log      *zap.Logger

	adminHash []byte
	limMu     sync.Mutex
	limiters  map[string]*rate.Limiter
}

func New(s *Server) http.Handler {
	if s.Cfg.AdminToken != "" {
		s.adminHash = domain.HashToken(s.Cfg.AdminToken)
	}
	s.limiters = map[string]*rate.Limiter{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.HandleFunc("POST /v1/orgs", s.createOrg)
	mux.HandleFunc("POST /v1/orgs/{org}/users", s.createUser)
	mux.HandleFunc("PATCH /v1/orgs/{org}/users/{user}", s.updateUser)
	mux.HandleFunc("PUT /v1/orgs/{org}/sources/{slug}", s.putSource)
	mux.HandleFunc("GET /v1/orgs/{org}/sources", s.listSources)
	mux.HandleFunc("POST /v1/leads", s.postLead)
	mux.HandleFunc("GET /v1/leads/{id}", s.getLead)
	mux.HandleFunc("GET /v1/orgs/{org}/leads", s.listLeads)
	mux.HandleFunc("POST /v1/orgs/{org}/invitations", s.createInvitation)
	mux.HandleFunc("GET /v1/orgs/{org}/invitations", s.listInvitations)
	mux.HandleFunc("DELETE /v1/orgs/{org}/invitations/{id}", s.revokeInvitation)
	mux.HandleFunc("GET /invitations/{token}", s.invitationPage)
	mux.HandleFunc("POST /invitations/{token}/accept", s.acceptPage)
	mux.HandleFunc("POST /invitations/{token}/decline", s.declinePage)
	mux.HandleFunc("POST /v1/invitations/{token}/accept", s.acceptJSON)
	mux.HandleFunc("POST /v1/invitations/{token}/decline", s.declineJSON)
	mux.HandleFunc("GET /v1/orgs/{org}/sub-agencies", s.listSubAgencies)
	mux.HandleFunc("DELETE /v1/orgs/{org}/sub-agencies/{sub}", s.unlink)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeErr(w, domain.Errorf(domain.ENotFound, "no route %s %s", r.Method, r.URL.Path))
	})
	return s.logged(mux)
}

// ---- errors ----

var statusOf = map[string]int{
	domain.EMalformed: 400, domain.EUnauthorized: 401, domain.EForbidden: 403, domain.ENotFound: 404,
	domain.EConflict: 409, domain.ETooLarge: 413, domain.EInvalid: 422, domain.ERateLimited: 429,
	domain.EUnavailable: 503, domain.EInternal: 500,
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
	if !errors.As(err, &e) {
		e = &domain.Error{Code: domain.EInternal, Message: "internal error"}
	}
	var b errBody
	b.Error.Code, b.Error.Message, b.Error.Fields = e.Code, e.Message, e.Fields
	if rw, ok := w.(*recorder); ok && e.Code == domain.EInternal {
		rw.err = err
	}
	writeJSON(w, statusOf[e.Code], b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// ---- decoding ----

// decode reads a JSON object strictly: size limit, no unknown fields, one value.
func decode(w http.ResponseWriter, r *http.Request, limit int64, dst any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return domain.Errorf(domain.ETooLarge, "body is larger than %d bytes", limit)
	}
	if err != nil {
		return domain.Errorf(domain.EMalformed, "could not read body: %v", err)
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return domain.Errorf(domain.EMalformed, "body is empty: send a JSON object")
	}
	if trimmed[0] != '{' {
		return domain.Errorf(domain.EMalformed, "body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return domain.Errorf(domain.EMalformed, "malformed JSON at byte %d: %v", se.Offset, err)
		case errors.As(err, &te):
			field := te.Field
			if field == "" {
				field = "body"
			}
			return &domain.Error{Code: domain.EInvalid, Message: "wrong type",
				Fields: map[string]string{field: "must be " + jsonType(te.Type.String())}}
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return &domain.Error{Code: domain.EInvalid, Message: "unknown field " + name,
				Fields: map[string]string{name: "unknown field"}}
		case errors.Is(err, io.ErrUnexpectedEOF):
			return domain.Errorf(domain.EMalformed, "malformed JSON: unexpected end")
		}
		return domain.Errorf(domain.EMalformed, "malformed JSON: %v", err)
	}
	if dec.More() {
		return domain.Errorf(domain.EMalformed, "body must be one JSON object")
	}
	return nil
}

func jsonType(goType string) string {
	switch {
	case goType == "string":
		return "a string"
	case goType == "bool":
		return "true or false"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case strings.HasPrefix(goType, "map"), strings.Contains(goType, "."):
		return "an object"
	}
	return "a " + goType
}

// ---- auth ----

// caller is who made a request.
type caller struct {
	admin bool
	store.Principal
}

func (s *Server) authenticate(r *http.Request) (*caller, error) {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	tok = strings.TrimSpace(tok)
	if !ok || tok == "" {
		return nil, domain.Errorf(domain.EUnauthorized, "missing bearer token")
	}
	hash := domain.HashToken(tok)
	if s.adminHash != nil && subtle.ConstantTimeCompare(hash, s.adminHash) == 1 {
		return &caller{admin: true}, nil
	}
	p, err := s.Store.Authenticate(r.Context(), hash)
	if err != nil {
		if domain.ErrorCode(err) == domain.ENotFound {
			return nil, domain.Errorf(domain.EUnauthorized, "invalid token")
		}
		return nil, err
	}
	return &caller{Principal: p}, nil
}

// member checks that the caller may see org (else 404) and, when manage is
// set, may change it (else 403). The admin token may do both anywhere.
func (s *Server) member(r *http.Request, org string, manage bool) (*caller, error) {
	c, err := s.authenticate(r)
	if err != nil {
		return nil, err
	}
	if c.admin {
		if _, err := s.Store.GetOrg(r.Context(), org); err != nil {
			return nil, err
		}
		return c, nil
	}
	if c.Kind == domain.TokenVendor {
		return nil, domain.Errorf(domain.EForbidden, "a vendor key may only post leads")
	}
	if c.OrgID != org {
		return nil, domain.Errorf(domain.ENotFound, "org not found")
	}
	if manage && !c.User.Role.ManagesOrg() {
		return nil, domain.Errorf(domain.EForbidden, "only the org's owner or an admin may do this")
	}
	return c, nil
}

// ---- rate limiting ----

// allow spends one token of the vendor key's bucket; it returns how long to
// wait when the bucket is empty.
func (s *Server) allow(key string) (bool, time.Duration) {
	s.limMu.Lock()
	l, ok := s.limiters[key]
	if !ok {
		l = rate.NewLimiter(rate.Limit(s.Cfg.VendorRate.PerSecond), s.Cfg.VendorRate.Burst)
		s.limiters[key] = l
	}
	s.limMu.Unlock()
	res := l.Reserve()
	if d := res.Delay(); d > 0 {
		res.Cancel()
		return false, d
	}
	return true, 0
}

func retryAfter(d time.Duration) string {
	return fmt.Sprint(int(math.Ceil(d.Seconds())))
}

// ---- health ----

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, 200, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	checks := map[string]string{"postgres": "ok", "temporal": "ok"}
	ok := true
	if err := s.Pool.Ping(ctx); err != nil {
		checks["postgres"], ok = err.Error(), false
	}
	if _, err := s.Temporal.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		checks["temporal"], ok = err.Error(), false
	}
	status := 200
	if !ok {
		status = 503
	}
	writeJSON(w, status, map[string]any{"ready": ok, "checks": checks})
}

// ---- logging ----

type recorder struct {
	http.ResponseWriter
	status int
	err    error
	fields []zap.Field
}

func (r *recorder) WriteHeader(code int) { r.status = code; r.ResponseWriter.WriteHeader(code) }

// logField adds a field (lead_id, workflow_id) to the request's log line.
func logField(w http.ResponseWriter, f zap.Field) {
	if r, ok := w.(*recorder); ok {
		r.fields = append(r.fields, f)
	}
}

func (s *Server) logged(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w, status: 200}
		defer func() {
			if p := recover(); p != nil {
				rec.err = fmt.Errorf("panic: %v", p)
				writeErr(rec, domain.Errorf(domain.EInternal, "internal error"))
			}
			fields := append(rec.fields, zap.String("method", r.Method), zap.String("path", r.URL.Path),
				zap.Int("status", rec.status), zap.Duration("took", time.Since(start)))
			switch {
			case rec.err != nil:
				s.Log.Error("request failed", append(fields, zap.Error(rec.err))...)
			case rec.status >= 400:
				s.Log.Info("request refused", fields...)
			default:
				s.Log.Info("request", fields...)
			}
		}()
		h.ServeHTTP(rec, r)
	})
}
