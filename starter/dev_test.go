package main

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/leadrelay/leadrelay/internal/config"
	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// The links `starter dev` prints sign the demo's owner, a manager and a rep
// in, each as that role, and the banner shows each with the console's address.
func TestDevPrintsASignInLinkForTheOwnerAManagerAndARep(t *testing.T) {
	ctx := context.Background()
	st := testenv.Tx(t)
	var sec devSecrets
	if err := seedDemo(ctx, st, &sec); err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{PublicBaseURL: "http://127.0.0.1:8080"}
	links, err := devSignInLinks(ctx, st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	banner := consoleSection(cfg, links)
	if !strings.Contains(banner, "http://127.0.0.1:8080/app/ ") {
		t.Errorf("the banner does not give the console's address:\n%s", banner)
	}
	want := map[string]domain.Role{"owner": domain.RoleOwner, "manager": domain.RoleManager, "rep": domain.RoleStaff}
	for i, p := range devPeople {
		if !strings.Contains(banner, links[i]) {
			t.Errorf("the banner lacks %s's link", p.who)
		}
		token, ok := strings.CutPrefix(links[i], "http://127.0.0.1:8080/app/signin/")
		if !ok {
			t.Fatalf("%s's link %q is not a console sign-in link", p.who, links[i])
		}
		email, err := st.UseSignInLink(ctx, domain.HashToken(token))
		if err != nil || email != p.email {
			t.Fatalf("%s's link: %q, %v", p.who, email, err)
		}
		ms, err := st.Memberships(ctx, email)
		if err != nil || len(ms) != 1 || ms[0].Role != want[p.who] || ms[0].OrgID != sec.MasterOrgID {
			t.Fatalf("%s (%s) is %+v (%v), want one %s of the demo's master", p.who, email, ms, err, want[p.who])
		}
	}
}
