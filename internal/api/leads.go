package api

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/runs"
	"github.com/leadrelay/leadrelay/internal/store"
	"github.com/leadrelay/leadrelay/workflows"
)

type intakeOut struct {
	LeadID     string `json:"lead_id"`
	WorkflowID string `json:"workflow_id"`
	Duplicate  bool   `json:"duplicate"`
	RepeatOf   string `json:"repeat_of,omitempty"` // the open lead of the org this one repeats
}

// postLead answers once the lead is in Postgres and its workflow is recorded
// by Temporal; routing happens in the workflow.
func (s *Server) postLead(w http.ResponseWriter, r *http.Request) {
	received := time.Now()
	c, err := s.authenticate(r)
	if err != nil {
		writeErr(w, err)
		return
	}
	if c.admin || c.Kind != domain.TokenVendor {
		writeErr(w, domain.Errorf(domain.EForbidden, "only a vendor key may post leads"))
		return
	}
	if ok, wait := s.allow(c.SourceID); !ok {
		w.Header().Set("Retry-After", retryAfter(wait))
		writeErr(w, domain.Errorf(domain.ERateLimited, "rate limit of this vendor key exceeded: retry after %s", wait.Round(time.Millisecond)))
		return
	}
	var in domain.LeadInput
	if err := decode(w, r, domain.MaxLeadBody, &in); err != nil {
		writeErr(w, err)
		return
	}
	if err := in.Validate(); err != nil {
		writeErr(w, err)
		return
	}
	id := domain.NewID()
	intake, err := s.Store.InsertLead(r.Context(), store.NewLead{ID: id, SourceID: c.SourceID, OrgID: c.OrgID, Slug: c.Slug,
		WorkflowID: workflows.LeadWorkflowID(id), ReceivedAt: received, In: in})
	if err != nil {
		writeErr(w, err)
		return
	}
	logField(w, zap.String("lead_id", intake.LeadID))
	logField(w, zap.String("workflow_id", intake.WorkflowID))
	if !intake.Routed {
		names := domain.RunNames{Org: c.OrgName, Source: c.SourceName}
		if err := s.startLead(r.Context(), store.UnroutedLead{LeadID: intake.LeadID, OrgID: c.OrgID, SourceID: c.SourceID,
			Slug: c.Slug, ExternalID: in.ExternalID, WorkflowID: intake.WorkflowID}, names); err != nil {
			// The lead is recorded; the vendor's retry (or the worker's sweep)
			// starts its workflow. Say so rather than pretend it is accepted.
			s.Log.Error("could not start lead workflow", zap.String("lead_id", intake.LeadID), zap.Error(err))
			writeErr(w, domain.Errorf(domain.EUnavailable, "lead recorded but routing could not start: retry the same post"))
			return
		}
	}
	status := http.StatusAccepted
	if intake.Duplicate {
		status = http.StatusOK
	}
	writeJSON(w, status, intakeOut{intake.LeadID, intake.WorkflowID, intake.Duplicate, intake.RepeatOf})
}

// startLead starts the lead's run, patiently (starter). names, for the
// run's summary, come with the vendor key (no query more).
func (s *Server) startLead(ctx context.Context, l store.UnroutedLead, names domain.RunNames) error {
	return s.starter(true).LeadNamed(ctx, l.WorkflowID, workflows.LeadInput{LeadID: l.LeadID, OrgID: l.OrgID, Slug: l.Slug, ExternalID: l.ExternalID},
		runs.RestartFailed, names)
}

func (s *Server) getLead(w http.ResponseWriter, r *http.Request) {
	_, scope, err := s.leadCaller(r)
	if err != nil {
		writeErr(w, err)
		return
	}
	s.answerLead(w, r, scope, r.PathValue("id"))
}

func (s *Server) listLeads(w http.ResponseWriter, r *http.Request) {
	org := r.PathValue("org")
	if _, err := s.member(r, org, false); err != nil {
		writeErr(w, err)
		return
	}
	f, err := leadFilter(r.URL.RawQuery)
	if err != nil {
		writeErr(w, err)
		return
	}
	leads, next, err := s.Store.ListLeads(r.Context(), org, f)
	if err != nil {
		writeErr(w, err)
		return
	}
	if leads == nil {
		leads = []store.Lead{}
	}
	writeJSON(w, 200, map[string]any{"leads": leads, "next_cursor": next})
}

