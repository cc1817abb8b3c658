package workflows

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/leadrelay/leadrelay/internal/domain"
)

// What an operator reads of a run in the Temporal Web UI's list, and in
// `temporal workflow describe`, before opening it: a one-line summary (who,
// from which source, to which org), markdown details (the ids to look
// further with), the run's current details once it has decided something,
// and a one-line summary on each activity. They are recorded in the history
// like any payload, so they hold what payloads may (docs/architecture.md:
// What Temporal's history holds): ids, the vendor's external id, org and source names
// (business names, typed by orgs about themselves), words and counts —
// never a lead's or a person's name or address, free text such as a reason,
// nor a token. People are named by their user id.

// Limits keep every summary far below the server's (400 bytes for a
// summary's payload, limit.userMetadataSummarySize) whatever the names hold.
const (
	maxSummaryBytes = 300
	maxNameRunes    = 60
	maxExternalRune = 48
)

// mdSpecial are the characters Temporal's markdown would read as markup.
var mdSpecial = strings.NewReplacer(`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`,
	"<", `\<`, ">", `\>`, "#", `\#`, "|", `\|`, "~", `\~`)

// text makes a business name or key safe for one line of markdown: control
// and line-breaking characters become spaces, runs of spaces one, it is cut
// at max runes, and markup characters are escaped. "" gives fallback (an
// id, shown as code).
func text(s string, max int, fallback string) string {
	var b strings.Builder
	space, n := false, 0
	for _, r := range strings.TrimSpace(s) {
		if unicode.IsControl(r) || unicode.IsSpace(r) || r == '\u2028' || r == '\u2029' {
			space = true
			continue
		}
		if n == max {
			b.WriteString("…")
			break
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
			n++
		}
		space = false
		b.WriteRune(r)
		n++
	}
	if b.Len() == 0 {
		if fallback == "" {
			return "?"
		}
		return code(fallback)
	}
	return mdSpecial.Replace(b.String())
}

// code shows an id (ASCII we minted) as inline code.
func code(id string) string { return "`" + strings.ReplaceAll(id, "`", "") + "`" }

// oneLine cuts a summary to maxSummaryBytes on a rune boundary, never
// leaving half an escape.
func oneLine(s string) string {
	if len(s) <= maxSummaryBytes {
		return s
	}
	cut := maxSummaryBytes - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strings.TrimRight(s[:cut], `\`) + "…"
}

// bullets is markdown details: one bullet per line.
func bullets(lines ...string) string {
	var b strings.Builder
	for _, l := range lines {
		if l != "" {
			b.WriteString("- " + l + "\n")
		}
	}
	return b.String()
}

// orgName is an org's name, or its id when the name is unknown.
func orgName(name, id string) string { return text(name, maxNameRunes, id) }

// hopSuffix says which sub-agency level a lead's run routes at.
func hopSuffix(hop int) string {
	if hop == 0 {
		return ""
	}
	return " (hop " + strconv.Itoa(hop) + ")"
}

// LeadSummary is a lead run's one line: "Lead ext-123 from EverQuote →
// Summit Insurance Group". n names the run's org (in.OrgID) and the source
// that received the lead (its slug when unknown).
func LeadSummary(in LeadInput, n domain.RunNames) string {
	src := text(n.Source, maxNameRunes, "")
	if n.Source == "" {
		src = text(in.Slug, maxNameRunes, in.Slug)
	}
	return oneLine("Lead " + text(in.ExternalID, maxExternalRune, in.LeadID) + " from " + src + " → " +
		orgName(n.Org, in.OrgID) + hopSuffix(in.Hop))
}

// LeadDetails are a lead run's ids and where to look further.
func LeadDetails(in LeadInput) string {
	return bullets("lead "+code(in.LeadID)+", external id "+text(in.ExternalID, 128, "")+", source "+code(in.Slug),
		"routed by the rules of org "+code(in.OrgID)+" for that source; "+hopWords(in.Hop),
		"every run of this lead: `LeadID = \""+in.LeadID+"\"`; its timeline and reasons: `GET /v1/leads/"+in.LeadID+"`")
}

