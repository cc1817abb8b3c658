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

// As is the same client speaking with another token (an owner's, a vendor key).
func (c *Client) As(token string) *Client {
	cc := *c
	cc.Token = token
	return &cc
}

type NewOrg struct {
	ID    string `json:"id"`
	Owner struct {
		ID    string `json:"id"`
		Token string `json:"token"`
	} `json:"owner"`
}

// CreateOrg needs the admin token.
func (c *Client) CreateOrg(ctx context.Context, name, ownerEmail, ownerName string) (NewOrg, error) {
	var out NewOrg
	err := c.do(ctx, "POST", "/v1/orgs", map[string]any{"name": name, "owner": map[string]string{"email": ownerEmail, "name": ownerName}}, &out)
	return out, err
}

// CreateUser returns the new user's id.
func (c *Client) CreateUser(ctx context.Context, org, email, name, role string) (string, error) {
	var out struct {
		ID string `json:"id"`
	}
	err := c.do(ctx, "POST", "/v1/orgs/"+org+"/users", map[string]string{"email": email, "name": name, "role": role}, &out)
	return out.ID, err
}

type Source struct {
	ID     string `json:"id"`
	APIKey string `json:"api_key"` // only when created
}

// PutSource creates or updates org's routing for slug.
func (c *Client) PutSource(ctx context.Context, org, slug string, body map[string]any) (Source, error) {
	var out Source
	err := c.do(ctx, "PUT", "/v1/orgs/"+org+"/sources/"+slug, body, &out)
	return out, err
}

// PostLead posts a lead with a vendor key; a refusal (429 included) is an *Error.
func (c *Client) PostLead(ctx context.Context, lead any) error {
	return c.do(ctx, "POST", "/v1/leads", lead, nil)
}
