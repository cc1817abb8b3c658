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
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/client"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/leadrelay/leadrelay/internal/config"
	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/metrics"
	"github.com/leadrelay/leadrelay/internal/searchattr"
	"github.com/leadrelay/leadrelay/internal/store"
)

// Server holds what the handlers need.
type Server struct {
	Store    *store.Store
	Pool     *pgxpool.Pool
	Temporal client.Client
	Cfg      *config.Config
	Log      *zap.Logger
	// Metrics is the process's registry, served on GET /metrics (nil: an
	// empty page, nothing counted).
	Metrics *metrics.Metrics

	adminHash   []byte
	searchAttrs searchattr.Readiness
	vendors     *keyedLimiter // per vendor key's source
	authFails   *keyedLimiter // per client address; nil: failed authentications are not limited
	users       *keyedLimiter // per user token; nil: user tokens are not limited
}

// New returns the API's handler: every route behind the request log and the
// per-address limit on failed authentications, so no route can skip either.
func New(s *Server) http.Handler {
	if s.Cfg.AdminToken != "" {
		s.adminHash = domain.HashToken(s.Cfg.AdminToken)
	}
	s.vendors = newKeyedLimiter(s.Cfg.VendorRate.PerSecond, s.Cfg.VendorRate.Burst)
	if rl := s.Cfg.AuthFailureRate; rl.PerSecond > 0 {
		s.authFails = newKeyedLimiter(rl.PerSecond, rl.Burst)
	}
	if rl := s.Cfg.UserRate; rl.PerSecond > 0 {
		s.users = newKeyedLimiter(rl.PerSecond, rl.Burst)
	}
	mux := http.NewServeMux()
	for _, rt := range s.routes() {
		mux.HandleFunc(rt.method+" "+rt.pattern, normalPathIDs(rt.pattern, rt.handler))
	}
	// Prometheus scrapes without a token (SPEC §4: "scrapers"); see docs/operating.md, Metrics.
	mux.Handle("GET /metrics", s.Metrics.Handler())
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeErr(w, domain.Errorf(domain.ENotFound, "no route %s %s", r.Method, r.URL.Path))
	})
	return s.logged(s.preAuth(mux))
}

// route is one entry of the API's route table: the mux serves it, and the
// OpenAPI test checks that the description documents it.
type route struct {
	method, pattern string
	handler         http.HandlerFunc
}

// routes is the API's route table, one line a route: New serves it and the
// OpenAPI test compares it with internal/api/openapi.json, so a route added
// here must be documented there.
func (s *Server) routes() []route {
	return []route{
		{"GET", "/healthz", s.healthz},
		{"GET", "/readyz", s.readyz},
		{"POST", "/v1/orgs", s.createOrg},
		{"GET", "/v1/orgs/{org}", s.getOrg},
		{"PATCH", "/v1/orgs/{org}", s.patchOrg},
		{"POST", "/v1/orgs/{org}/users", s.createUser},
		{"PATCH", "/v1/orgs/{org}/users/{user}", s.updateUser},
		{"PUT", "/v1/orgs/{org}/sources/{slug}", s.putSource},
		{"GET", "/v1/orgs/{org}/sources", s.listSources},
		{"POST", "/v1/orgs/{org}/sources/{slug}/key", s.rotateKey},
		{"DELETE", "/v1/orgs/{org}/sources/{slug}/key", s.revokeKey},
		{"GET", "/v1/ops/unrouted", s.unrouted},
		{"POST", "/v1/leads", s.postLead},
		{"GET", "/v1/leads/{id}", s.getLead},
		{"GET", "/v1/orgs/{org}/leads", s.listLeads},
		{"POST", "/v1/leads/{id}/assign", s.assignLead},
		{"POST", "/v1/leads/{id}/transfer-ownership", s.transferOwnership},
		{"POST", "/v1/orgs/{org}/leads/assign", s.bulkAssign},
		{"POST", "/v1/orgs/{org}/invitations", s.createInvitation},
		{"GET", "/v1/orgs/{org}/invitations", s.listInvitations},
		{"DELETE", "/v1/orgs/{org}/invitations/{id}", s.revokeInvitation},
		{"GET", "/invitations/{token}", s.invitationPage},
		{"POST", "/invitations/{token}/accept", s.acceptPage},
		{"POST", "/invitations/{token}/decline", s.declinePage},
		{"POST", "/v1/invitations/{token}/accept", s.acceptJSON},
		{"POST", "/v1/invitations/{token}/decline", s.declineJSON},
		{"GET", "/v1/orgs/{org}/sub-agencies", s.listSubAgencies},
		{"DELETE", "/v1/orgs/{org}/sub-agencies/{sub}", s.unlink},
		{"POST", "/v1/orgs/{org}/transfers", s.createTransfer},
		{"GET", "/v1/orgs/{org}/transfers/{id}", s.getTransfer},
		{"GET", "/v1/orgs/{org}/feed", s.feed},
		{"POST", "/v1/leads/{id}/handover/accept", s.acceptHandover},
		{"POST", "/v1/leads/{id}/handover/reject", s.rejectHandover},
		{"POST", "/v1/leads/{id}/return", s.returnLead},
		{"POST", "/v1/orgs/{org}/queue/claim", s.claimNext},
		{"POST", "/v1/leads/{id}/release", s.releaseLead},
		{"POST", "/v1/leads/{id}/worked", s.markWorked},
		{"POST", "/v1/leads/{id}/invalid", s.markInvalid},
		{"GET", "/v1/openapi.json", s.openAPI},
	}
}

