package e2e

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"go.temporal.io/api/serviceerror"

	"github.com/leadrelay/leadrelay/workflows"
)

// exists reports whether the current page has an element matching sel.
func (p *visitor) exists(sel string) bool {
	p.t.Helper()
	ok, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](`document.querySelector(`+"`"+sel+"`"+`) !== null`))
	if err != nil {
		p.t.Fatalf("looking for %s: %v", sel, err)
	}
	return ok
}

// submitted clicks sel, a form's button, and waits for the redirect that
// says done.
func (p *visitor) submitted(sel, done string) {
	p.t.Helper()
	p.do(chromedp.Click(sel))
	waitFor(p.t, 20*time.Second, "the page after "+sel, func() bool { return strings.Contains(p.location(), "done="+done) })
	p.do(chromedp.WaitReady("main"))
}

// TestConsoleTimedDistribution: an owner creates a schedule for a source
// from the schedules page, sees it with a next run, runs it now and the
// source's pending leads are distributed (read through the API), pauses it
// (the page and Temporal agree), and deletes it after the confirmation; a
// staff user sees the list without form or buttons. Every page passes axe.
// The feed page shows a transfer of the distributed leads to a sub-agency.
func TestConsoleTimedDistribution(t *testing.T) {
	s := up(t)
	ctx := context.Background()
	tn, ids := s.pendingTenant(t, "consolesched", 2, 4)
	org := tn.id
	row := `[id="schedule-everquote.console"]`
	schedID := workflows.DistributionScheduleID(org, "everquote", "console")

	owner := s.signedInAs(t, tn.ownerID, "owner@consolesched.test")
	owner.open("/app/schedules")
	if h := owner.text("h1"); h != "Timed distributions" {
		t.Fatalf("heading %q", h)
	}
	owner.accessible()
	// A refusal first: shown next to its field, nothing created.
	owner.do(chromedp.SetValue("#name", "console"), chromedp.SetValue("#at", "9am"))
	owner.do(chromedp.Click(`form[action="/app/schedules"] button[type=submit]`))
	owner.do(chromedp.WaitVisible("#at-err"))
	if msg := owner.text("#at-err"); !strings.Contains(msg, "HH:MM") {
		t.Fatalf("the refusal of at: %q", msg)
	}
	owner.accessible()
	owner.do(chromedp.SetValue("#name", "console"), chromedp.SetValue("#at", "09:00"), chromedp.SetValue("#days", "mon-fri"))
	owner.submitted(`form[action="/app/schedules"] button[type=submit]`, "schedule-saved")
	waitFor(t, 20*time.Second, "the new schedule in the list", func() bool {
		owner.open("/app/schedules")
		return owner.exists(row)
	})
	if next := owner.text(row + " .next-run"); !strings.Contains(next, "UTC") {
		t.Fatalf("the next run shown: %q", next)
	}
	if when := owner.text(row); !strings.Contains(when, "at 09:00, Monday to Friday (America/Chicago)") {
		t.Fatalf("the row: %q", when)
	}
	r := s.do(t, "GET", "/v1/orgs/"+org+"/schedules", tn.ownerToken, nil)
	list, _ := r.body["schedules"].([]any)
	if r.status != 200 || len(list) != 1 || len(list[0].(map[string]any)["next_runs"].([]any)) == 0 {
		t.Fatalf("the API's list: %d %s", r.status, r.raw)
	}

	// Run now: the pending leads go out evenly among the staff.
	owner.submitted(row+` form[action$="/trigger"] button`, "schedule-triggered")
	owner.accessible()
	waitFor(t, 60*time.Second, "the pending leads distributed", func() bool {
		for _, id := range ids {
			if a, _ := s.timeline(t, tn, id); a == "" {
				return false
			}
		}
		return true
	})

	// Pause: the page says so, and so does Temporal.
	owner.submitted(row+` form[action$="/pause"] button`, "schedule-paused")
	waitFor(t, 10*time.Second, "the row shown paused", func() bool {
		return strings.Contains(owner.text(row+" .state"), "Paused")
	})
	d, err := s.deps.Temporal.ScheduleClient().GetHandle(ctx, schedID).Describe(ctx)
	if err != nil || d.Schedule.State == nil || !d.Schedule.State.Paused {
		t.Fatalf("Temporal's schedule after pause: %+v %v", d, err)
	}
	owner.shot("schedules")

	// A staff user reads the list, and nothing to press.
	staff := s.signedInAs(t, tn.staff[0], "staff@consolesched.test")
	staff.open("/app/schedules")
	if !staff.exists(row) || staff.exists(`form[action^="/app/schedules"]`) || staff.exists(`a[href*="delete="]`) {
		t.Fatalf("the staff user's page: %q", staff.text("main"))
	}
	staff.accessible()

	// Delete asks first.
	owner.do(chromedp.Click(row + ` a[href*="delete="]`))
	owner.do(chromedp.WaitVisible("#confirm-delete"))
	owner.accessible()
	owner.submitted("#confirm-delete", "schedule-deleted")
	var nf *serviceerror.NotFound
	if _, err := s.deps.Temporal.ScheduleClient().GetHandle(ctx, schedID).Describe(ctx); !errors.As(err, &nf) {
		t.Fatalf("Temporal's schedule after delete: %v", err)
	}
	waitFor(t, 20*time.Second, "the deleted schedule gone from the page", func() bool {
		owner.open("/app/schedules")
		return !owner.exists(row)
	})

	// The feed: two of the distributed leads transferred to a sub-agency.
	sub := s.newTenant(t, "consolesub", 1, nil)
	if err := s.store().LinkOrgs(ctx, org, sub.id); err != nil {
		t.Fatal(err)
	}
	if r := s.do(t, "POST", "/v1/orgs/"+org+"/transfers", tn.ownerToken, map[string]any{"to_org": sub.id, "lead_ids": ids[:2], "mode": "owner"}); r.status != 202 {
		t.Fatalf("transfer: %d %s", r.status, r.raw)
	}
	waitFor(t, 30*time.Second, "the transfer in the feed", func() bool {
		r := s.do(t, "GET", "/v1/orgs/"+org+"/feed", tn.ownerToken, nil)
		ev, _ := r.body["events"].([]any)
		return len(ev) == 2
	})
	owner.open("/app/feed")
	if txt := owner.text("table.feed tbody"); strings.Count(txt, "Transferred out") != 2 || !strings.Contains(txt, "to consolesub") {
		t.Fatalf("the feed page: %q", txt)
	}
	if !owner.exists(`table.feed a[href="/app/leads/` + ids[0] + `"]`) {
		t.Fatalf("the feed does not link lead %s", ids[0])
	}
	owner.accessible()
	owner.shot("feed")
}
