package store

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leadrelay/leadrelay/internal/domain"
)

// Decision is the outcome of routing one lead at one org (a hop).
type Decision struct {
	LeadID         string   `json:"lead_id"`
	OrgID          string   `json:"org_id"`
	Location       string   `json:"location,omitempty"`
	AssignedTo     string   `json:"assigned_to,omitempty"`
	AssigneeName   string   `json:"assignee_name,omitempty"`
	FanOutTo       string   `json:"fan_out_to,omitempty"` // the sub-agency whose own routing comes next
	Reason         string   `json:"reason"`
	AlreadyRouted  bool     `json:"already_routed,omitempty"`
	SourceName     string   `json:"source_name"`
	Slug           string   `json:"slug"`
	PurchaseEmails []string `json:"purchase_emails,omitempty"`
	LeadName       string   `json:"lead_name"`
	LeadEmail      string   `json:"lead_email,omitempty"`
	LeadPhone      string   `json:"lead_phone,omitempty"`
	// ReroutedFrom is the deactivated user a reroute took the lead from
	// (RerouteLead); "" for a lead's first routing.
	ReroutedFrom string `json:"rerouted_from,omitempty"`

	// Mode is the routing mode of the hop's source ("" when the org has no
	// source for the slug) and OwnerFallback says the owner got the lead
	// because that mode had nobody else: what the routing metrics count.
	Mode          string `json:"-"`
	OwnerFallback bool   `json:"-"`
	// SpeedToLead is the time from the lead's post to this decision's
	// commit when the decision is the lead's first placement; 0 for a
	// re-read, a hop that passes the lead down, and a lead placed before
	// (one a distribution passed down to a sub-agency).
	SpeedToLead time.Duration `json:"-"`
	// Rule is Reason without any person's name ("rotated to user <id>:
	// …"): what the run's details in the Temporal UI may show. "" when the
	// decision was read back rather than made.
	Rule string `json:"rule,omitempty"`
	// FanOutName is the sub-agency's name, for the summary of its hop's run.
	FanOutName string `json:"fan_out_name,omitempty"`
}

// Status is the word operators filter on in the Temporal UI.
func (d Decision) Status() string {
	switch {
	case d.FanOutTo != "":
		return "sub_agency"
	case d.Location != "":
		return d.Location
	}
	return "assigned"
}

// RouteRequest names one hop: the lead, and the org whose rules for the
// lead's source apply (empty: the org whose source received it). Hop counts
// the sub-agency levels already passed.
type RouteRequest struct {
	LeadID string
	OrgID  string
	Hop    int
}

// MaxHops bounds a fan-out chain; links form a tree, so this only guards
// against absurd depth. Past it the lead goes to that org's owner.
const MaxHops = 16

// RouteLead applies one org's routing for the lead's source in one
// transaction: place it, choose the person, or pass it down to a sub-agency,
// and write the reason on the timeline. Calling it again for a hop already
// decided returns that decision and changes nothing, so an activity retry
// after a commit cannot rotate twice.
func (s *Store) RouteLead(ctx context.Context, req RouteRequest) (Decision, error) {
	var d Decision
	var l lockedLead
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		l, err = lockLead(ctx, tx, req.LeadID)
		if err != nil {
			return err
		}
		d = l.decision(req.OrgID)
		src, err := l.source(ctx, tx, d.OrgID)
		if err != nil {
			return err
		}
		if src != nil {
			d.SourceName, d.PurchaseEmails = src.name, src.purchaseEmails
		}
		if l.routed || l.holder != d.OrgID {
			return reread(ctx, tx, &d)
		}
		hl, err := readHopLead(ctx, tx, l.id, d.OrgID, deref(l.requested))
		if err != nil {
			return err
		}
		hl.facts.Priority = l.priorityAt(d.OrgID, src, hl.facts.Priority)
		r, err := decide(ctx, tx, src, hl, d.Slug, d.OrgID, req.Hop, time.Now())
		if err != nil {
			return err
		}
		if src != nil {
			d.Mode = string(src.mode)
		}
		d.OwnerFallback = r.fallback
		if err := record(ctx, tx, &d, r); err != nil {
			return err
		}
		return startSLA(ctx, tx, src, &d, r)
	})
	if err == nil && !d.AlreadyRouted && d.FanOutTo == "" && !l.placedBefore {
		d.SpeedToLead = time.Since(l.receivedAt)
	}
	return d, err
}

// lockedLead is what routing reads of the lead.
type lockedLead struct {
	id, holder, intakeOrg, intakeSource, slug string
	routed                                    bool
	requested                                 *string // the vendor's location wish
	first, last, email, phone                 string
	receivedAt                                time.Time
	placedBefore                              bool // a hop assigned or placed it before (its speed-to-lead is counted)
}