// leadFilter reads the query of GET /v1/orgs/{org}/leads. Every problem is a
// 4xx naming the parameter; the cursor's inside is the store's to judge (a
// cursor it cannot read is a 422 there too).
func leadFilter(rawQuery string) (store.LeadFilter, error) {
	q, err := queryValues(rawQuery)
	if err != nil {
		return store.LeadFilter{}, err
	}
	f := store.LeadFilter{Status: q.Get("status"), AssignedTo: q.Get("assigned_to"), Source: q.Get("source"), Cursor: q.Get("cursor"),
		Location: q.Get("location"), Owner: q.Get("owner"), Q: strings.TrimSpace(q.Get("q"))}
	fe := domain.FieldErrors{}
	if f.Status != "" && !domain.ValidLeadStatus(f.Status) {
		fe.Add("status", "one of "+strings.Join(domain.LeadStatuses, ", "))
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			fe.Add("limit", "a number from 1 to 500")
		}
		f.Limit = n
	}
	if f.AssignedTo != "" {
		id, ok := domain.NormalID(f.AssignedTo)
		if !ok {
			fe.Add("assigned_to", "a user id")
		}
		f.AssignedTo = id
	}
	if f.Location != "" && f.Location != domain.LocationPending && f.Location != domain.LocationQueue {
		fe.Add("location", "one of pending, queue")
	}
	if f.Owner != "" && f.Owner != store.OwnerTeam {
		id, ok := domain.NormalID(f.Owner)
		if !ok {
			fe.Add("owner", "a user id, or team for the team's leads")
		}
		f.Owner = id
	}
	if p := domain.IDProblem(f.Q); p != "" {
		fe.Add("q", p)
	} else if utf8.RuneCountInString(f.Q) > maxSearch {
		fe.Add("q", fmt.Sprintf("at most %d characters", maxSearch))
	}
	if f.Source != "" && !domain.ValidSlug(f.Source) {
		fe.Add("source", "a source slug: lowercase letters, digits, - and _, at most 64")
	}
	if f.Cursor != "" && (len(f.Cursor) > 512 || strings.IndexFunc(f.Cursor, notCursorChar) >= 0) {
		fe.Add("cursor", "not a cursor from a previous page")
	}
	if err := fe.Err("invalid query"); err != nil {
		return store.LeadFilter{}, err
	}
	return f, nil
}

// maxSearch bounds q: a name, an email, a phone or an id fits, and a
// longer pattern only costs the database more to match.
const maxSearch = 100

// notCursorChar: cursors are unpadded base64url.
func notCursorChar(r rune) bool {
	return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_')
}

// queryValues parses a raw query like url.ParseQuery, but says what is wrong
// instead of dropping it: a name or value that is not UTF-8 text without NUL
// (after percent-decoding) is a 422 naming the parameter, a broken
// percent-escape in a value too; a broken name or a ';' separator is a 400.
func queryValues(raw string) (url.Values, error) {
	q := url.Values{}
	fe := domain.FieldErrors{}
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" {
			continue
		}
		if strings.Contains(pair, ";") {
			return nil, domain.Errorf(domain.EMalformed, "malformed query: separate parameters with &, not ;")
		}
		k, v, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			return nil, domain.Errorf(domain.EMalformed, "malformed query: bad percent-escape in a parameter name")
		}
		if p := domain.TextProblem(key); p != "" {
			fe.Add(printable(key), "the name "+p)
			continue
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			fe.Add(key, "bad percent-escape")
			continue
		}
		if p := domain.TextProblem(val); p != "" {
			fe.Add(key, p)
			continue
		}
		q.Add(key, val)
	}
	if err := fe.Err("invalid query"); err != nil {
		return nil, err
	}
	return q, nil
}

// printable shows a name that is not text: invalid bytes and NUL as U+FFFD.
func printable(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// unrouted tells operators how many leads are stranded: recorded longer
// than domain.UnroutedAfter ago and not yet routed. The reconciler restarts
// each of them; a number that stays above zero means it cannot (see its log).
func (s *Server) unrouted(w http.ResponseWriter, r *http.Request) {
	c, err := s.authenticate(r)
	if err != nil {
		writeErr(w, err)
		return
	}
	if !c.admin {
		writeErr(w, domain.Errorf(domain.EForbidden, "only the admin token may read operations data"))
		return
	}
	n, err := s.Store.CountUnrouted(r.Context(), time.Now().Add(-domain.UnroutedAfter))
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, 200, map[string]any{"unrouted": n, "older_than": domain.UnroutedAfter.String()})
}
