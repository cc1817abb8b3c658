package ingest_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/leadrelay/leadrelay/internal/ingest"
)

// A post answered 503 after the lead was recorded ("routing could not
// start"), then retried and answered duplicate:true, is this file's lead:
// accepted, not a duplicate. A lead already there before the file is one.
func TestRetriedPostAnsweredDuplicateCountsAsAccepted(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body [256]byte
		n, _ := r.Body.Read(body[:])
		key := string(body[:n])
		mu.Lock()
		seen[key]++
		count := seen[key]
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.Contains(key, `"old-`): // recorded before this file was posted
			w.WriteHeader(200)
			_, _ = w.Write([]byte(`{"lead_id":"x","workflow_id":"w","duplicate":true}`))
		case count == 1:
			w.WriteHeader(503)
			_, _ = w.Write([]byte(`{"error":{"code":"unavailable","message":"lead recorded but routing could not start: retry the same post"}}`))
		default:
			w.WriteHeader(200)
			_, _ = w.Write([]byte(`{"lead_id":"x","workflow_id":"w","duplicate":true}`))
		}
	}))
	defer srv.Close()
	file := filepath.Join(t.TempDir(), "leads.jsonl")
	if err := os.WriteFile(file, []byte(`{"external_id":"new-1","email":"a@b.example"}`+"\n"+`{"external_id":"old-2"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sum, err := ingest.Run(context.Background(), ingest.Options{URL: srv.URL, Key: "k", File: file, Concurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Accepted != 1 || sum.Duplicate != 1 {
		t.Fatalf("summary %+v: want the retried lead accepted and the old one a duplicate", sum)
	}
}
