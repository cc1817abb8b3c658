package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// addPerson adds a user of role to tn and returns their id and email (to
// sign in as them).
func (s *stack) addPerson(t *testing.T, tn tenant, name, role string) (id, email string) {
	t.Helper()
	email = fmt.Sprintf("%s-%d@people.example", strings.ToLower(strings.ReplaceAll(name, " ", ".")), time.Now().UnixNano())
	r := s.do(t, "POST", "/v1/orgs/"+tn.id+"/users", tn.ownerToken, map[string]any{"email": email, "name": name, "role": role})
	if r.status != 201 {
		t.Fatalf("create %s: %d %s", role, r.status, r.raw)
	}
	return r.str("id"), email
}

// userJSON is one user as GET …/users lists them.
func (s *stack) userJSON(t *testing.T, tn tenant, id string) map[string]any {
	t.Helper()
	r := s.do(t, "GET", "/v1/orgs/"+tn.id+"/users", tn.ownerToken, nil)
	users, _ := r.body["users"].([]any)
	for _, u := range users {
		if m := u.(map[string]any); m["id"] == id {
			return m
		}
	}
	t.Fatalf("user %s not listed: %d %s", id, r.status, r.raw)
	return nil
}

// TestConsoleGroupRuleRoutePreviewAndFairness: a manager makes a group of
// two Texas reps (weights 2 and 1); the owner adds a rule sending Texas
// leads to it, previews a Texas lead and reads who would get it (and that
// an Ohio lead goes by the default), posts three Texas leads, and reads
// the fairness table: the group's two members, their weights, and three
// leads between them.
func TestConsoleGroupRuleRoutePreviewAndFairness(t *testing.T) {
	s := up(t)
	tn := s.newTenant(t, "ConsoleRules", 0, map[string]any{"name": "EverQuote", "routing": map[string]any{"mode": "owner"}})
	ann, _ := s.addPerson(t, tn, "Ann Austin", "staff")
	ben, _ := s.addPerson(t, tn, "Ben Dallas", "staff")
	mgr, mgrEmail := s.addPerson(t, tn, "Mona Manager", "manager")

	// The manager makes the group.
	m := s.signedInAs(t, mgr, mgrEmail)
	m.open("/app/groups")
	m.accessible()
	m.do(chromedp.SendKeys("#g-name", "texas"), chromedp.Click("#m-"+ann), chromedp.SetValue("#w-"+ann, "2"),
		chromedp.Click("#m-"+ben), chromedp.Click("#save-group"))
	m.waitText(".flash", "group is saved")
	m.accessible()
	m.shot("group")
	r := s.do(t, "GET", "/v1/orgs/"+tn.id+"/groups", tn.ownerToken, nil)
	if r.status != 200 || !strings.Contains(string(r.raw), `"weight":2`) || !strings.Contains(string(r.raw), ben) {
		t.Fatalf("the group through the API: %d %s", r.status, r.raw)
	}

	// The owner adds the rule.
	p := s.signedInAs(t, tn.ownerID, ownerEmail(t, s, tn))
	p.open("/app/sources/everquote")
	p.do(chromedp.Click("#add-rule"), chromedp.WaitVisible("#r0-name"))
	p.do(chromedp.SendKeys("#r0-name", "Texas"), chromedp.SendKeys("#r0-state", "TX"), chromedp.SetValue("#r0-mode", "group"),
		chromedp.SetValue("#r0-group", "texas"), chromedp.Click("#save-rules"))
	// The page before the save has a .flash too (the added rule is not
	// saved yet): wait for the saved page's, not the one going away.
	p.waitText(".flash", "rules are saved")
	p.accessible()
	r = s.do(t, "GET", "/v1/orgs/"+tn.id+"/sources", tn.ownerToken, nil)
	if !strings.Contains(string(r.raw), `"group":"texas"`) || !strings.Contains(string(r.raw), `"TX"`) {
		t.Fatalf("the saved rule through the API: %s", r.raw)
	}

	// Preview a Texas lead, then an Ohio one.
	p.do(chromedp.SendKeys("#p-state", "TX"), chromedp.SendKeys("#p-email", "tex@example.com"),
		chromedp.Click("#preview-route"), chromedp.WaitVisible("#route-result"))
	if rule, to := p.text("#result-rule"), p.text("#result-to"); !strings.Contains(rule, "Texas") || (to != "Ann Austin" && to != "Ben Dallas") {
		t.Fatalf("the Texas preview: rule %q, to %q", rule, to)
	}
	p.accessible()
	p.shot("rules")
	p.do(chromedp.Clear("#p-state"), chromedp.SendKeys("#p-state", "OH"), chromedp.Click("#preview-route"), chromedp.WaitVisible("#route-result"))
	if rule := p.text("#result-rule"); !strings.Contains(rule, "default") {
		t.Fatalf("the Ohio preview matches %q, want the default rule", rule)
	}

	// Three Texas leads, then the fairness table.
	for i := 0; i < 3; i++ {
		l := lead(fmt.Sprintf("tx-%d-%d", i, time.Now().UnixNano()))
		l["email"] = fmt.Sprintf("tx%d-%d@example.com", i, time.Now().UnixNano())
		l["phone"] = ""
		l["address"] = map[string]any{"state": "TX", "city": "Austin"}
		if r := s.do(t, "POST", "/v1/leads", tn.vendorKey, l); r.status != 202 {
			t.Fatalf("post: %d %s", r.status, r.raw)
		}
	}
	s.waitRouted(t, tn.sourceID, 3)
	p.open("/app/sources/everquote?period=today")
	table := p.text("#fairness")
	for _, want := range []string{"texas", "Ann Austin", "Ben Dallas", "3 decisions"} {
		if !strings.Contains(table, want) {
			t.Fatalf("the fairness table lacks %q:\n%s", want, table)
		}
	}
	assigned, err := chromedp.Run(p.ctx, chromedp.Evaluate[int](`[...document.querySelectorAll("#fairness tbody tr")].reduce((n, tr) => n + Number(tr.cells[4].textContent), 0)`))
	if err != nil || assigned != 3 {
		t.Fatalf("the table's assigned column sums to %d (%v), want 3", assigned, err)
	}
	p.accessible()
	p.shot("fairness")
}

