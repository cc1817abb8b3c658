package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leadrelay/leadrelay/internal/ingest"
	"github.com/leadrelay/leadrelay/internal/store"
)

func TestIngestCSVAndJSONLines(t *testing.T) {
	s := up(t)
	tn := s.newTenant(t, "ingest", 2, map[string]any{"name": "EverQuote", "routing": map[string]any{"mode": "staff_evenly"}})
	dir := t.TempDir()
	csvFile := filepath.Join(dir, "leads.csv")
	writeFile(t, csvFile, strings.Join([]string{
		"external_id,first_name,last_name,email,phone,city,labels,attr.vehicle",
		"c1,Ada,Lovelace,ada@example.com,,London,auto;hot,Civic",
		"c2,Alan,Turing,,+44 20 7946 0000,Wilmslow,,",
		"c3,Grace,Hopper,grace@example.com,,,,",
		"c1,Ada,Again,ada@example.com,,,,",
		",No,Id,x@example.com,,,,",
		"c5,No,Contact,,,,,",
		"c6,Bad,Email,not-an-email,,,,",
	}, "\n"))
	sum, err := ingest.Run(context.Background(), ingest.Options{URL: s.api.URL, Key: tn.vendorKey, File: csvFile, Concurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Total != 7 || sum.Accepted != 3 || sum.Duplicate != 1 || sum.RejectedCount() != 3 {
		t.Fatalf("summary %+v", sum)
	}
	for reason, lines := range sum.Rejected {
		if !strings.HasPrefix(reason, "422 invalid lead;") {
			t.Errorf("reason %q for lines %v does not say why", reason, lines)
		}
	}
	s.waitRouted(t, tn.sourceID, 3)
	leads, _, err := s.store().ListLeads(context.Background(), tn.id, store.LeadFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, l := range leads {
		if l.ExternalID == "c1" {
			if l.Address.City != "London" || l.Attributes["vehicle"] != "Civic" || strings.Join(l.Labels, ",") != "auto,hot" {
				t.Fatalf("CSV columns not carried: %+v", l)
			}
			found = true
		}
	}
	if !found {
		t.Fatal("lead c1 not found")
	}

	jl := filepath.Join(dir, "leads.jsonl")
	writeFile(t, jl, `{"external_id":"j1","email":"j1@example.com"}
{"external_id":"j2","phone":"+1 312 555 0101","color":"red"}

{"external_id":"c2","phone":"+44 20 7946 0000"}
`)
	sum, err = ingest.Run(context.Background(), ingest.Options{URL: s.api.URL, Key: tn.vendorKey, File: jl, Concurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Total != 3 || sum.Accepted != 1 || sum.Duplicate != 1 || len(sum.Rejected) != 1 {
		t.Fatalf("summary %+v", sum)
	}
	for reason, lines := range sum.Rejected {
		if !strings.Contains(reason, "color: unknown field") || lines[0] != 2 {
			t.Fatalf("rejected %q at %v", reason, lines)
		}
	}

	bad := filepath.Join(dir, "bad.csv")
	writeFile(t, bad, "external_id,favourite_color\nx,red\n")
	if _, err := ingest.Run(context.Background(), ingest.Options{URL: s.api.URL, Key: tn.vendorKey, File: bad}); err == nil ||
		!strings.Contains(err.Error(), `unknown column "favourite_color"`) {
		t.Fatalf("unknown CSV column: %v", err)
	}
}

// writeFile writes a file for ingest to read; a test that cannot write it
// would only fail later with a confusing error.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