// lockLead reads the lead FOR UPDATE: two runs deciding the same hop (a
// retry, a restarted run) go one after the other, and the second finds the
// first's decision instead of making another.
func lockLead(ctx context.Context, tx pgx.Tx, id string) (lockedLead, error) {
	return scanLeadRow(tx.QueryRow(ctx, leadRowSQL+` FOR UPDATE`, id), id)
}

// readLead is lockLead without the lock, for reading a decision back.
func readLead(ctx context.Context, tx pgx.Tx, id string) (lockedLead, error) {
	return scanLeadRow(tx.QueryRow(ctx, leadRowSQL, id), id)
}

const leadRowSQL = `SELECT org_id, intake_org_id, source_id, source_slug, routed_at IS NOT NULL, requested_location,
		first_name, last_name, email, phone, received_at,
		EXISTS (SELECT 1 FROM timeline_events e WHERE e.lead_id = leads.id AND e.kind = 'routed'
			AND e.data ?| array['assigned_to', 'location'])
	FROM leads WHERE id = $1`

func scanLeadRow(row pgx.Row, id string) (lockedLead, error) {
	l := lockedLead{id: id}
	err := row.Scan(&l.holder, &l.intakeOrg, &l.intakeSource, &l.slug, &l.routed, &l.requested, &l.first, &l.last, &l.email, &l.phone,
		&l.receivedAt, &l.placedBefore)
	return l, notFound(err, "lead")
}

// priorityAt is the lead's priority as it reaches orgID, what a rule's
// priority condition reads: at the org whose source received it, that
// source's priority (the lead has none of its own yet); at a sub-agency,
// what the hop above gave it (stored).
func (l lockedLead) priorityAt(orgID string, src *hopSource, stored string) string {
	if orgID == l.intakeOrg && src != nil {
		return src.priority
	}
	return stored
}

// decision starts the hop's Decision at orgID ("": the org whose source
// received the lead).
func (l lockedLead) decision(orgID string) Decision {
	if orgID == "" {
		orgID = l.intakeOrg
	}
	return Decision{LeadID: l.id, OrgID: orgID, Slug: l.slug, LeadName: strings.TrimSpace(l.first + " " + l.last),
		LeadEmail: l.email, LeadPhone: l.phone}
}

// source is the hop's source: the one that received the lead, or the
// sub-agency's own source for the same slug (nil: it has none).
func (l lockedLead) source(ctx context.Context, tx pgx.Tx, orgID string) (*hopSource, error) {
	if orgID == l.intakeOrg {
		return sourceByID(ctx, tx, l.intakeSource)
	}
	return sourceBySlug(ctx, tx, orgID, l.slug)
}

// rereadSQL is the latest routing decision of lead $1 at org $2.
const rereadSQL = `SELECT message, data->>'sub_agency', data->>'assigned_to', data->>'location' FROM timeline_events
	WHERE lead_id = $1 AND org_id = $2 AND kind = 'routed' ORDER BY id DESC LIMIT 1`

// reread fills d with the decision already recorded for this hop.
func reread(ctx context.Context, tx pgx.Tx, d *Decision) error {
	d.AlreadyRouted = true
	var sub, assigned, location *string
	err := tx.QueryRow(ctx, rereadSQL, d.LeadID, d.OrgID).
		Scan(&d.Reason, &sub, &assigned, &location)
	if err != nil {
		return notFound(err, "routing decision")
	}
	d.FanOutTo, d.AssignedTo, d.Location = deref(sub), deref(assigned), deref(location)
	if d.AssignedTo != "" {
		_ = tx.QueryRow(ctx, `SELECT name FROM users WHERE id = $1`, d.AssignedTo).Scan(&d.AssigneeName)
	}
	return nil
}

// A ruling is what one routing rule decided for a hop, for record to write:
// a location, a sub-agency to pass the lead to, or a person (assignee ""
// meaning the org owner).
type ruling struct {
	reason, priority       string
	rule                   string // reason without a person's name, when it names one
	fanOutName             string
	location               string     // pending or queue
	availableAt            *time.Time // when a queued lead can be claimed
	fanOutTo               string     // the sub-agency whose routing comes next
	assignee, assigneeName string
	fallback               bool         // the owner, because the mode had nobody else
	row                    *decisionRow // the routing_decisions row, when a source decided
}

// toOwner is the fallback that keeps a lead from being orphaned.
func toOwner(reason, priority string) ruling {
	return ruling{reason: reason, priority: priority, fallback: true}
}

