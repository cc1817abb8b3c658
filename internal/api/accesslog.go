package api

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/leadrelay/leadrelay/internal/domain"
)

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
