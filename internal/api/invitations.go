package api

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"net/http"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	"go.uber.org/zap"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/workflows"
)

//go:embed templates/*.html
var pageFS embed.FS

var pages = template.Must(template.ParseFS(pageFS, "templates/*.html"))

// owner checks that the caller is org's owner (or the admin token).
func (s *Server) owner(r *http.Request, org, action string) error {
	c, err := s.member(r, org, true)
	if err != nil {
		return err
	}
	if !c.admin && c.User.Role != domain.RoleOwner {
		return domain.Errorf(domain.EForbidden, "only the org's owner may %s", action)
	}
	return nil
}

func (s *Server) createInvitation(w http.ResponseWriter, r *http.Request) {
	org := r.PathValue("org")
	if err := s.owner(r, org, "invite sub-agencies"); err != nil {
		writeErr(w, err)
		return
	}
	var in struct {
		Email string `json:"email"`
	}
	if err := decode(w, r, smallBody, &in); err != nil {
		writeErr(w, err)
		return
	}
	if !domain.ValidEmail(in.Email) {
		writeErr(w, &domain.Error{Code: domain.EInvalid, Message: "invalid invitation", Fields: map[string]string{"email": "a valid email address is required"}})
		return
	}
	inv, err := s.Store.CreateInvitation(r.Context(), org, in.Email, workflows.InvitationTTL, workflows.InvitationWorkflowID)
	if err != nil {
		writeErr(w, err)
		return
	}
	err = s.starter(false).Invitation(r.Context(),
		workflows.InvitationInput{InvitationID: inv.ID, MasterOrgID: org, ExpiresAt: inv.ExpiresAt})
	if err != nil {
		// Without its workflow the invitation can never be answered: close it so
		// the owner can simply invite again.
		_ = s.Store.CloseInvitation(context.WithoutCancel(r.Context()), inv.ID, domain.InviteRevoked)
		s.Log.Error("could not start invitation workflow", zap.String("invitation_id", inv.ID), zap.Error(err))
		writeErr(w, domain.Errorf(domain.EUnavailable, "could not start the invitation: try again"))
		return
	}
	logField(w, zap.String("workflow_id", inv.WorkflowID))
	writeJSON(w, 202, map[string]any{"id": inv.ID, "workflow_id": inv.WorkflowID, "status": inv.Status, "expires_at": inv.ExpiresAt})
}

func (s *Server) listInvitations(w http.ResponseWriter, r *http.Request) {
	org := r.PathValue("org")
	if _, err := s.member(r, org, true); err != nil {
		writeErr(w, err)
		return
	}
	list, err := s.Store.ListInvitations(r.Context(), org)
	if err != nil {
		writeErr(w, err)
		return
	}
	now := time.Now()
	for i := range list {
		list[i].Status = list[i].Effective(now)
	}
	if list == nil {
		list = []store.Invitation{}
	}
	writeJSON(w, 200, map[string]any{"invitations": list})
}

func (s *Server) revokeInvitation(w http.ResponseWriter, r *http.Request) {
	org := r.PathValue("org")
	if err := s.owner(r, org, "revoke invitations"); err != nil {
		writeErr(w, err)
		return
	}
	inv, err := s.Store.GetInvitation(r.Context(), org, r.PathValue("id"))
	if err != nil {
		writeErr(w, err)
		return
	}
	if err := s.update(r.Context(), inv, workflows.UpdateRevoke, nil, nil); err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 200, map[string]any{"id": inv.ID, "status": domain.InviteRevoked})
}

// update sends an answer to an invitation's workflow and waits for its
// outcome. A closed invitation is refused from the record, before Temporal.
func (s *Server) update(ctx context.Context, inv store.Invitation, name string, arg, out any) error {
	if st := inv.Effective(time.Now()); st != domain.InvitePending {
		return closedErr(st)
	}
	opts := client.UpdateWorkflowOptions{WorkflowID: inv.WorkflowID, UpdateName: name, WaitForStage: client.WorkflowUpdateStageCompleted}
	if arg != nil {
		opts.Args = []any{arg}
	}
	h, err := s.Temporal.UpdateWorkflow(ctx, opts)
	if err == nil {
		err = h.Get(ctx, out)
	}
	return updateOutcome(err, "this invitation is no longer open")
}

