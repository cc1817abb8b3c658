package e2e

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/leadrelay/leadrelay/internal/domain"
)

// The console's browser tests share these helpers: a real Chromium signed
// in as one user, axe-core over each page it reads, and screenshots for
// docs/console.md.

//go:embed testdata/axe/axe.min.js
var axeSource string

// visitor is a Chromium window signed in to the console as one user.
type visitor struct {
	t    *testing.T
	s    *stack
	ctx  context.Context
	name string
}

// signedInAs opens a browser with a console session acting as userID,
// made as the sign-in link makes one (the link itself is tested by the
// sign-in test). The cookie is set from a page of the console's origin.
func (s *stack) signedInAs(t *testing.T, userID, email string) *visitor {
	t.Helper()
	ctx, cancel := browser(t)
	t.Cleanup(cancel)
	plain, hash := domain.NewToken("lrs_")
	if err := s.store().CreateSession(context.Background(), hash, email, userID, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	p := &visitor{t: t, s: s, ctx: ctx, name: email}
	// The first run starts the browser and must not have a timeout (it
	// would stop the browser with it); later steps each get one.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatal(err)
	}
	p.do(chromedp.Navigate(s.api.URL + "/app/static/console.css"))
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.cookie = "lr_session=`+plain+`; path=/"`)); err != nil {
		t.Fatal(err)
	}
	return p
}

// open navigates to a console path and waits for its main content.
func (p *visitor) open(path string) {
	p.t.Helper()
	p.do(chromedp.Navigate(p.s.api.URL+path), chromedp.WaitReady("main"))
}

// do runs browser actions, failing the test with a screenshot on error.
func (p *visitor) do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		loc, _ := chromedp.Run(p.ctx, chromedp.Location())
		shot := p.shot("failure-" + strings.ReplaceAll(p.t.Name(), "/", "_"))
		p.t.Fatalf("%s at %s: %v (screenshot %s)", p.name, loc, err, shot)
	}
}

// text is the visible text of the first element matching sel.
func (p *visitor) text(sel string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	for {
		s, err := chromedp.Run(ctx, chromedp.Text(sel))
		// A node found just before a redirect replaced the document is gone
		// when its text is asked for (CI, 2026-12-07): read the new one's.
		if err != nil && strings.Contains(err.Error(), "No node with given id found") && ctx.Err() == nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if err != nil {
			p.t.Fatalf("reading %s: %v", sel, err)
		}
		return s
	}
}

// location is the page's URL path and query.
func (p *visitor) location() string {
	loc, _ := chromedp.Run(p.ctx, chromedp.Location())
	u, err := url.Parse(loc)
	if err != nil {
		return loc
	}
	return u.RequestURI()
}

// shot saves a full-page screenshot under LEADRELAY_SHOTS (default a temp
// directory) and returns its path.
func (p *visitor) shot(name string) string {
	dir := os.Getenv("LEADRELAY_SHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "leadrelay-shots")
	}
	_ = os.MkdirAll(dir, 0o755)
	png, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return ""
	}
	path := filepath.Join(dir, name+".png")
	_ = os.WriteFile(path, png, 0o644)
	return path
}

// axeFinding is one axe-core violation.
type axeFinding struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target []any `json:"target"`
	} `json:"nodes"`
}

// accessible runs axe-core on the current page and fails the test on any
// serious or critical finding (the bar); lesser ones are logged.
func (p *visitor) accessible() {
	p.t.Helper()
	loc := p.location()
	for _, f := range axeRun(p.t, p.ctx) {
		msg := fmt.Sprintf("axe %s (%s) on %s: %s at %v", f.ID, f.Impact, loc, f.Help, f.Nodes)
		if f.Impact == "serious" || f.Impact == "critical" {
			p.t.Error(msg)
		} else {
			p.t.Log(msg)
		}
	}
}

// axeRun injects axe-core into the current page and returns its findings.
func axeRun(t *testing.T, bctx context.Context) []axeFinding {
	t.Helper()
	ctx, cancel := context.WithTimeout(bctx, 60*time.Second)
	defer cancel()
	script := axeSource + `;axe.run(document,{resultTypes:["violations"]}).then(r=>JSON.stringify(r.violations))`
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](script, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("axe: %v", err)
	}
	var found []axeFinding
	if err := json.Unmarshal([]byte(raw), &found); err != nil {
		t.Fatalf("axe result: %v", err)
	}
	return found
}

// TestAxeFindsWhatItShould keeps the accessibility check honest: a page
// with an unlabelled input and an image without text is a serious finding.
func TestAxeFindsWhatItShould(t *testing.T) {
	ctx, cancel := browser(t)
	defer cancel()
	page := `data:text/html,<!doctype html><html lang="en"><title>x</title><main><form><input type="text"></form><img src="x.png"></main></html>`
	if err := chromedp.Do(ctx, chromedp.Navigate(page)); err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, f := range axeRun(t, ctx) {
		seen[f.ID] = f.Impact
	}
	if seen["label"] != "critical" || seen["image-alt"] != "critical" {
		t.Fatalf("axe on a page with an unlabelled input and an image without alt found %v", seen)
	}
}

// TestConsoleLeadsPageInTheBrowser is the helpers' own check: a rep signed
// in reads the leads page, and it passes axe-core.
func TestConsoleLeadsPageInTheBrowser(t *testing.T) {
	s := up(t)
	tn := s.newTenant(t, "ConsoleBrowser", 1, nil)
	p := s.signedInAs(t, tn.staff[0], "rep@console.test")
	p.open("/app/leads")
	if h := p.text("h1"); h != "Leads" {
		t.Fatalf("the leads page's heading is %q", h)
	}
	p.accessible()
}
