package console

import (
	"context"
	"net/http"
	"testing"

	"github.com/leadrelay/leadrelay/internal/domain"
)

// The source page and the routing rules editor each save the whole source:
// an SLA set through the API stays as it was.
func TestSourceSavesKeepTheSLA(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	o, owner := h.org(t, "SLA Agency")
	sla := domain.SLA{Within: "20m", MaxEscalations: 3, Fallback: domain.SLAFallbackPending}
	h.putSource(t, o.ID, "everquote", domain.SourceConfig{Name: "EverQuote", Routing: domain.Routing{Mode: domain.RouteOwner}, SLA: &sla})
	b := h.signedIn(t, owner)
	path := "/app/sources/everquote"
	for _, save := range []struct {
		what string
		post func() page
	}{
		{"the source form", func() page { return b.post(path, sourceFormValues(b.csrf(path), "name", "EverQuote Direct")) }},
		{"the rules editor", func() page { return b.post(path+"/rules", rulesValues(b.csrf(path), "save")) }},
	} {
		p := save.post()
		if p.status != http.StatusSeeOther {
			t.Fatalf("saving %s: %d\n%s", save.what, p.status, p.body)
		}
		src, err := h.store.GetSourceBySlug(context.Background(), o.ID, "everquote")
		if err != nil || src.SLA == nil || *src.SLA != sla {
			t.Fatalf("after saving %s the SLA is %+v (%v), want %+v", save.what, src.SLA, err, sla)
		}
	}
}