// decide applies the hop's rules: with no source, the owner; then a
// repeat lead to its open lead's assignee when available; then a
// placement, which wins over any rule; then the first rule whose condition
// matches the lead, else the default (applyRules).
func decide(ctx context.Context, tx pgx.Tx, src *hopSource, l hopLead, slug, orgID string, hop int, now time.Time) (ruling, error) {
	if src == nil {
		return noSourceHere(slug), nil
	}
	note := ""
	if l.repeatOf != "" {
		r, ok, why, err := repeatRuling(ctx, tx, src, l, orgID, now)
		if err != nil || ok {
			return r, err
		}
		note = why
	}
	r, ok := placement(src, l.requested)
	if ok {
		r.row = &decisionRow{sourceID: src.id, rule: -1, ruleName: "placement"}
	} else {
		var err error
		if r, err = applyRules(ctx, tx, src, l, orgID, hop, now); err != nil {
			return ruling{}, err
		}
	}
	if note != "" {
		r.reason, r.rule = note+"; "+r.reason, note+"; "+cmpOr(r.rule, r.reason)
	}
	return r, nil
}

// noSourceHere is the rule for a sub-agency with no workflow for the slug:
// its owner gets the lead, at normal priority since no source says otherwise.
func noSourceHere(slug string) ruling {
	return toOwner(fmt.Sprintf("no routing for %s in this sub-agency: assigned to the org owner", slug), "normal")
}

// placement leaves the lead waiting instead of assigned: in the source's
// force_location, else where the vendor asked, else in pending or queue when
// that is the mode (domain.Place). A queued lead is claimable after the
// source's queue delay.
func placement(src *hopSource, requested string) (ruling, bool) {
	p := domain.Place("", deref(src.force), requested, src.delay)
	if p.Location == "" {
		return ruling{}, false
	}
	r := ruling{reason: p.Reason, priority: src.priority, location: p.Location}
	if p.Location == domain.LocationQueue {
		t := time.Now().Add(src.delay)
		r.availableAt = &t
	}
	return r, true
}

// staffEvenly (staff_evenly) rotates a distributed lead over the org's
// staff pool, as the default rule of a staff_evenly source does; with
// nobody available, to the org owner.
func staffEvenly(ctx context.Context, tx pgx.Tx, src *hopSource, orgID string) (ruling, error) {
	var tz string
	if err := tx.QueryRow(ctx, `SELECT timezone FROM orgs WHERE id = $1`, orgID).Scan(&tz); err != nil {
		return ruling{}, err
	}
	r, nobody, err := rotateRule(ctx, tx, src, Pool{Key: PoolStaff, SourceID: src.id, OrgID: orgID, Loc: domain.OrgLocation(tz)},
		"active staff (staff_evenly)", time.Now())
	if err != nil {
		return ruling{}, err
	}
	if nobody == nil {
		r.row.rule, r.row.ruleName = -1, "distribution"
		return r, nil
	}
	o := toOwner(nobody.reason+": assigned to the org owner", src.priority)
	o.rule = nobody.rule + ": assigned to the org owner"
	o.row = &nobody.row
	o.row.rule, o.row.ruleName = -1, "distribution"
	return o, nil
}

// subAgenciesEvenly (sub_agencies_evenly) rotates the same way over the
// source's listed sub-agencies that are still linked, and passes the lead
// down: the chosen sub-agency's own routing for the slug is the next hop.
// Past MaxHops, or with no linked sub-agency left, the org owner.
func subAgenciesEvenly(ctx context.Context, tx pgx.Tx, src *hopSource, orgID string, hop int) (ruling, error) {
	if hop >= MaxHops {
		return toOwner(fmt.Sprintf("%d sub-agency levels passed (sub_agencies_evenly): assigned to the org owner", hop), src.priority), nil
	}
	pick, err := subAgencyPick(ctx, tx, src.id, orgID, src.subs)
	if err != nil {
		return ruling{}, err
	}
	if pick == nil {
		return toOwner("no linked sub-agency to rotate over (sub_agencies_evenly): assigned to the org owner", src.priority), nil
	}
	return ruling{reason: fmt.Sprintf("sent to sub-agency %s: position %d of %d (sub_agencies_evenly)", pick.name, pick.pos, pick.n),
		priority: src.priority, fanOutTo: pick.id, fanOutName: pick.name}, nil
}

