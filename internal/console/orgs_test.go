package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/store"
)

func (h *harness) settings(t *testing.T, org string) store.OrgSettings {
	t.Helper()
	o, err := h.store.GetOrgSettings(context.Background(), org)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func settingsPost(b *browser, name, tz, window string, handover, crossSilo bool) url.Values {
	f := url.Values{"csrf": {b.csrf("/app/account")}, "name": {name}, "timezone": {tz}, "claim_window": {window}}
	if handover {
		f.Set("handover_enabled", "on")
	}
	if crossSilo {
		f.Set("cross_silo", "on")
	}
	return f
}

func TestAccountSettingsAreSavedAndShown(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	o, owner := h.org(t, "Settings Agency")
	b := h.signedIn(t, owner)
	p := b.post("/app/account/settings", settingsPost(b, "Settings Agency West", "America/Denver", "45m", true, true))
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/app/account?done=settings-saved#settings" {
		t.Fatalf("saving settings: %d to %q\n%s", p.status, p.header.Get("Location"), p.body)
	}
	got := h.settings(t, o.ID)
	if got.Name != "Settings Agency West" || got.Timezone != "America/Denver" || got.ClaimWindow != 45*time.Minute || !got.HandoverEnabled || !got.CrossSilo {
		t.Fatalf("saved settings: %+v", got)
	}
	page := b.get("/app/account?done=settings-saved")
	for _, want := range []string{"Settings saved.", `value="Settings Agency West"`, `value="America/Denver"`, `value="45m0s"`,
		`name="handover_enabled" checked`, `name="cross_silo" checked`} {
		if !strings.Contains(page.body, want) {
			t.Errorf("the account page after saving lacks %q", want)
		}
	}
	// Unticked boxes turn the settings off again.
	if p := b.post("/app/account/settings", settingsPost(b, "Settings Agency West", "America/Denver", "45m", false, false)); p.status != http.StatusSeeOther {
		t.Fatalf("saving settings again: %d\n%s", p.status, p.body)
	}
	if got := h.settings(t, o.ID); got.HandoverEnabled || got.CrossSilo {
		t.Fatalf("unticked boxes left handover %v, cross-silo %v", got.HandoverEnabled, got.CrossSilo)
	}
}

func TestABadTimezoneIsShownNextToItsFieldAndNothingIsSaved(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	o, owner := h.org(t, "Timezone Agency")
	before := h.settings(t, o.ID)
	b := h.signedIn(t, owner)
	p := b.post("/app/account/settings", settingsPost(b, "Renamed Agency", "Mars/Olympus_Mons", "2h", true, false))
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("a bad time zone: %d, want 422\n%s", p.status, p.body)
	}
	want := `<p class="field-error" id="timezone-err">` + domain.TimezoneRule + `</p>`
	if !strings.Contains(p.body, want) {
		t.Fatalf("the page does not say %q next to the time zone:\n%s", want, p.body)
	}
	if !strings.Contains(p.body, `aria-describedby="timezone-hint timezone-err" aria-invalid="true"`) {
		t.Errorf("the time zone field is not marked invalid and tied to its error")
	}
	for _, typed := range []string{`value="Renamed Agency"`, `value="Mars/Olympus_Mons"`, `value="2h"`, `name="handover_enabled" checked`} {
		if !strings.Contains(p.body, typed) {
			t.Errorf("the refused form lost what was typed: no %q", typed)
		}
	}
	if !strings.Contains(p.body, "Nothing was changed. Check the fields marked below.") {
		t.Errorf("the page does not say that nothing was saved")
	}
	if strings.Contains(p.body, `id="name-err"`) {
		t.Errorf("the name, which was fine, is shown as refused")
	}
	if after := h.settings(t, o.ID); after != before {
		t.Fatalf("a refused form changed the org: %+v, was %+v", after, before)
	}
}

func TestManagersAndStaffSeeSettingsReadOnlyAndTheAPIRefusesAForgedForm(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	o, _ := h.org(t, "Readonly Agency")
	before := h.settings(t, o.ID)
	for _, role := range []domain.Role{domain.RoleManager, domain.RoleStaff} {
		u := h.user(t, o.ID, role, "Reader "+string(role))
		b := h.signedIn(t, u)
		page := b.get("/app/account")
		if page.status != 200 {
			t.Fatalf("%s opens the account page: %d\n%s", role, page.status, page.body)
		}
		if strings.Contains(page.body, `action="/app/account/settings"`) || strings.Contains(page.body, `id="timezone"`) {
			t.Errorf("%s is shown the settings form", role)
		}
		if !strings.Contains(page.body, "<dt>Time zone</dt><dd>America/Chicago</dd>") {
			t.Errorf("%s does not see the time zone read-only", role)
		}
		p := b.post("/app/account/settings", settingsPost(b, "Hijacked", "UTC", "1h", true, true))
		if p.status != http.StatusForbidden || !strings.Contains(p.body, "only the org&#39;s owner or an admin may do this") {
			t.Fatalf("a %s's forged settings form: %d, want 403 with the API's words\n%s", role, p.status, p.body)
		}
	}
	if after := h.settings(t, o.ID); after != before {
		t.Fatalf("refused forms changed the org: %+v, was %+v", after, before)
	}
}

// The settings form keeps closed leads' history for the days typed, or for
// ever when the field is empty; a value out of bounds is named next to the
// field and nothing is saved.
func TestAccountRetentionIsSavedClearedAndRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	o, owner := h.org(t, "Retention Agency")
	b := h.signedIn(t, owner)
	save := func(days string) page {
		f := settingsPost(b, "Retention Agency", "UTC", "30m", false, false)
		f.Set("retention_days", days)
		return b.post("/app/account/settings", f)
	}
	if p := save("365"); p.status != http.StatusSeeOther {
		t.Fatalf("saving 365 days: %d\n%s", p.status, p.body)
	}
	if got := h.settings(t, o.ID).RetentionDays; got == nil || *got != 365 {
		t.Fatalf("saved retention %v, want 365", got)
	}
	if page := b.get("/app/account"); !strings.Contains(page.body, `name="retention_days" value="365"`) {
		t.Errorf("the account page does not show 365 days")
	}
	for _, bad := range []string{"7", "ninety"} {
		p := save(bad)
		if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, `id="retention_days-err"`) {
			t.Errorf("retention %q: %d, want 422 with the error next to the field\n%s", bad, p.status, p.body)
		}
		if got := h.settings(t, o.ID).RetentionDays; got == nil || *got != 365 {
			t.Errorf("a refused retention %q changed it to %v", bad, got)
		}
	}
	if p := save(""); p.status != http.StatusSeeOther {
		t.Fatalf("clearing retention: %d\n%s", p.status, p.body)
	}
	if got := h.settings(t, o.ID).RetentionDays; got != nil {
		t.Fatalf("an empty field kept retention %d, want for ever", *got)
	}
}