func hopWords(hop int) string {
	if hop == 0 {
		return "the org whose source received it"
	}
	return "a sub-agency, " + strconv.Itoa(hop) + " level(s) below the org that received it"
}

// hopSummary is the one line of the hop run a lead's run starts as its
// child: the sub-agency by name, the source by slug.
func hopSummary(in LeadInput, subName string) string {
	return LeadSummary(in, domain.RunNames{Org: subName})
}

// decidedDetails are what a lead's run says once its hop decided: where the
// lead went and why, people by user id.
func decidedDetails(d LeadResult, rule string) string {
	why := ""
	if rule != "" {
		why = ": " + text(rule, 200, "")
	} else if d.AlreadyRouted {
		why = " (decided by an earlier run)"
	}
	switch {
	case d.FanOutTo != "":
		return "**Passed down** to sub-agency " + code(d.FanOutTo) + why + "; its run: " + code(HopWorkflowID(d.LeadID, d.FanOutTo))
	case d.Location != "":
		return "**Waiting** in " + d.Location + why
	}
	return "**Assigned** to user " + code(d.AssignedTo) + why
}

// finalDetails add, to a hop that passed the lead down, where it ended.
func finalDetails(passed string, final LeadResult) string {
	where := "assigned to user " + code(final.AssignedTo)
	if final.Location != "" {
		where = "waiting in " + final.Location
	}
	return passed + "\n\n**Finally** " + where + " at org " + code(final.OrgID)
}

// InvitationSummary is an invitation run's one line. The invitee's address
// is a person's: not here.
func InvitationSummary(masterName, masterID string) string {
	return oneLine("Invitation to become a sub-agency of " + orgName(masterName, masterID))
}

// InvitationDetails are an invitation run's ids and where to look further.
func InvitationDetails(in InvitationInput) string {
	return bullets("invitation "+code(in.InvitationID)+" from org "+code(in.MasterOrgID),
		"expires "+in.ExpiresAt.UTC().Format(time.RFC3339)+" unless accepted, declined or revoked (each an Update)",
		"status: the `status` query; the org's list: `GET /v1/orgs/"+in.MasterOrgID+"/invitations`")
}

// invitationNow is an invitation's current details for its status.
func invitationNow(status string, link *InvitationLink) string {
	if status == domain.InviteAccepted && link != nil {
		return "**Accepted**: org " + code(link.SubOrgID) + " is now a sub-agency of " + code(link.MasterOrgID)
	}
	if status == domain.InvitePending {
		return "**Waiting** for the invitee's answer"
	}
	return "**" + status + "**"
}

// TransferSummary is a transfer run's one line.
func TransferSummary(total int, mode domain.TransferMode, n domain.RunNames) string {
	return oneLine(fmt.Sprintf("Transfer of %d leads %s → %s (%s)", total, orgName(n.Org, n.OrgID), orgName(n.ToOrg, n.ToOrgID), mode))
}

// TransferDetails are a transfer run's ids and where to look further.
func TransferDetails(in TransferInput, n domain.RunNames) string {
	return bullets("transfer "+code(in.TransferID)+" from org "+code(n.OrgID)+" to org "+code(n.ToOrgID)+", mode "+string(in.Mode),
		fmt.Sprintf("%d leads in batches of %d, one transaction each", in.Total, TransferBatchSize),
		"progress: the `progress` query, or `GET /v1/orgs/"+n.OrgID+"/transfers/"+in.TransferID+"` (failures with reasons)")
}

func transferNow(p TransferProgress, batch, batches int) string {
	if p.Done {
		return fmt.Sprintf("**Done**: %d of %d leads moved, %d failed (reasons: the transfer's API answer)", p.Transferred, p.Total, p.Failed)
	}
	return fmt.Sprintf("**Moving**: %d of %d leads moved, %d failed; batch %d of %d", p.Transferred, p.Total, p.Failed, batch, batches)
}