// record writes the ruling on the lead and on its timeline, and completes d.
func record(ctx context.Context, tx pgx.Tx, d *Decision, r ruling) error {
	// The rule is taken before assign appends the owner's name to the reason.
	d.Reason, d.Rule, d.FanOutName = r.reason, cmp.Or(r.rule, r.reason), r.fanOutName
	if r.row != nil {
		if err := r.row.insert(ctx, tx, d.LeadID); err != nil {
			return err
		}
	}
	switch {
	case r.location != "":
		return place(ctx, tx, d, r.location, r.availableAt, r.priority)
	case r.fanOutTo != "":
		return passDown(ctx, tx, d, r.fanOutTo, r.priority)
	}
	d.AssigneeName = r.assigneeName
	return assign(ctx, tx, d, r.assignee, r.priority)
}

// place leaves the lead waiting in location, assigned to nobody; this hop
// has routed it. routed_at keeps the first decision's time, so a reroute
// does not move a lead's speed-to-lead.
func place(ctx context.Context, tx pgx.Tx, d *Decision, location string, availableAt *time.Time, priority string) error {
	d.Location = location
	if _, err := tx.Exec(ctx, `UPDATE leads SET location = $2, available_at = $3, priority = $4, assigned_to = NULL,
			routed_at = coalesce(routed_at, clock_timestamp()), updated_at = now() WHERE id = $1`,
		d.LeadID, location, availableAt, priority); err != nil {
		return err
	}
	return routedEvent(ctx, tx, d, map[string]any{"location": location})
}

// passDown moves the lead to the sub-agency without marking it routed: the
// sub-agency's own hop does that.
func passDown(ctx context.Context, tx pgx.Tx, d *Decision, subAgency, priority string) error {
	d.FanOutTo = subAgency
	if _, err := tx.Exec(ctx, `UPDATE leads SET org_id = $2, priority = $3, updated_at = now() WHERE id = $1`,
		d.LeadID, subAgency, priority); err != nil {
		return err
	}
	return routedEvent(ctx, tx, d, map[string]any{"sub_agency": subAgency, "mode": string(domain.RouteSubAgencies)})
}

// assign gives the lead to userID, or to the org owner when userID is "",
// appending the owner's name to the reason.
func assign(ctx context.Context, tx pgx.Tx, d *Decision, userID, priority string) error {
	if userID == "" {
		var err error
		if userID, d.AssigneeName, err = orgOwner(ctx, tx, d.OrgID); err != nil {
			return err
		}
		d.Reason += " " + d.AssigneeName
	}
	d.AssignedTo = userID
	if _, err := tx.Exec(ctx, `UPDATE leads SET assigned_to = $2, location = NULL, priority = $3,
			routed_at = coalesce(routed_at, clock_timestamp()), updated_at = now() WHERE id = $1`, d.LeadID, userID, priority); err != nil {
		return err
	}
	return routedEvent(ctx, tx, d, map[string]any{"assigned_to": userID})
}

// orgOwner is the org's owner, who gets a lead nobody else can: every org
// has one, so its absence is an error.
func orgOwner(ctx context.Context, tx pgx.Tx, orgID string) (id, name string, err error) {
	err = tx.QueryRow(ctx, `SELECT id, name FROM users WHERE org_id = $1 AND role = 'owner'`, orgID).Scan(&id, &name)
	if err != nil {
		return "", "", fmt.Errorf("org %s has no owner: %w", orgID, err)
	}
	return id, name, nil
}

// routedEvent writes the hop's decision on the timeline: the record reread
// finds when the hop is asked for again.
func routedEvent(ctx context.Context, tx pgx.Tx, d *Decision, data map[string]any) error {
	if d.ReroutedFrom != "" {
		data["rerouted_from"] = d.ReroutedFrom
	}
	return addEvent(ctx, tx, d.LeadID, d.OrgID, "routed", "routing:"+d.Slug, d.Reason, data)
}

// hopSource is what routing reads of a lead source.
type hopSource struct {
	id, name       string
	mode           domain.RoutingMode
	force          *string
	delay          time.Duration
	priority       string
	purchaseEmails []string
	subs           []string
	rules          []domain.Rule // before the default
	whenNobody     string
	group, user    string // the default's group (by name) or user
	sla            *domain.SLA
}

// defaultRouting is the source's last rule, the one with no condition.
func (h *hopSource) defaultRouting() domain.Routing {
	return domain.Routing{Mode: h.mode, SubAgencies: h.subs, Group: h.group, User: h.user}
}

// hopSourceCols is what scanHopSource reads, in its order.
const hopSourceCols = `id, name, routing_mode, force_location, queue_delay, priority, purchase_notification_emails,
	routing_sub_agencies::text[], rules, when_nobody, coalesce(routing_group, ''), coalesce(routing_user::text, ''), sla`

