package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The CLI sends ids as the API compares them: an id pasted in upper case
// names the same org or lead, and a value that is not an id stops the
// command naming its flag.
func TestCLIIDsAreNormalised(t *testing.T) {
	org, to := "0B9A2C3E-6F1D-4A8B-9C2D-1E2F3A4B5C6D", "1b9a2c3e-6f1d-4a8b-9c2d-1e2f3a4b5c6d"
	if err := normalIDs(map[string]*string{"org": &org, "to": &to}); err != nil {
		t.Fatal(err)
	}
	if org != strings.ToLower("0B9A2C3E-6F1D-4A8B-9C2D-1E2F3A4B5C6D") || to != "1b9a2c3e-6f1d-4a8b-9c2d-1e2f3a4b5c6d" {
		t.Errorf("org %s, to %s", org, to)
	}
	bad := "acme"
	if err := normalIDs(map[string]*string{"org": &bad}); err == nil || !strings.Contains(err.Error(), "--org") {
		t.Errorf("a name for --org: %v", err)
	}
	file := filepath.Join(t.TempDir(), "ids")
	if err := os.WriteFile(file, []byte("2B9A2C3E-6F1D-4A8B-9C2D-1E2F3A4B5C6D\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, arg := range []string{"2B9A2C3E-6F1D-4A8B-9C2D-1E2F3A4B5C6D", "@" + file} {
		ids, err := leadList(arg)
		if err != nil || len(ids) != 1 || ids[0] != "2b9a2c3e-6f1d-4a8b-9c2d-1e2f3a4b5c6d" {
			t.Errorf("leadList(%s) = %v, %v", arg, ids, err)
		}
	}
	if _, err := leadList("2b9a2c3e-6f1d-4a8b-9c2d-1e2f3a4b5c6d,lead-7"); err == nil || !strings.Contains(err.Error(), "--leads") {
		t.Errorf("a bad lead id: %v", err)
	}
}
