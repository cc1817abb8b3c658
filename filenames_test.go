package leadrelay_test

// A capability has one name across the layers, so `git ls-files '*claims*'`
// lists every file of claims, from the workflow to the e2e test. A file
// named in the singular beside its plural elsewhere hides from that search;
// this fails on the second spelling rather than let the two drift apart.

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// layerDirs are the directories that name files by capability.
var layerDirs = []string{"workflows", "activities", "internal/runs", "internal/store", "internal/api", "internal/console", "internal/app",
	"internal/domain", "starter", "e2e"}

// capabilityStem is the word a file-name part spells, whatever its number:
// "claims" and "claim" are both claim, and distribute, distribution and
// distributions are all one capability.
func capabilityStem(part string) string {
	switch part {
	case "distribute", "distribution", "distributions":
		return "distribution"
	}
	return strings.TrimSuffix(part, "s")
}

// spellingClashes reports each stem that files spell in more than one way,
// with the files of each spelling. Every "_"-separated part of a name
// counts: reconcile_claims.go names claims, faults_transfers_test.go
// transfers.
func spellingClashes(files []string) []string {
	spellings := map[string]map[string][]string{}
	for _, f := range files {
		name := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(f), ".go"), "_test")
		for _, part := range strings.Split(name, "_") {
			stem := capabilityStem(part)
			if spellings[stem] == nil {
				spellings[stem] = map[string][]string{}
			}
			spellings[stem][part] = append(spellings[stem][part], filepath.ToSlash(f))
		}
	}
	var out []string
	for stem, by := range spellings {
		if len(by) < 2 {
			continue
		}
		var ways []string
		for part, fs := range by {
			slices.Sort(fs)
			ways = append(ways, fmt.Sprintf("%q in %s", part, strings.Join(fs, ", ")))
		}
		sort.Strings(ways)
		out = append(out, stem+" is spelled "+strings.Join(ways, "; "))
	}
	sort.Strings(out)
	return out
}

func TestOneFileNamePerCapability(t *testing.T) {
	var files []string
	for _, d := range layerDirs {
		fs, err := filepath.Glob(filepath.Join(d, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		if len(fs) == 0 {
			t.Fatalf("no Go files in %s: the check would pass on nothing", d)
		}
		files = append(files, fs...)
	}
	for _, c := range spellingClashes(files) {
		t.Errorf("%s: rename to the store's and API's plural", c)
	}
}

// TestSpellingClashesFindsBothSpellings feeds the check the spellings this
// repository once had, so TestOneFileNamePerCapability cannot pass by
// finding nothing.
func TestSpellingClashesFindsBothSpellings(t *testing.T) {
	got := spellingClashes([]string{"workflows/claim.go", "internal/store/claims.go", "workflows/distribute.go",
		"internal/app/reconcile_distributions.go", "e2e/returns_test.go", "internal/store/returns.go"})
	want := []string{
		`claim is spelled "claim" in workflows/claim.go; "claims" in internal/store/claims.go`,
		`distribution is spelled "distribute" in workflows/distribute.go; "distributions" in internal/app/reconcile_distributions.go`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}
