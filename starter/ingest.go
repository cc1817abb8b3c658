package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/leadrelay/leadrelay/internal/config"
	"github.com/leadrelay/leadrelay/internal/ingest"
)

func runIngest(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	key := fs.String("key", "", "vendor key of the source to post to (required)")
	file := fs.String("file", "", "CSV (with a header row) or JSON-lines file (required)")
	url := fs.String("url", "", "API base URL (default http://$HTTP_ADDR)")
	conc := fs.Int("concurrency", 8, "posts in flight")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *key == "" || *file == "" {
		return errors.New("--key and --file are required")
	}
	if *url == "" {
		cfg, err := config.Load(nil)
		if err != nil {
			return err
		}
		*url = "http://" + cfg.HTTPAddr
	}
	bar := newBar()
	sum, err := ingest.Run(ctx, ingest.Options{URL: strings.TrimRight(*url, "/"), Key: *key, File: *file, Concurrency: *conc, Progress: bar.update})
	bar.finish()
	if sum.Total > 0 {
		fmt.Printf("%d leads in %.1fs (%.0f/s): %d accepted, %d duplicate, %d rejected\n", sum.Total, sum.Elapsed.Seconds(),
			float64(sum.Total)/sum.Elapsed.Seconds(), sum.Accepted, sum.Duplicate, sum.RejectedCount())
		reasons := make([]string, 0, len(sum.Rejected))
		for r := range sum.Rejected {
			reasons = append(reasons, r)
		}
		sort.Slice(reasons, func(i, j int) bool { return len(sum.Rejected[reasons[i]]) > len(sum.Rejected[reasons[j]]) })
		for _, r := range reasons {
			lines := sum.Rejected[r]
			more := ""
			if len(lines) > 10 {
				lines, more = lines[:10], ", …"
			}
			fmt.Printf("  %5d × %s (lines %s%s)\n", len(sum.Rejected[r]), r, joinInts(lines), more)
		}
	}
	if err != nil {
		return err
	}
	if n := sum.RejectedCount(); n > 0 {
		return fmt.Errorf("%d leads rejected", n)
	}
	return nil
}

// bar draws a progress bar on stderr, at most every 100 ms.
type bar struct {
	mu    sync.Mutex
	start time.Time
	last  time.Time
	done  int
	total int
}

func newBar() *bar { return &bar{start: time.Now()} }

func (b *bar) update(done, total int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done, b.total = max(b.done, done), total
	if time.Since(b.last) > 100*time.Millisecond || done == total {
		b.last = time.Now()
		b.draw()
	}
}

func (b *bar) draw() {
	if b.total == 0 {
		return
	}
	const w = 30
	fill := b.done * w / b.total
	rate := float64(b.done) / max(time.Since(b.start).Seconds(), 0.001)
	fmt.Fprintf(os.Stderr, "\r[%s%s] %d/%d %3d%% %6.0f/s", strings.Repeat("#", fill), strings.Repeat(".", w-fill),
		b.done, b.total, b.done*100/b.total, rate)
}

func (b *bar) finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.total > 0 {
		b.draw()
		fmt.Fprintln(os.Stderr)
	}
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}