// pathIDs are the path wildcards that hold ids (orgs, users, leads,
// transfers, invitations, sub-agencies); {slug} and {token} are not ids.
var pathIDs = []string{"org", "user", "id", "sub"}

// normalPathIDs hands h the ids of its path in their one spelling
// (domain.NormalID), so no handler compares ABC… with abc… as two ids. A
// value that is not an id is left as sent, for the handler to refuse.
func normalPathIDs(pattern string, h http.HandlerFunc) http.HandlerFunc {
	var names []string
	for _, n := range pathIDs {
		if strings.Contains(pattern, "{"+n+"}") {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) {
		for _, n := range names {
			if id, ok := domain.NormalID(r.PathValue(n)); ok {
				r.SetPathValue(n, id)
			}
		}
		h(w, r)
	}
}

// ---- errors ----

var statusOf = map[string]int{
	domain.EMalformed: 400, domain.EUnauthorized: 401, domain.EForbidden: 403, domain.ENotFound: 404,
	domain.EConflict: 409, domain.ETooLarge: 413, domain.EInvalid: 422, domain.ERateLimited: 429,
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
	// encoding/json turns invalid UTF-8 and lone surrogates into U+FFFD
	// without a word and lets \u0000 through: check the text it was given.
	if bad := textProblems(trimmed); len(bad) > 0 {
		return bad.Err("the body must be UTF-8 text without NUL")
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

// maxWalkDepth bounds textProblems' recursion; deeper bodies are left to the
// decoder, which refuses them as malformed.
const maxWalkDepth = 1000

// textProblems walks a JSON text and names, by field path (address.street,
// labels[2], attributes.<key>), every string, key or value, that holds NUL
// (escaped or raw) or is not UTF-8: a raw invalid byte, or an escaped
// surrogate that is not half of a pair. A bad key is named by its path with
// the bad parts shown as U+FFFD. The walk stops quietly at a syntax error and
// then reports nothing: the decoder names the syntax error.
func textProblems(b []byte) domain.FieldErrors {
	w := jsonWalker{b: b, bad: domain.FieldErrors{}}
	if !w.value("", 0) {
		return nil
	}
	return w.bad
}

type jsonWalker struct {
	b   []byte
	i   int
	bad domain.FieldErrors
}

func (w *jsonWalker) space() {
	for w.i < len(w.b) {
		switch w.b[w.i] {
		case ' ', '\t', '\n', '\r':
			w.i++
		default:
			return
		}
	}
}

// next skips space and returns the next byte (0 at the end).
func (w *jsonWalker) next() byte {
	w.space()
	if w.i >= len(w.b) {
		return 0
	}
	return w.b[w.i]
}

// value walks one value at path; it reports false on a syntax error.
func (w *jsonWalker) value(path string, depth int) bool {
	if depth > maxWalkDepth {
		return false
	}
	switch w.next() {
	case '{':
		w.i++
		if w.next() == '}' {
			w.i++
			return true
		}
		for {
			if w.next() != '"' {
				return false
			}
			key, why, ok := w.str(true)
			if !ok {
				return false
			}
			kp := key
			if path != "" {
				kp = path + "." + key
			}
			if why != "" {
				w.bad.Add(kp, "the name "+why)
			}
			if w.next() != ':' {
				return false
			}
			w.i++
			if !w.value(kp, depth+1) {
				return false
			}
			switch w.next() {
			case ',':
				w.i++
			case '}':
				w.i++
				return true
			default:
				return false
			}
		}
	case '[':
		w.i++
		if w.next() == ']' {
			w.i++
			return true
		}
		for n := 0; ; n++ {
			if !w.value(fmt.Sprintf("%s[%d]", path, n), depth+1) {
				return false
			}
			switch w.next() {
			case ',':
				w.i++
			case ']':
				w.i++
				return true
			default:
				return false
			}
		}
	case '"':
		_, why, ok := w.str(false)
		if why != "" {
			w.bad.Add(path, why)
		}
		return ok
	case 0:
		return false
	}
	// A number, true, false or null: the decoder judges its spelling.
	start := w.i
	for w.i < len(w.b) && (isAlnum(w.b[w.i]) || w.b[w.i] == '-' || w.b[w.i] == '+' || w.b[w.i] == '.') {
		w.i++
	}
	return w.i > start
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// str reads the string at w.i (its opening quote). It returns the text when
// want is set (bad parts as U+FFFD), what is wrong with it ("" if nothing),
// and false when the string is not terminated or has a malformed escape.
func (w *jsonWalker) str(want bool) (string, string, bool) {
	var sb strings.Builder
	why := ""
	bad := func(p string) {
		if why == "" {
			why = p
		}
		if want {
			sb.WriteRune(utf8.RuneError)
		}
	}
	w.i++ // the opening quote
	for w.i < len(w.b) {
		c := w.b[w.i]
		switch {
		case c == '"':
			w.i++
			return sb.String(), why, true
		case c == 0:
			bad("must not contain NUL")
			w.i++
		case c < utf8.RuneSelf && c != '\\':
			if want {
				sb.WriteByte(c)
			}
			w.i++
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRune(w.b[w.i:])
			if r == utf8.RuneError && n == 1 {
				bad("must be valid UTF-8")
			} else if want {
				sb.WriteRune(r)
			}
			w.i += n
		default: // a backslash
			if w.i+1 >= len(w.b) {
				return "", "", false
			}
			e := w.b[w.i+1]
			if e != 'u' {
				r, ok := jsonEscapes[e]
				if !ok {
					return "", "", false
				}
				if want {
					sb.WriteByte(r)
				}
				w.i += 2
				continue
			}
			r, ok := w.hex4(w.i + 2)
			if !ok {
				return "", "", false
			}
			w.i += 6
			switch {
			case r == 0:
				bad("must not contain NUL")
			case utf16.IsSurrogate(r):
				lo, ok := rune(-1), false
				if r < 0xdc00 && w.i+1 < len(w.b) && w.b[w.i] == '\\' && w.b[w.i+1] == 'u' {
					lo, ok = w.hex4(w.i + 2)
				}
				if pair := utf16.DecodeRune(r, lo); ok && pair != utf8.RuneError {
					w.i += 6
					if want {
						sb.WriteRune(pair)
					}
				} else {
					bad("must be valid UTF-8 (a lone UTF-16 surrogate escape)")
				}
			case want:
				sb.WriteRune(r)
			}
		}
	}
	return "", "", false
}

var jsonEscapes = map[byte]byte{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

// hex4 reads the four hex digits of a \u escape at b[at:].
func (w *jsonWalker) hex4(at int) (rune, bool) {
	if at+4 > len(w.b) {
		return 0, false
	}
	var r rune
	for _, c := range w.b[at : at+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
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
	if p.Kind == domain.TokenUser && s.users != nil {
		// Keyed by the token, not the address: a user's script is limited
		// wherever it runs, and colleagues behind one NAT are not.
		if wait := s.users.take(string(hash)); wait > 0 {
			return nil, &tooFast{wait: wait, what: "too many requests with this token"}
		}
	}
	return &caller{Principal: p}, nil
}

// tooFast is a refusal for rate: 429 with Retry-After.
type tooFast struct {
	wait time.Duration
	what string
}

func (e *tooFast) Error() string { return e.what }

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
	d := s.vendors.take(key)
	return d == 0, d
}

func retryAfter(d time.Duration) string {
	return fmt.Sprint(int(math.Ceil(d.Seconds())))
}

// ---- health ----

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, 200, map[string]string{"status": "ok"})
}

// readyCheck is one dependency /readyz looks at. check returns the detail,
// which goes to the log only: callers learn the name of what is down, never
// a connection string or a driver's error.
type readyCheck struct {
	name  string
	check func(context.Context) error
}

// readyChecks lists what readiness needs; add a check here.
func (s *Server) readyChecks() []readyCheck {
	return []readyCheck{
		{"postgres", func(ctx context.Context) error { return s.Pool.Ping(ctx) }},
		{"temporal", func(ctx context.Context) error {
			_, err := s.Temporal.CheckHealth(ctx, &client.CheckHealthRequest{})
			return err
		}},
		// Registered is not usable: SQL visibility refuses new attributes
		// until its cache refreshes, and every post would then fail.
		{"search_attributes", func(ctx context.Context) error { return s.searchAttrs.Check(ctx, s.Temporal) }},
	}
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	checks := s.readyChecks()
	errs := make([]error, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Go(func() {
			defer func() {
				if p := recover(); p != nil {
					errs[i] = fmt.Errorf("panic: %v", p)
				}
			}()
			errs[i] = c.check(ctx)
		})
	}
	wg.Wait()
	status := map[string]string{}
	down := []string{}
	for i, c := range checks {
		status[c.name] = "ok"
		if errs[i] != nil {
			status[c.name] = "down"
			down = append(down, c.name)
			s.Log.Warn("readiness check failed", zap.String("check", c.name), zap.Error(errs[i]))
		}
	}
	code := 200
	if len(down) > 0 {
		code = 503
	}
	writeJSON(w, code, map[string]any{"ready": len(down) == 0, "down": down, "checks": status})
}

// ---- pre-authentication limit ----

// preAuth limits failed authentications per client address, before anything
// is looked up: once an address has spent its allowance of failures (401s,
// and 404s for unknown invitation links), its requests get 429 with
// Retry-After until the bucket refills, without reaching a handler. Requests
// that authenticate spend nothing. Health checks and scrapes are never limited.
func (s *Server) preAuth(h http.Handler) http.Handler {
	if s.authFails == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" || r.URL.Path == "/metrics" {
			h.ServeHTTP(w, r)
			return
		}
		key := clientKey(s.clientAddr(r))
		if wait := s.authFails.wait(key); wait > 0 {
			w.Header().Set("Retry-After", retryAfter(wait))
			writeErr(w, domain.Errorf(domain.ERateLimited, "too many failed authentications from this address: retry after %s", wait.Round(time.Millisecond)))
			return
		}
		// preAuth runs inside logged: the status is read from its recorder.
		rec := w.(*recorder)
		h.ServeHTTP(rec, r)
		if rec.status == http.StatusUnauthorized || (rec.status == http.StatusNotFound && tokenRoute(r.URL.Path)) {
			s.authFails.spend(key)
		}
	})
}

