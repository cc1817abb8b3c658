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
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/leadrelay/leadrelay/internal/store"
)

// Client is one caller of the API: one base URL, one bearer token. A nil
// HTTP gets a 60-second timeout, so a hung API cannot hang a command.
type Client struct {
	Base  string // e.g. http://127.0.0.1:8080
	Token string
	HTTP  *http.Client
}

// Error is an API error answer.
type Error struct {
	Status     int
	Code       string
	Message    string
	Fields     map[string]string
	RetryAfter time.Duration // from a 429
}

// Error reads "422 invalid lead; email: not a valid email address", fields sorted.
func (e *Error) Error() string {
	parts := []string{fmt.Sprintf("%d %s", e.Status, e.Message)}
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts = append(parts, k+": "+e.Fields[k])
	}
	return strings.Join(parts, "; ")
}

// do sends body (a value to encode, or []byte sent as it is) and decodes the
// answer into out.
func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	return c.send(ctx, method, path, nil, body, out)
}

// Call sends a request to any route, for a caller (the benchmark) that
// times routes this client has no method for.
func (c *Client) Call(ctx context.Context, method, path string, body, out any) error {
	return c.do(ctx, method, path, body, out)
}

// send is do with extra request headers.
func (c *Client) send(ctx context.Context, method, path string, hdr http.Header, body, out any) error {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, rd)
	if err != nil {
		return err
	}
	for k, v := range hdr {
		req.Header[k] = v
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
		if json.Unmarshal(b, &e) != nil || e.Error.Message == "" {
			e.Error.Message = strings.TrimSpace(string(b)) // not our error shape (a proxy, say)
		}
		wait, _ := strconv.Atoi(res.Header.Get("Retry-After"))
		return &Error{Status: res.StatusCode, Code: e.Error.Code, Message: e.Error.Message, Fields: e.Error.Fields,
			RetryAfter: time.Duration(wait) * time.Second}
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// Invited is the API's answer to an invitation: the workflow ID lets an
// operator follow the invitation in Temporal.
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

// NewOrg is the answer to CreateOrg. The API keeps only a hash of the
// owner's token, so this is the one chance to read it.
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
	u, err := c.AddUser(ctx, org, email, name, role)
	return u.ID, err
}

// NewUser is a created user: its id, and the token it calls the API with,
// which the API shows only in this answer.
type NewUser struct {
	ID    string `json:"id"`
	Token string `json:"token"`
}

// AddUser is CreateUser for a caller who will speak as the new user.
func (c *Client) AddUser(ctx context.Context, org, email, name, role string) (NewUser, error) {
	var out NewUser
	err := c.do(ctx, "POST", "/v1/orgs/"+org+"/users", map[string]string{"email": email, "name": name, "role": role}, &out)
	return out, err
}

// Source is the answer to PutSource. APIKey is set only when the put created
// the source: the API keeps only a hash of the key, so it cannot show it later.
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

// PostLead posts a lead with a vendor key (a value, or raw JSON as []byte)
// and reports whether it was a repeat; a refusal (429 included) is an *Error.
func (c *Client) PostLead(ctx context.Context, lead any) (duplicate bool, err error) {
	var out struct {
		Duplicate bool `json:"duplicate"`
	}
	err = c.do(ctx, "POST", "/v1/leads", lead, &out)
	return out.Duplicate, err
}

// TransferStarted is the API's answer to a transfer request.
type TransferStarted struct {
	ID         string `json:"id"`
	WorkflowID string `json:"workflow_id"`
	Total      int    `json:"total"`
	Duplicate  bool   `json:"duplicate"`
}

// Transfer asks to move leads from org to toOrg. key is the request's
// Idempotency-Key: sending the same request again with it starts nothing new.
func (c *Client) Transfer(ctx context.Context, org, toOrg string, leadIDs []string, mode, key string) (TransferStarted, error) {
	var out TransferStarted
	hdr := http.Header{}
	if key != "" {
		hdr.Set("Idempotency-Key", key)
	}
	err := c.send(ctx, "POST", "/v1/orgs/"+org+"/transfers", hdr,
		map[string]any{"to_org": toOrg, "lead_ids": leadIDs, "mode": mode}, &out)
	return out, err
}

// TransferStatus reads a transfer's progress.
func (c *Client) TransferStatus(ctx context.Context, org, id string) (store.TransferStatus, error) {
	var out store.TransferStatus
	err := c.do(ctx, "GET", "/v1/orgs/"+org+"/transfers/"+id, nil, &out)
	return out, err
}

// Groups lists the org's groups.
func (c *Client) Groups(ctx context.Context, org string) ([]store.Group, error) {
	var out struct {
		Groups []store.Group `json:"groups"`
	}
	err := c.do(ctx, "GET", "/v1/orgs/"+org+"/groups", nil, &out)
	return out.Groups, err
}

// GroupMember is one member of a group as PUT sends it.
type GroupMember struct {
	UserID string `json:"user_id"`
	Weight int    `json:"weight"`
}

// PutGroup creates the group or replaces its members.
func (c *Client) PutGroup(ctx context.Context, org, name string, members []GroupMember) (store.Group, error) {
	var out store.Group
	err := c.do(ctx, "PUT", "/v1/orgs/"+org+"/groups/"+url.PathEscape(name), map[string]any{"members": members}, &out)
	return out, err
}

// DeleteGroup deletes the group (409 while a source routes to it).
func (c *Client) DeleteGroup(ctx context.Context, org, name string) error {
	return c.do(ctx, "DELETE", "/v1/orgs/"+org+"/groups/"+url.PathEscape(name), nil, nil)
}

// PauseUser pauses the user's routing, until resumed or until until
// (zero: until resumed).
func (c *Client) PauseUser(ctx context.Context, org, user string, until time.Time) (store.User, error) {
	body := map[string]any{}
	if !until.IsZero() {
		body["until"] = until.Format(time.RFC3339)
	}
	var out store.User
	err := c.do(ctx, "POST", "/v1/orgs/"+org+"/users/"+user+"/pause", body, &out)
	return out, err
}

// ResumeUser ends the user's pause.
func (c *Client) ResumeUser(ctx context.Context, org, user string) (store.User, error) {
	var out store.User
	err := c.do(ctx, "POST", "/v1/orgs/"+org+"/users/"+user+"/resume", nil, &out)
	return out, err
}