func closedErr(status string) error {
	if status == domain.InviteExpired {
		return domain.Errorf(domain.EConflict, "this invitation has expired")
	}
	return domain.Errorf(domain.EConflict, "this invitation was already %s", status)
}

var errBadLink = domain.Errorf(domain.ENotFound, "invitation not found: the link is not valid")

// byToken finds an invitation from its link, by the token's SHA-256. The
// lookup compares hashes, not the token: its timing could only tell an
// attacker about the hash of a guess, which says nothing about a stored token,
// so there is nothing left for a separate constant-time compare to protect.
// A wrong token says nothing about any organization.
func (s *Server) byToken(ctx context.Context, token string) (store.InvitationView, error) {
	if !strings.HasPrefix(token, "lri_") || len(token) > 100 {
		return store.InvitationView{}, errBadLink
	}
	v, err := s.Store.InvitationByToken(ctx, domain.HashToken(token))
	if domain.ErrorCode(err) == domain.ENotFound {
		return v, errBadLink
	}
	return v, err
}

// decline answers the invitation behind a link with no.
func (s *Server) decline(ctx context.Context, token string) (store.InvitationView, error) {
	v, err := s.byToken(ctx, token)
	if err == nil {
		err = s.update(ctx, v.Invitation, workflows.UpdateDecline, nil, nil)
	}
	return v, err
}

// accept runs an accept from the link; a user token sent along must be the
// invited owner's.
func (s *Server) accept(r *http.Request, token, orgID string) (store.InvitationView, workflows.InvitationLink, error) {
	var res workflows.InvitationLink
	v, err := s.byToken(r.Context(), token)
	if err != nil {
		return v, res, err
	}
	if orgID != "" {
		id, ok := domain.NormalID(orgID)
		if !ok {
			return v, res, &domain.Error{Code: domain.EInvalid, Message: "invalid org_id", Fields: map[string]string{"org_id": "not an org id"}}
		}
		orgID = id
	}
	req := workflows.AcceptRequest{OrgID: orgID}
	if r.Header.Get("Authorization") != "" {
		c, err := s.authenticate(r)
		if err != nil {
			return v, res, err
		}
		if c.admin || c.User == nil || c.User.Role != domain.RoleOwner || !strings.EqualFold(c.User.Email, v.Email) {
			return v, res, domain.Errorf(domain.EForbidden, "the token sent along is not the invited owner's")
		}
		req.UserID = c.User.ID
		if req.OrgID == "" {
			req.OrgID = c.User.OrgID
		}
	}
	err = s.update(r.Context(), v.Invitation, workflows.UpdateAccept, req, &res)
	return v, res, err
}

func (s *Server) acceptJSON(w http.ResponseWriter, r *http.Request) {
	var in struct {
		OrgID string `json:"org_id"`
	}
	if r.ContentLength != 0 {
		if err := decode(w, r, smallBody, &in); err != nil {
			writeErr(w, err)
			return
		}
	}
	_, res, err := s.accept(r, r.PathValue("token"), in.OrgID)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 200, map[string]string{"master_org_id": res.MasterOrgID, "sub_org_id": res.SubOrgID})
}

func (s *Server) declineJSON(w http.ResponseWriter, r *http.Request) {
	if _, err := s.decline(r.Context(), r.PathValue("token")); err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 200, map[string]string{"status": domain.InviteDeclined})
}

// ---- the page ----

type pageData struct {
	Title, Message, Token, Email, MasterName, InviterName, Expires string
	Pending, OK, Problem                                           bool
	Owned                                                          []store.OwnedOrg
}

// SetPageHeaders sets the security headers of every HTML page the process
// serves, the console's and the invitation page alike: no inline script or
// style (the CSP lets only the console's own files run, from /app/static/),
// no framing, no referrer (a sign-in or invitation link in the URL must not
// leak through one).
func SetPageHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
}

// page renders the invitation page in the console's look: its stylesheet
// is the console's /app/static/console.css.
func (s *Server) page(w http.ResponseWriter, status int, d pageData) {
	h := w.Header()
	SetPageHeaders(h)
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := pages.ExecuteTemplate(w, "invitation.html", d); err != nil {
		s.Log.Error("render invitation page", zap.Error(err))
	}
}