// tokenRoute: the path carries an invitation token (/invitations/{token}…,
// /v1/invitations/{token}/…), so a 404 there is a wrong guess.
func tokenRoute(p string) bool {
	return strings.HasPrefix(p, "/invitations/") || strings.HasPrefix(p, "/v1/invitations/")
}

// clientAddr is the client's address: the peer's, unless the peer is a
// trusted proxy (TRUSTED_PROXIES). Then X-Forwarded-For is read from the
// right, past every trusted proxy, to the first address none of them is:
// the one the nearest trusted proxy saw. Entries left of it are whatever
// the client wrote and are never believed.
func (s *Server) clientAddr(r *http.Request) string {
	peer := r.RemoteAddr
	if len(s.Cfg.TrustedProxies) == 0 || !s.trusted(peer) {
		return peer
	}
	var hops []string
	for _, h := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(h, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		hop := strings.TrimSpace(hops[i])
		if _, err := netip.ParseAddr(hop); err != nil {
			// A hop that is not an address: the proxy that passed it on is
			// the last one known.
			return peer
		}
		if !s.trusted(hop) {
			return hop
		}
		peer = hop
	}
	return peer
}

// trusted: addr (host or host:port) is in TRUSTED_PROXIES.
func (s *Server) trusted(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	a = a.Unmap().WithZone("")
	for _, p := range s.Cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientKey is the address a request is limited by: the client's IP (IPv4),
// or its /64 for IPv6, where one client commonly holds a whole /64.
func clientKey(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, _ := a.WithZone("").Prefix(64)
	return p.String()
}

// keyedLimiter is a token bucket per key (a vendor's source, a client
// address). Buckets that have refilled are forgotten when the map grows, so a
// spread of keys cannot grow it without bound for longer than a refill.
type keyedLimiter struct {
	mu        sync.Mutex
	perSecond float64
	burst     int
	buckets   map[string]*rate.Limiter
	sweepAt   int
}

const sweepFloor = 4096

func newKeyedLimiter(perSecond float64, burst int) *keyedLimiter {
	return &keyedLimiter{perSecond: perSecond, burst: burst, buckets: map[string]*rate.Limiter{}, sweepAt: sweepFloor}
}

// bucket is key's bucket; nil when it has none and create is false.
func (l *keyedLimiter) bucket(key string, create bool) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b != nil || !create {
		return b
	}
	if len(l.buckets) >= l.sweepAt {
		for k, v := range l.buckets {
			if v.Tokens() >= float64(l.burst) {
				delete(l.buckets, k)
			}
		}
		l.sweepAt = max(sweepFloor, 2*len(l.buckets))
	}
	b = rate.NewLimiter(rate.Limit(l.perSecond), l.burst)
	l.buckets[key] = b
	return b
}

