package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/leadrelay/leadrelay/internal/api"
)

// apiError is a refusal or failure of an in-process API call, as the API
// wrote it: its status and its error body.
type apiError struct {
	Status  int
	Code    string
	Message string
	Fields  map[string]string
}

func (e *apiError) Error() string { return fmt.Sprintf("api %d %s: %s", e.Status, e.Code, e.Message) }

// buffer is a ResponseWriter that keeps the API's answer in memory.
type buffer struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *buffer) Header() http.Header         { return b.header }
func (b *buffer) Write(p []byte) (int, error) { return b.body.Write(p) }
func (b *buffer) WriteHeader(code int)        { b.status = code }

// call is one in-process API request as the visit's user: method and path
// as in SPEC §4, in (if not nil) as its JSON body, the answer decoded into
// out (if not nil). A 4xx or 5xx is an *apiError. hdr adds headers
// (Idempotency-Key).
func (c *Console) call(r *http.Request, v *visit, method, path string, in, out any, hdr ...string) (int, error) {
	var body bytes.Buffer
	if in != nil {
		if err := json.NewEncoder(&body).Encode(in); err != nil {
			return 0, err
		}
	}
	req, err := http.NewRequestWithContext(api.AsUser(r.Context(), v.Session.Principal), method, path, &body)
	if err != nil {
		return 0, err
	}
	req.RemoteAddr = r.RemoteAddr
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	b := &buffer{header: http.Header{}, status: http.StatusOK}
	c.API.ServeHTTP(b, req)
	// A 3xx is the router tidying a path (an id of ".."), never a handler
	// that acted: it is a refusal, not a success.
	if b.status >= 300 {
		var e struct {
			Error struct {
				Code    string            `json:"code"`
				Message string            `json:"message"`
				Fields  map[string]string `json:"fields"`
			} `json:"error"`
		}
		_ = json.Unmarshal(b.body.Bytes(), &e)
		return b.status, &apiError{Status: b.status, Code: e.Error.Code, Message: e.Error.Message, Fields: e.Error.Fields}
	}
	if out != nil && b.status != http.StatusNoContent && strings.TrimSpace(b.body.String()) != "" {
		if err := json.Unmarshal(b.body.Bytes(), out); err != nil {
			return b.status, fmt.Errorf("reading %s %s: %w", method, path, err)
		}
	}
	return b.status, nil
}

// refused turns an API refusal into what a form page shows: the message
// and each field's reason; ok is false for anything but a 4xx.
func refused(err error) (status int, msg string, fields map[string]string, ok bool) {
	ae, isAPI := err.(*apiError)
	if !isAPI || ae.Status >= 500 {
		return 0, "", nil, false
	}
	return ae.Status, ae.Message, ae.Fields, true
}
