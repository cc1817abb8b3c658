package leadrelay_test

// The README is the front door and docs/ the manual; these tests keep the
// two joined. A page moved, a heading renamed or a directory added without
// a line in the README's map fails here rather than leaving a reader at a
// dead link.

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// manual is every page the link check reads: the README and docs/*.md.
func manual(t *testing.T, root string) []string {
	t.Helper()
	pages, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	return append([]string{filepath.Join(root, "README.md")}, pages...)
}

func TestDocsLinksResolve(t *testing.T) {
	pages := manual(t, ".")
	if len(pages) < 2 {
		t.Fatalf("want README.md and docs/*.md, found %v", pages)
	}
	for _, p := range checkLinks(".", pages) {
		t.Error(p)
	}
}

// TestDocsLinkCheckerFindsBrokenLinks feeds the checker a page with every
// kind of link it must judge, so TestDocsLinksResolve cannot pass by
// finding nothing.
func TestDocsLinkCheckerFindsBrokenLinks(t *testing.T) {
	root := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("README.md", "# Top\n\n## Where to `find` what?\n\nSee [the guide](docs/guide.md#the-one-rule), "+
		"[a dir](docs/), [here](#where-to-find-what), [web](https://example.com/x.md), [mail](mailto:a@b.c).\n"+
		"Broken: [gone](docs/gone.md), [bad anchor](docs/guide.md#no-such-heading), [bad self](#nowhere), "+
		"[outside](../shared/SPEC.md), ![img](docs/missing.png).\n\n"+
		"[ref]: docs/also-gone.md\n\n"+
		"```md\n[in a fence](fenced-gone.md)\n# not a heading\n```\n\nInline `[code](code-gone.md)` is not a link.\n")
	write("docs/guide.md", "# Guide\n\n## The one rule\n\nBack to [the map](../README.md#where-to-find-what) and "+
		"[not a heading](../README.md#not-a-heading).\n")
	got := checkLinks(root, manual(t, root))
	want := []string{
		"README.md: [gone](docs/gone.md): docs/gone.md does not exist",
		"README.md: [bad anchor](docs/guide.md#no-such-heading): docs/guide.md has no heading #no-such-heading",
		"README.md: [bad self](#nowhere): README.md has no heading #nowhere",
		"README.md: [outside](../shared/SPEC.md): leaves the repository",
		"README.md: [img](docs/missing.png): docs/missing.png does not exist",
		"README.md: [ref](docs/also-gone.md): docs/also-gone.md does not exist",
		"docs/guide.md: [not a heading](../README.md#not-a-heading): README.md has no heading #not-a-heading",
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestDocsHeadingAnchors(t *testing.T) {
	text := "# leadrelay\n## The API description (OpenAPI 3.1)\n## Dependencies, and why\n" +
		"### What Temporal's history holds\n## `staff_evenly` rotation\n## Dependencies, and why\n" +
		"## The sales feed and `starter transfer`\n## [Linked](x.md) heading\n"
	got := anchors(text)
	for _, a := range []string{"leadrelay", "the-api-description-openapi-31", "dependencies-and-why",
		"what-temporals-history-holds", "staff_evenly-rotation",
		"dependencies-and-why-1", "the-sales-feed-and-starter-transfer", "linked-heading"} {
		if !got[a] {
			t.Errorf("no anchor %q in %v", a, got)
		}
	}
}

// TestReadmeMapNamesEveryDirectory: the README's "Where to find what" names
// every top-level directory and every internal/ package, so a new one
// arrives with its line.
func TestReadmeMapNamesEveryDirectory(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	sec := section(string(b), "Where to find what")
	if sec == "" {
		t.Fatal(`README.md has no "## Where to find what" section`)
	}
	var dirs []string
	top, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range top {
		if e.IsDir() && (!strings.HasPrefix(e.Name(), ".") || e.Name() == ".ci") {
			dirs = append(dirs, e.Name()+"/")
		}
	}
	internal, err := os.ReadDir("internal")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range internal {
		if e.IsDir() {
			dirs = append(dirs, "internal/"+e.Name()+"/")
		}
	}
	for _, d := range dirs {
		if d == "internal/" {
			continue
		}
		if !strings.Contains(sec, "| `"+d+"` |") {
			t.Errorf("README's map has no row for %s", d)
		}
	}
}

// TestReadmeTestCommandIsWhatCIRuns: CI runs the README's test command, so
// the two stay the same bytes.
func TestReadmeTestCommandIsWhatCIRuns(t *testing.T) {
	const cmd = "go test -count=1 -timeout 70m ./..."
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	ci, err := os.ReadFile(".ci/run")
	if err != nil {
		t.Fatal(err)
	}
	first := strings.SplitN(strings.SplitN(string(readme), "```sh\n", 2)[1], "```", 2)[0]
	if !strings.Contains(first, "\n"+cmd+" ") {
		t.Errorf("the README's first commands are %q, want the test command %q among them", first, cmd)
	}
	if !strings.Contains(string(ci), "\n"+cmd+"\n") {
		t.Errorf(".ci/run does not run %q", cmd)
	}
}

func TestDocsIndexListsEveryPage(t *testing.T) {
	b, err := os.ReadFile("docs/README.md")
	if err != nil {
		t.Fatal(err)
	}
	pages, err := filepath.Glob("docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pages {
		if name := filepath.Base(p); name != "README.md" && !strings.Contains(string(b), "]("+name+")") {
			t.Errorf("docs/README.md does not link %s", name)
		}
	}
}

// section is the text of the "## name" section of a markdown page.
func section(text, name string) string {
	i := strings.Index(text, "\n## "+name+"\n")
	if i < 0 {
		return ""
	}
	sec := text[i+1:]
	if j := strings.Index(sec[3:], "\n## "); j >= 0 {
		sec = sec[:j+3]
	}
	return sec
}

var (
	inlineLink = regexp.MustCompile(`!?\[([^\]]*)\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)
	refLink    = regexp.MustCompile(`(?m)^\s{0,3}\[([^\]]+)\]:\s*(\S+)`)
	codeSpan   = regexp.MustCompile("`+[^`]*`+")
	scheme     = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)
)

// prose is a page without its fenced code blocks and code spans, where
// brackets and # lines are code, not links or headings.
func prose(text string) []string {
	var out []string
	fence := ""
	for _, l := range strings.Split(text, "\n") {
		trimmed := strings.TrimLeft(l, " ")
		if fence == "" && (strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~")) {
			fence = trimmed[:3]
			continue
		}
		if fence != "" {
			if strings.HasPrefix(trimmed, fence) {
				fence = ""
			}
			continue
		}
		out = append(out, codeSpan.ReplaceAllStringFunc(l, func(s string) string {
			// a heading's code span keeps its words; a link inside one is not a link
			return strings.NewReplacer("[", "", "]", "", "(", "", ")", "").Replace(strings.Trim(s, "`"))
		}))
	}
	return out
}

// anchors are the ids GitHub gives a page's headings: lower case, letters,
// digits, '-' and '_' kept, spaces to '-', everything else dropped, a
// repeated heading numbered -1, -2, ...
func anchors(text string) map[string]bool {
	seen := map[string]int{}
	ids := map[string]bool{}
	for _, l := range prose(text) {
		h := strings.TrimLeft(l, "#")
		if len(h) == len(l) || len(l)-len(h) > 6 || !strings.HasPrefix(h, " ") {
			continue
		}
		h = inlineLink.ReplaceAllString(strings.TrimSpace(h), "$1")
		var id strings.Builder
		for _, r := range strings.ToLower(h) {
			switch {
			case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
				id.WriteRune(r)
			case r == ' ':
				id.WriteRune('-')
			}
		}
		a := id.String()
		if n := seen[a]; n > 0 {
			ids[fmt.Sprintf("%s-%d", a, n)] = true
		} else {
			ids[a] = true
		}
		seen[a]++
	}
	return ids
}

// checkLinks reports every relative link in pages (paths under root) that
// does not resolve: a file or directory that does not exist, a path leaving
// the repository, or an #anchor no heading of the target page has.
func checkLinks(root string, pages []string) []string {
	var problems []string
	read := map[string]string{}
	load := func(path string) (string, bool) {
		if s, ok := read[path]; ok {
			return s, true
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return "", false
		}
		read[path] = string(b)
		return string(b), true
	}
	rel := func(path string) string {
		r, err := filepath.Rel(root, path)
		if err != nil {
			return path
		}
		return filepath.ToSlash(r)
	}
	for _, page := range pages {
		text, ok := load(page)
		if !ok {
			problems = append(problems, rel(page)+": cannot be read")
			continue
		}
		body := strings.Join(prose(text), "\n")
		var links [][]string
		links = append(links, inlineLink.FindAllStringSubmatch(body, -1)...)
		links = append(links, refLink.FindAllStringSubmatch(body, -1)...)
		for _, m := range links {
			label, target := m[1], m[2]
			if scheme.MatchString(target) || strings.HasPrefix(target, "//") {
				continue
			}
			bad := func(why string) {
				problems = append(problems, fmt.Sprintf("%s: [%s](%s): %s", rel(page), label, target, why))
			}
			file, anchor, _ := strings.Cut(target, "#")
			dest := page
			if file != "" {
				if strings.HasPrefix(file, "/") {
					dest = filepath.Join(root, file)
				} else {
					dest = filepath.Join(filepath.Dir(page), file)
				}
				if r, err := filepath.Rel(root, dest); err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
					bad("leaves the repository")
					continue
				}
				if _, err := os.Stat(dest); err != nil {
					bad(rel(dest) + " does not exist")
					continue
				}
			}
			if anchor == "" {
				continue
			}
			if !strings.HasSuffix(dest, ".md") {
				bad(rel(dest) + " is not a page with headings")
				continue
			}
			if t, ok := load(dest); !ok || !anchors(t)[anchor] {
				bad(rel(dest) + " has no heading #" + anchor)
			}
		}
	}
	return problems
}

// TestConsoleScreenshotsAreInTheDocs keeps docs/console.md's pictures in
// step with the browser tests that make them: every screenshot a console
// test takes (p.shot("name")) is shown in the page as console/name.png, and
// the file is there. Regenerate them all with
// LEADRELAY_SHOTS=$PWD/docs/console go test -count=1 -run 'TestConsole' ./e2e/
func TestConsoleScreenshotsAreInTheDocs(t *testing.T) {
	tests, err := filepath.Glob(filepath.Join("e2e", "console_*_test.go"))
	if err != nil || len(tests) == 0 {
		t.Fatalf("console browser tests: %v %v", tests, err)
	}
	shotRE := regexp.MustCompile(`(?:\.shot\(|askSignInLink\([^)]*, )"([a-z-]+)"\)`)
	var names []string
	for _, f := range tests {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range shotRE.FindAllStringSubmatch(string(b), -1) {
			names = append(names, m[1])
		}
	}
	if len(names) < 10 {
		t.Fatalf("only %d screenshots found in the console's browser tests: %v", len(names), names)
	}
	doc, err := os.ReadFile(filepath.Join("docs", "console.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		img := "console/" + n + ".png"
		if !strings.Contains(string(doc), "]("+img+")") {
			t.Errorf("docs/console.md does not show %s (made by a console browser test)", img)
		}
		if _, err := os.Stat(filepath.Join("docs", img)); err != nil {
			t.Errorf("docs/%s is missing: regenerate the screenshots (see this test's comment)", img)
		}
	}
}