// HandoverSummary is the one line of a handed-over lead's review run.
func HandoverSummary(n domain.RunNames) string {
	return oneLine("Handover of lead " + text(n.ExternalID, maxExternalRune, n.LeadID) + " " + orgName(n.Org, n.OrgID) + " → " +
		orgName(n.ToOrg, n.ToOrgID) + ": waiting for a manager's review")
}

// HandoverDetails are a handover run's ids and how its review is answered.
func HandoverDetails(in HandoverInput) string {
	return bullets("lead "+code(in.LeadID)+", transfer "+code(in.TransferID)+" from org "+code(in.FromOrgID)+" to org "+code(in.ToOrgID),
		"a manager of the receiving org answers: `POST /v1/leads/"+in.LeadID+"/handover/accept` or `…/reject`",
		"no answer in "+domain.HandoverTTL.String()+": back with the sender")
}

// RerouteSummary is a reroute run's one line: the user by id.
func RerouteSummary(in RerouteInput, orgNameText string) string {
	return oneLine("Reroute of deactivated user " + code(in.UserID) + "'s team-owned leads at " + orgName(orgNameText, in.OrgID))
}

// RerouteDetails are a reroute run's ids and what it does.
func RerouteDetails(in RerouteInput) string {
	return bullets("user "+code(in.UserID)+" of org "+code(in.OrgID)+", deactivation "+strconv.Itoa(in.Deactivation),
		"team-owned leads go back through their source's routing; agent-owned ones stay",
		"progress: the `progress` query")
}

func rerouteNow(r RerouteResult, done bool) string {
	state := "**Rerouting**"
	switch {
	case r.Reactivated:
		state = "**Stopped**: the user was reactivated;"
	case done:
		state = "**Done**:"
	}
	return fmt.Sprintf("%s %d leads rerouted, %d skipped, %d pages", state, r.Rerouted, r.Skipped, r.Batches)
}

// ClaimSummary is a claim run's one line: the claimer by user id.
func ClaimSummary(in ClaimInput, userID string, n domain.RunNames) string {
	return oneLine(fmt.Sprintf("Claim %d of lead %s at %s by user %s", in.Seq, text(n.ExternalID, maxExternalRune, in.LeadID),
		orgName(n.Org, in.OrgID), code(userID)))
}

// ClaimDetails are a claim run's ids and when its window ends.
func ClaimDetails(in ClaimInput) string {
	return bullets("lead "+code(in.LeadID)+" of org "+code(in.OrgID)+", claim "+strconv.Itoa(in.Seq),
		"window ends "+in.Deadline.UTC().Format(time.RFC3339)+": back in the queue unless worked, released or made invalid",
		"the claim and the lead's timeline: `GET /v1/leads/"+in.LeadID+"`")
}

// ReturnSummary is a return run's one line.
func ReturnSummary(in ReturnInput, n domain.RunNames) string {
	src := text(n.Source, maxNameRunes, n.Slug)
	return oneLine("Return of lead " + text(n.ExternalID, maxExternalRune, in.LeadID) + " to the vendor of " + src + ", by " +
		orgName(n.Org, in.OrgID))
}

// ReturnDetails are a return run's ids and where to look further.
func ReturnDetails(in ReturnInput) string {
	return bullets("lead "+code(in.LeadID)+", returned by org "+code(in.OrgID),
		"emails the source's return addresses once each; the reason stays in PostgreSQL",
		"the return and its emails: `GET /v1/leads/"+in.LeadID+"`")
}

// DistributionSummary is a distribution run's (or schedule's) one line:
// schedule is its name, or "" on demand.
func DistributionSummary(mode domain.RoutingMode, schedule string, n domain.RunNames) string {
	how := "on demand"
	if schedule != "" {
		how = "schedule " + text(schedule, maxNameRunes, "")
	}
	src := text(n.Source, maxNameRunes, n.Slug)
	return oneLine("Distribute pending " + src + " leads of " + orgName(n.Org, n.OrgID) + " (" + string(mode) + "), " + how)
}