// wait is how long key must wait before its next attempt (0: go ahead). It
// spends nothing.
func (l *keyedLimiter) wait(key string) time.Duration {
	b := l.bucket(key, false)
	if b == nil {
		return 0
	}
	tokens := b.Tokens()
	if tokens >= 1 {
		return 0
	}
	return time.Duration((1 - tokens) / l.perSecond * float64(time.Second))
}

// take spends one token of key's bucket: 0 when there was one, else how
// long to wait for it (and nothing is spent).
func (l *keyedLimiter) take(key string) time.Duration {
	res := l.bucket(key, true).Reserve()
	if d := res.Delay(); d > 0 {
		res.Cancel()
		return d
	}
	return 0
}

// spend records one failure of key.
func (l *keyedLimiter) spend(key string) { l.bucket(key, true).Allow() }

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
			fields := append(rec.fields, zap.String("method", r.Method), zap.String("path", redactPath(r.URL.Path)),
				zap.Int("status", rec.status), zap.Duration("took", time.Since(start)))
			s.measure(r, rec.status, time.Since(start))
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

// redactPath hides the secrets a path may carry before it is logged: the
// segment after "invitations" unless it is an invitation id (a UUID, on the
// owner's routes), and any segment that looks like a token (lri_, lru_, lrv_,
// lra_). /invitations/lri_… logs as /invitations/[redacted].
func redactPath(p string) string {
	segs := strings.Split(p, "/")
	for i, seg := range segs {
		secret := len(seg) > 4 && seg[0] == 'l' && seg[1] == 'r' && seg[3] == '_'
		if i > 0 && segs[i-1] == "invitations" && seg != "" && !domain.ValidUUID(seg) {
			secret = true
		}
		if secret {
			segs[i] = "[redacted]"
		}
	}
	return strings.Join(segs, "/")
}
