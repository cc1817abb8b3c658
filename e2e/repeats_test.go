package e2e

import (
	"strings"
	"testing"
)

// TestRepeatLeadsGoToTheirPersonAcrossSources: a lead on source A (the
// queue) claimed by Rae; later leads on source B (staff_evenly over Rae and
// two others) with the same email in another case, or the same phone in
// other punctuation, answer repeat_of and go to Rae, and the timeline says
// why. With Rae paused a repeat goes through B's rules, the timeline naming
// her as skipped. Once the household's open leads are closed (Rae works
// the first; the others are marked invalid), a new lead is not a repeat.
func TestRepeatLeadsGoToTheirPersonAcrossSources(t *testing.T) {
	s := up(t)
	tn := s.newTenant(t, "repeats", 0, claimQueueSource) // source A: everquote, the queue
	rae, ben, cy := s.member(t, tn, "Rae Repeat", "staff"), s.member(t, tn, "Ben Other", "staff"), s.member(t, tn, "Cy Other", "staff")
	if r := s.do(t, "PATCH", "/v1/orgs/"+tn.id, tn.ownerToken, map[string]any{"repeat_lookback_days": 90}); r.status != 200 {
		t.Fatalf("repeat lookback on: %d %s", r.status, r.raw)
	}
	keyB, sourceB := s.putSource(t, tn, "web", map[string]any{"name": "Web", "routing": map[string]any{"mode": "staff_evenly"}})

	first := s.postLeads(t, tn.vendorKey, []map[string]any{{"external_id": "a-1", "first_name": "Pat",
		"email": "Pat.Household@Example.com", "phone": "+1 (312) 555-0142"}})[0]
	s.waitRouted(t, tn.sourceID, 1)
	if c := s.do(t, "POST", "/v1/orgs/"+tn.id+"/queue/claim", rae.token, nil); c.status != 200 || c.str("id") != first {
		t.Fatalf("claim: %d %s", c.status, c.raw)
	}

	post := func(ext, email, phone string) resp {
		t.Helper()
		body := map[string]any{"external_id": ext, "first_name": "Pat"}
		if email != "" {
			body["email"] = email
		}
		if phone != "" {
			body["phone"] = phone
		}
		r := s.do(t, "POST", "/v1/leads", keyB, body)
		if r.status != 202 {
			t.Fatalf("post %s: %d %s", ext, r.status, r.raw)
		}
		return r
	}
	routed := 0
	// Same email in other case; same phone in other punctuation. B's
	// rotation might pick Rae anyway: the timeline must name the repeat.
	for _, c := range []struct{ ext, email, phone string }{
		{"b-1", "pat.household@EXAMPLE.COM", "+1 415 555 0199"},
		{"b-2", "someone.else@example.com", "+1 312.555.0142"},
	} {
		r := post(c.ext, c.email, c.phone)
		if r.str("repeat_of") != first {
			t.Fatalf("%s: repeat_of %q, want %s: %s", c.ext, r.str("repeat_of"), first, r.raw)
		}
		routed++
		s.waitRouted(t, sourceB, routed)
		who, msgs := s.timeline(t, tn, r.str("lead_id"))
		text := strings.Join(msgs, "\n")
		if who != rae.id || !strings.Contains(text, "repeat of lead "+first) || !strings.Contains(text, rae.name) {
			t.Fatalf("%s went to %q, want Rae by the repeat:\n%s", c.ext, who, text)
		}
		if g := s.do(t, "GET", "/v1/leads/"+r.str("lead_id"), tn.ownerToken, nil); g.str("repeat_of") != first {
			t.Fatalf("GET %s: repeat_of %q", c.ext, g.str("repeat_of"))
		}
	}

	// Rae paused: the repeat goes through the rules, and says Rae was skipped.
	if r := s.do(t, "POST", "/v1/orgs/"+tn.id+"/users/"+rae.id+"/pause", rae.token, map[string]any{}); r.status != 200 || r.body["paused"] != true {
		t.Fatalf("pause: %d %s", r.status, r.raw)
	}
	away := post("b-3", "PAT.household@example.com", "")
	if away.str("repeat_of") == "" {
		t.Fatalf("b-3 is a repeat whoever is away: %s", away.raw)
	}
	routed++
	s.waitRouted(t, sourceB, routed)
	who, msgs := s.timeline(t, tn, away.str("lead_id"))
	text := strings.Join(msgs, "\n")
	// B has no rules before its default, so the timeline names the
	// rotation (staff_evenly), as before rules existed, not "default rule".
	if who == rae.id || who != ben.id && who != cy.id || !strings.Contains(text, "staff_evenly") ||
		!strings.Contains(text, "skipped "+rae.name+" (paused)") {
		t.Fatalf("a repeat while Rae is paused went to %q:\n%s", who, text)
	}
	if r := s.do(t, "POST", "/v1/orgs/"+tn.id+"/users/"+rae.id+"/resume", rae.token, nil); r.status != 200 || r.body["paused"] != false {
		t.Fatalf("resume: %d %s", r.status, r.raw)
	}

	// Close the household's open leads: Rae works hers (claimed: the only
	// kind "worked" applies to); the routed ones are marked invalid.
	if w := s.do(t, "POST", "/v1/leads/"+first+"/worked", rae.token, nil); w.status != 200 {
		t.Fatalf("worked: %d %s", w.status, w.raw)
	}
	var leads []string
	rows, err := s.deps.Pool.Query(t.Context(), `SELECT id FROM leads WHERE org_id = $1 AND id <> $2`, tn.id, first)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		leads = append(leads, id)
	}
	rows.Close()
	for _, id := range leads {
		if r := s.do(t, "POST", "/v1/leads/"+id+"/invalid", tn.ownerToken, map[string]any{"reason": "test: same household"}); r.status != 200 {
			t.Fatalf("invalid %s: %d %s", id, r.status, r.raw)
		}
	}
	fresh := post("b-4", "pat.household@example.com", "+1 312 555 0142")
	if _, ok := fresh.body["repeat_of"]; ok {
		t.Fatalf("a lead whose household has no open lead is a repeat: %s", fresh.raw)
	}
	routed++
	s.waitRouted(t, sourceB, routed)
	if _, msgs := s.timeline(t, tn, fresh.str("lead_id")); strings.Contains(strings.Join(msgs, "\n"), "repeat of") {
		t.Fatalf("timeline of a new lead says repeat:\n%s", strings.Join(msgs, "\n"))
	}
}
