// Package apiclient is the small HTTP client the operator commands use to
// call leadrelay's API with the admin token, so they obey the same rules
// (validation, authorisation, workflows) as every other caller.
package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/leadrelay/leadrelay/internal/store"
)

type Client struct {
	Base  string // e.g. http://127.0.0.1:8080
	Token string
	HTTP  *http.Client
}

// Error is an API error answer.
type Error struct {
	Status  int
	Code    string
	Message string
	Fields  map[string]string
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message)
	for k, v := range e.Fields {
		s += fmt.Sprintf("; %s: %s", k, v)
	}
	return s
}

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("Content-Type", "application/json")
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	res, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 300 {
		var e struct {
			Error struct {
				Code, Message string
				Fields        map[string]string
			} `json:"error"`
		}
		_ = json.Unmarshal(b, &e)
		return &Error{Status: res.StatusCode, Code: e.Error.Code, Message: e.Error.Message, Fields: e.Error.Fields}
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

type Invited struct {
	ID         string    `json:"id"`
	WorkflowID string    `json:"workflow_id"`
	Status     string    `json:"status"`
	ExpiresAt  time.Time `json:"expires_at"`
}

// Invite invites email to become a sub-agency of org.
func (c *Client) Invite(ctx context.Context, org, email string) (Invited, error) {
	var out Invited
	err := c.do(ctx, "POST", "/v1/orgs/"+org+"/invitations", map[string]string{"email": email}, &out)
	return out, err
}

// Invitations lists org's invitations, newest first.
func (c *Client) Invitations(ctx context.Context, org string) ([]store.Invitation, error) {
	var out struct {
		Invitations []store.Invitation `json:"invitations"`
	}
	err := c.do(ctx, "GET", "/v1/orgs/"+org+"/invitations", nil, &out)
	return out.Invitations, err
}