const (
	sourceByIDSQL   = `SELECT ` + hopSourceCols + ` FROM lead_sources WHERE id = $1`
	sourceBySlugSQL = `SELECT ` + hopSourceCols + ` FROM lead_sources WHERE org_id = $1 AND slug = $2`
)

// sourceByID is the source that received the lead: the first hop's rules.
func sourceByID(ctx context.Context, tx pgx.Tx, id string) (*hopSource, error) {
	return scanHopSource(tx.QueryRow(ctx, sourceByIDSQL, id))
}

// sourceBySlug is a sub-agency's own source for the slug the lead came in
// on, or nil when it has none.
func sourceBySlug(ctx context.Context, tx pgx.Tx, orgID, slug string) (*hopSource, error) {
	return scanHopSource(tx.QueryRow(ctx, sourceBySlugSQL, orgID, slug))
}

func scanHopSource(row pgx.Row) (*hopSource, error) {
	var h hopSource
	err := row.Scan(&h.id, &h.name, &h.mode, &h.force, &h.delay, &h.priority, &h.purchaseEmails, &h.subs,
		&h.rules, &h.whenNobody, &h.group, &h.user, &h.sla)
	if err == pgx.ErrNoRows {
		return nil, nil
	}
	return &h, err
}

// rotationPick is the member a rotation chose, with its place in the stable
// order for the reason ("position pos of n").
type rotationPick struct {
	id, name string
	pos, n   int
}

// leastRecentlyChosen picks, from the candidates c(id, name, since) defined
// before it, the one this source ($1) chose least recently, ties broken by
// (since, id); pos and n place it in that stable order for the reason.
const leastRecentlyChosen = `SELECT id, name, pos, n FROM (
		SELECT c.id, c.name, c.since, coalesce(r.last_seq, 0) AS last_seq,
			row_number() OVER (ORDER BY c.since, c.id) AS pos, count(*) OVER () AS n
		FROM c LEFT JOIN rotation_state r ON r.source_id = $1 AND r.member_id = c.id) x
	ORDER BY last_seq, since, id LIMIT 1`

// subAgencyPickSQL rotates over the source's sub-agencies ($3) still linked under the org ($2).
const subAgencyPickSQL = `WITH c AS (SELECT id, name, linked_at AS since FROM orgs
		WHERE parent_id = $2 AND id = ANY($3::uuid[])) ` + leastRecentlyChosen

// subAgencyPick rotates the source over the listed sub-agencies that are
// still linked under the org; nil when there are none.
func subAgencyPick(ctx context.Context, tx pgx.Tx, sourceID, orgID string, subs []string) (*rotationPick, error) {
	return rotate(ctx, tx, sourceID, func() pgx.Row {
		return tx.QueryRow(ctx, subAgencyPickSQL, sourceID, orgID, subs)
	})
}

// rotate records one more decision for the source and takes the candidate
// pick returns. The UPDATE of the source row comes first: its lock
// serialises concurrent decisions for one source, and pick's fresh snapshot
// then sees the previous decision's rotation_state, which is what keeps the
// rotation fair.
func rotate(ctx context.Context, tx pgx.Tx, sourceID string, pick func() pgx.Row) (*rotationPick, error) {
	var seq int64
	if err := tx.QueryRow(ctx, `UPDATE lead_sources SET rotation_seq = rotation_seq + 1 WHERE id = $1 RETURNING rotation_seq`,
		sourceID).Scan(&seq); err != nil {
		return nil, err
	}
	var p rotationPick
	err := pick().Scan(&p.id, &p.name, &p.pos, &p.n)
	if err == pgx.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	_, err = tx.Exec(ctx, `INSERT INTO rotation_state (source_id, member_id, last_seq) VALUES ($1, $2, $3)
		ON CONFLICT (source_id, member_id) DO UPDATE SET last_seq = excluded.last_seq`, sourceID, p.id, seq)
	return &p, err
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// RoutePreview is what a source's rules would do with a lead now: the rule
// that matches (Rule is its 0-based index; the default's is len(rules)),
// and whom or where, with the members a rotation would skip.
type RoutePreview struct {
	Rule          int    `json:"rule"`
	RuleName      string `json:"rule_name"`
	Default       bool   `json:"default"`
	AssignedTo    string `json:"assigned_to,omitempty"`
	AssigneeName  string `json:"assignee_name,omitempty"`
	Location      string `json:"location,omitempty"`
	SubAgency     string `json:"sub_agency,omitempty"`
	SubAgencyName string `json:"sub_agency_name,omitempty"`
	RepeatOf      string `json:"repeat_of,omitempty"`
	Skipped       []Skip `json:"skipped"`
	Reason        string `json:"reason"`
}
