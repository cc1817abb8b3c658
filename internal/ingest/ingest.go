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
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

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
	client := &http.Client{Timeout: 30 * time.Second}
	for i := 0; i < max(1, o.Concurrency); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range work {
				status, reason := postOne(ctx, client, o.URL, o.Key, r.body)
				switch {
				case status == 202:
					accepted.Add(1)
				case status == 200:
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

// postOne posts a lead, waiting out 429s and retrying 5xx and network errors.
func postOne(ctx context.Context, c *http.Client, base, key string, body []byte) (int, string) {
	var last string
	for attempt := 0; attempt < 8; attempt++ {
		req, _ := http.NewRequestWithContext(ctx, "POST", base+"/v1/leads", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		res, err := c.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return 0, "interrupted"
			}
			last = err.Error()
			time.Sleep(time.Duration(attempt+1) * 500 * time.Millisecond)
			continue
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		switch {
		case res.StatusCode == 429:
			wait, _ := strconv.Atoi(res.Header.Get("Retry-After"))
			time.Sleep(time.Duration(max(wait, 1)) * time.Second)
			attempt--
			continue
		case res.StatusCode >= 500:
			last = fmt.Sprintf("%d %s", res.StatusCode, errorText(b))
			time.Sleep(time.Duration(attempt+1) * 500 * time.Millisecond)
			continue
		case res.StatusCode == 200 || res.StatusCode == 202:
			return res.StatusCode, ""
		}
		return res.StatusCode, fmt.Sprintf("%d %s", res.StatusCode, errorText(b))
	}
	return 0, "gave up: " + last
}

func errorText(b []byte) string {
	var e struct {
		Error struct {
			Message string            `json:"message"`
			Fields  map[string]string `json:"fields"`
		} `json:"error"`
	}
	if json.Unmarshal(b, &e) != nil || e.Error.Message == "" {
		return strings.TrimSpace(string(b))
	}
	keys := make([]string, 0, len(e.Error.Fields))
	for k := range e.Error.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := []string{e.Error.Message}
	for _, k := range keys {
		parts = append(parts, k+": "+e.Error.Fields[k])
	}
	return strings.Join(parts, "; ")
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
