// Package ingest posts a file of leads (CSV with a header row, or JSON lines)
// to the API, the way a vendor would: waiting out 429s, retrying 5xx, and
// counting what was accepted, duplicate and rejected, with reasons.
package ingest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/leadrelay/leadrelay/internal/apiclient"
)

// Options name the file and the vendor key to post it with; Concurrency
// bounds the posts in flight (below 1 means 1).
type Options struct {
	URL         string // API base
	Key         string // vendor key
	File        string
	Concurrency int
	Progress    func(done, total int) // called as posts finish; may be nil
}

// Summary counts the outcome; Rejected maps a reason to its line numbers.
type Summary struct {
	Total, Accepted, Duplicate int
	Rejected                   map[string][]int
	Elapsed                    time.Duration
}

// RejectedCount is the number of rejected lines, whatever the reason.
func (s Summary) RejectedCount() int {
	n := 0
	for _, l := range s.Rejected {
		n += len(l)
	}
	return n
}

// Run posts every lead of the file. It stops early only when ctx ends.
func Run(ctx context.Context, o Options) (Summary, error) {
	rows, err := readLeads(o.File)
	if err != nil {
		return Summary{}, err
	}
	if len(rows) == 0 {
		return Summary{}, fmt.Errorf("%s holds no leads", o.File)
	}
	var accepted, duplicate, done atomic.Int64
	var mu sync.Mutex
	sum := Summary{Total: len(rows), Rejected: map[string][]int{}}
	start := time.Now()
	work := make(chan row)
	var wg sync.WaitGroup
	vendor := &apiclient.Client{Base: o.URL, Token: o.Key}
	for i := 0; i < max(1, o.Concurrency); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range work {
				dup, reason := postOne(ctx, vendor, r.body)
				switch {
				case reason == "" && !dup:
					accepted.Add(1)
				case reason == "":
					duplicate.Add(1)
				default:
					mu.Lock()
					sum.Rejected[reason] = append(sum.Rejected[reason], r.line)
					mu.Unlock()
				}
				n := done.Add(1)
				if o.Progress != nil {
					o.Progress(int(n), len(rows))
				}
			}
		}()
	}
feed:
	for _, r := range rows {
		select {
		case work <- r:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	for _, l := range sum.Rejected {
		sort.Ints(l)
	}
	sum.Accepted, sum.Duplicate, sum.Elapsed = int(accepted.Load()), int(duplicate.Load()), time.Since(start)
	if ctx.Err() != nil {
		return sum, fmt.Errorf("interrupted after %d of %d", done.Load(), len(rows))
	}
	return sum, nil
}

// csvColumns maps CSV headers to lead body fields; attr.NAME columns become
// attributes and labels split on ';'.
var csvColumns = map[string]string{
	"external_id": "external_id", "first_name": "first_name", "last_name": "last_name", "email": "email",
	"phone": "phone", "company": "company", "rating": "rating", "notes": "notes", "location": "location",
	"street": "address.street", "city": "address.city", "state": "address.state", "postal_code": "address.postal_code",
	"labels": "labels",
}

type row struct {
	line int
	body []byte
}

// postOne posts a lead, waiting out 429s and retrying 5xx and network
// errors; reason is "" when the API took the lead (new or a repeat). A repeat
// answered to a retry is this file's own first attempt, recorded before its
// answer was lost (a 503 "recorded but routing could not start", a dropped
// connection): it counts as accepted, not as a duplicate.
func postOne(ctx context.Context, vendor *apiclient.Client, body []byte) (duplicate bool, reason string) {
	var last string
	retried := false
	for attempt := 0; attempt < 8; attempt++ {
		dup, err := vendor.PostLead(ctx, body)
		var ae *apiclient.Error
		switch {
		case err == nil:
			return dup && !retried, ""
		case ctx.Err() != nil:
			return false, "interrupted"
		case errors.As(err, &ae) && ae.Status == http.StatusTooManyRequests:
			time.Sleep(max(ae.RetryAfter, time.Second))
			attempt--
			continue
		case errors.As(err, &ae) && ae.Status < 500:
			return false, ae.Error()
		}
		last, retried = err.Error(), true
		time.Sleep(time.Duration(attempt+1) * 500 * time.Millisecond)
	}
	return false, "gave up: " + last
}

func readLeads(path string) ([]row, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	ext := strings.ToLower(filepath.Ext(path))
	jsonl := ext == ".jsonl" || ext == ".ndjson" || ext == ".json" || (ext != ".csv" && bytes.HasPrefix(bytes.TrimSpace(b), []byte("{")))
	if jsonl {
		var rows []row
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for n := 1; sc.Scan(); n++ {
			if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
				rows = append(rows, row{n, append([]byte(nil), line...)})
			}
		}
		return rows, sc.Err()
	}
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: no CSV header: %w", path, err)
	}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		header[i] = h
		if _, ok := csvColumns[h]; !ok && !strings.HasPrefix(h, "attr.") {
			return nil, fmt.Errorf("%s: unknown column %q (known: external_id, first_name, last_name, email, phone, company, rating, notes, street, city, state, postal_code, labels, location, attr.NAME)", path, h)
		}
	}
	var rows []row
	for n := 2; ; n++ {
		rec, err := r.Read()
		if err == io.EOF {
			return rows, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		lead := map[string]any{}
		addr := map[string]string{}
		attrs := map[string]string{}
		for i, v := range rec {
			if i >= len(header) || v == "" {
				continue
			}
			h := header[i]
			switch f := csvColumns[h]; {
			case strings.HasPrefix(h, "attr."):
				attrs[strings.TrimPrefix(h, "attr.")] = v
			case f == "labels":
				var ls []string
				for _, l := range strings.Split(v, ";") {
					if l = strings.TrimSpace(l); l != "" {
						ls = append(ls, l)
					}
				}
				lead["labels"] = ls
			case strings.HasPrefix(f, "address."):
				addr[strings.TrimPrefix(f, "address.")] = v
			default:
				lead[f] = v
			}
		}
		if len(addr) > 0 {
			lead["address"] = addr
		}
		if len(attrs) > 0 {
			lead["attributes"] = attrs
		}
		body, _ := json.Marshal(lead)
		rows = append(rows, row{n, body})
	}
}