func (s *Server) problemPage(w http.ResponseWriter, err error) {
	var e *domain.Error
	if !errors.As(err, &e) {
		s.Log.Error("invitation page", zap.Error(err))
		e = domain.Errorf(domain.EInternal, "something went wrong; try again in a minute")
	}
	title := map[string]string{domain.ENotFound: "Invitation not found", domain.EConflict: "This invitation is closed"}[e.Code]
	if title == "" {
		title = "The invitation could not be answered"
	}
	msg := e.Message
	for _, f := range e.Fields {
		msg += ": " + f
	}
	s.page(w, statusOf[e.Code], pageData{Title: title, Message: strings.ToUpper(msg[:1]) + msg[1:] + ".", Problem: true})
}

func (s *Server) invitationPage(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	v, err := s.byToken(r.Context(), token)
	if err == nil {
		if st := v.Effective(time.Now()); st != domain.InvitePending {
			err = closedErr(st)
		}
	}
	if err != nil {
		s.problemPage(w, err)
		return
	}
	s.page(w, 200, pageData{Title: "Join " + v.MasterName + " as a sub-agency", Pending: true, Token: token, Email: v.Email,
		MasterName: v.MasterName, InviterName: v.InviterName, Owned: v.Owned,
		Expires: v.ExpiresAt.UTC().Format(domain.DateLayout)})
}

func (s *Server) acceptPage(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, smallBody)
	v, res, err := s.accept(r, r.PathValue("token"), r.PostFormValue("org_id"))
	if err != nil {
		s.problemPage(w, err)
		return
	}
	sub := "Your organization"
	for _, o := range v.Owned {
		if o.ID == res.SubOrgID {
			sub = o.Name
		}
	}
	s.page(w, 200, pageData{Title: "You joined " + v.MasterName, OK: true,
		Message: sub + " is now a sub-agency of " + v.MasterName + ". Its owner has been told."})
}

func (s *Server) declinePage(w http.ResponseWriter, r *http.Request) {
	v, err := s.decline(r.Context(), r.PathValue("token"))
	if err != nil {
		s.problemPage(w, err)
		return
	}
	s.page(w, 200, pageData{Title: "Invitation declined", OK: true, Message: "You declined the invitation from " + v.MasterName + ". Nothing was linked."})
}

// ---- sub-agencies ----

func (s *Server) listSubAgencies(w http.ResponseWriter, r *http.Request) {
	org := r.PathValue("org")
	if _, err := s.member(r, org, false); err != nil {
		writeErr(w, err)
		return
	}
	subs, err := s.Store.SubAgencies(r.Context(), org)
	if err != nil {
		writeErr(w, err)
		return
	}
	if subs == nil {
		subs = []store.SubAgency{}
	}
	writeJSON(w, 200, subs)
}

// unlink: the owner of either side may end the link.
func (s *Server) unlink(w http.ResponseWriter, r *http.Request) {
	master, sub := r.PathValue("org"), r.PathValue("sub")
	c, err := s.authenticate(r)
	if err != nil {
		writeErr(w, err)
		return
	}
	if !domain.ValidUUID(master) || !domain.ValidUUID(sub) {
		writeErr(w, domain.Errorf(domain.ENotFound, "sub-agency not found"))
		return
	}
	if !c.admin {
		if c.Kind != domain.TokenUser {
			writeErr(w, domain.Errorf(domain.EForbidden, "a vendor key may only post leads"))
			return
		}
		if c.OrgID != master && c.OrgID != sub {
			writeErr(w, domain.Errorf(domain.ENotFound, "sub-agency not found"))
			return
		}
		if c.User.Role != domain.RoleOwner {
			writeErr(w, domain.Errorf(domain.EForbidden, "only the owner of either org may unlink"))
			return
		}
	}
	withdrawn, err := s.Store.Unlink(r.Context(), master, sub)
	if err != nil {
		writeErr(w, err)
		return
	}
	s.tellWithdrawn(r.Context(), withdrawn)
	writeJSON(w, 200, map[string]string{"master_org_id": master, "sub_org_id": sub, "status": "unlinked"})
}