// DistributionDetails are a distribution's ids and where to look further.
func DistributionDetails(orgID, slug string, mode domain.RoutingMode) string {
	return bullets("org "+code(orgID)+", source "+code(slug)+", mode "+string(mode),
		fmt.Sprintf("pending leads in batches of %d, one transaction each; once per slot", DistributeBatchSize),
		"progress: the `progress` query; the org's distributions: `OrgID = \""+orgID+"\" AND WorkflowType = \"DistributeWorkflow\"`")
}

func distributionNow(r DistributeResult) string {
	state := "**Distributing**"
	if r.Done {
		state = "**Done**"
	}
	if r.AlreadyDone {
		state = "**Already distributed** by an earlier run"
	}
	return fmt.Sprintf("%s: %d assigned, %d passed down to sub-agencies, of %d pending; %d batches", state, r.Distributed,
		r.PassedDown, r.Total, r.Batches)
}

// SignInSummary is a sign-in link run's summary: it names no one, since a
// link belongs to an address, which a history must not hold.
func SignInSummary() string { return "Console sign-in link email" }

// SignInDetails are a sign-in run's ids and where to look further.
func SignInDetails(in SignInInput) string {
	return bullets("sign-in link "+code(in.LinkID)+" (`signin_links`), valid "+SignInLinkTTL.String(),
		"the email: outbox key "+code("signin:"+in.LinkID)+" in `email_deliveries`")
}

// AlertSummary is an instant alert run's one line. It names the assignee by
// id only: a person's name is their data, not a business name.
func AlertSummary(in AlertInput, n domain.RunNames) string {
	src := text(n.Source, maxNameRunes, n.Slug)
	return oneLine("Instant alert: lead " + text(n.ExternalID, maxExternalRune, in.LeadID) + " of " + src +
		" assigned to user " + in.UserID + " in " + orgName(n.Org, in.OrgID))
}

// AlertDetails are an alert run's ids and where to look further.
func AlertDetails(in AlertInput) string {
	return bullets("lead "+code(in.LeadID)+", alert "+code(strconv.FormatInt(in.AlertID, 10))+", user "+code(in.UserID),
		"emails the assignee once, unless they turned instant alerts off before it went out",
		"the lead and its timeline: `GET /v1/leads/"+in.LeadID+"`")
}

// SLASummary is an SLA run's one line, the first assignee by id.
func SLASummary(in SLAInput, userID string, n domain.RunNames) string {
	src := text(n.Source, maxNameRunes, n.Slug)
	return oneLine("SLA of lead " + text(n.ExternalID, maxExternalRune, in.LeadID) + " of " + src + " in " + orgName(n.Org, in.OrgID) +
		", assigned to user " + userID)
}

// SLADetails are an SLA run's ids and where to look further.
func SLADetails(in SLAInput) string {
	return bullets("lead "+code(in.LeadID)+", SLA "+code(strconv.FormatInt(in.SLAID, 10))+" (`lead_slas`)",
		"escalates at each deadline the lead is not worked; worked, returned, moved or given to someone else stops it",
		"each step on the lead's timeline: `GET /v1/leads/"+in.LeadID+"`")
}

// WebhookSummary is a webhook run's one line in the Temporal UI.
func WebhookSummary(in WebhookInput, n domain.RunNames) string {
	return oneLine("Webhooks: lead " + text(n.ExternalID, maxExternalRune, in.LeadID) + " of " +
		text(n.Source, maxNameRunes, n.Slug) + " to endpoint " + in.EndpointID + " of " + orgName(n.Org, in.OrgID))
}

// WebhookDetails are a webhook run's ids and where to look further.
func WebhookDetails(in WebhookInput) string {
	return bullets("lead "+code(in.LeadID)+", endpoint "+code(in.EndpointID),
		"sends the lead's events to the endpoint in order, each retried for up to a day",
		"the delivery log: `GET /v1/orgs/"+in.OrgID+"/webhooks/"+in.EndpointID+"`")
}