// TestConsoleRepPausesInOneClickAndManagerSetsHours: a rep pauses their
// leads with the header's button on the leads page, and resumes them the
// same way; a manager sets the rep's working hours and daily cap on the
// rep's page, and a span that cannot be read is refused next to the hours.
func TestConsoleRepPausesInOneClickAndManagerSetsHours(t *testing.T) {
	s := up(t)
	tn := s.newTenant(t, "ConsolePause", 0, nil)
	rep, repEmail := s.addPerson(t, tn, "Ray Rep", "staff")
	mgr, mgrEmail := s.addPerson(t, tn, "Mona Manager", "manager")

	p := s.signedInAs(t, rep, repEmail)
	p.open("/app/leads")
	if got := p.text("#my-pause"); got != "Pause my leads" {
		t.Fatalf("the header's button reads %q", got)
	}
	p.do(chromedp.Click("#my-pause"))
	p.waitText(".flash", "Paused")
	if !strings.Contains(p.location(), "/app/leads") {
		t.Fatalf("after pausing the rep is at %s, not back on the leads page", p.location())
	}
	if u := s.userJSON(t, tn, rep); u["paused"] != true {
		t.Fatalf("the rep is not paused: %v", u)
	}
	if got := p.text("#my-pause"); got != "Resume my leads" {
		t.Fatalf("paused, the header's button reads %q", got)
	}
	p.accessible()
	p.shot("paused")
	p.do(chromedp.Click("#my-pause"))
	p.waitText(".flash", "Resumed")
	if u := s.userJSON(t, tn, rep); u["paused"] != false {
		t.Fatalf("the rep is still paused: %v", u)
	}

	m := s.signedInAs(t, mgr, mgrEmail)
	m.open("/app/users/" + rep)
	m.accessible()
	m.do(chromedp.SendKeys("#working_hours", "mon tue\n"), chromedp.Click("#save-availability"), chromedp.WaitVisible("#working_hours-err"))
	m.accessible()
	m.do(chromedp.Clear("#working_hours"), chromedp.SendKeys("#working_hours", "mon, tue, wed, thu, fri 09:00-17:00"),
		chromedp.SendKeys("#daily_cap", "15"), chromedp.Click("#save-availability"))
	m.waitText(".flash", "Availability saved")
	u := s.userJSON(t, tn, rep)
	hours, _ := u["working_hours"].([]any)
	if len(hours) != 1 || fmt.Sprint(u["daily_cap"]) != "15" {
		t.Fatalf("after saving the hours: %v", u)
	}
	if span := hours[0].(map[string]any); span["from"] != "09:00" || span["to"] != "17:00" || len(span["days"].([]any)) != 5 {
		t.Fatalf("the saved span: %v", span)
	}
	m.accessible()
	m.shot("user")
}
