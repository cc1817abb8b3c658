package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/leadrelay/leadrelay/internal/apiclient"
	"github.com/leadrelay/leadrelay/internal/config"
)

// adminClient calls the API with ADMIN_TOKEN.
func adminClient(url string) (*apiclient.Client, error) {
	cfg, err := config.Load(nil)
	if err != nil {
		return nil, err
	}
	if err := cfg.Require("ADMIN_TOKEN"); err != nil {
		return nil, fmt.Errorf("%w (with `starter dev` running: set -a; . .data/dev.env; set +a)", err)
	}
	if url == "" {
		url = "http://" + cfg.HTTPAddr
	}
	return &apiclient.Client{Base: strings.TrimRight(url, "/"), Token: cfg.AdminToken}, nil
}

func runInvite(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("invite", flag.ContinueOnError)
	org := fs.String("org", "", "the master org's id (required)")
	email := fs.String("email", "", "the email to invite: the owner of the org that will join (required)")
	url := fs.String("url", "", "API base URL (default http://$HTTP_ADDR)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *org == "" || *email == "" {
		return errors.New("--org and --email are required")
	}
	if err := normalIDs(map[string]*string{"org": org}); err != nil {
		return err
	}
	c, err := adminClient(*url)
	if err != nil {
		return err
	}
	inv, err := c.Invite(ctx, *org, *email)
	if err != nil {
		return err
	}
	fmt.Printf("invited %s: invitation %s, workflow %s, pending until %s\n", *email, inv.ID, inv.WorkflowID,
		inv.ExpiresAt.Format("2006-01-02 15:04 MST"))
	return nil
}

func runInvitations(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("invitations", flag.ContinueOnError)
	org := fs.String("org", "", "the master org's id (required)")
	url := fs.String("url", "", "API base URL (default http://$HTTP_ADDR)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *org == "" {
		return errors.New("--org is required")
	}
	if err := normalIDs(map[string]*string{"org": org}); err != nil {
		return err
	}
	c, err := adminClient(*url)
	if err != nil {
		return err
	}
	list, err := c.Invitations(ctx, *org)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tEMAIL\tSTATUS\tCREATED\tEXPIRES")
	for _, i := range list {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", i.ID, i.Email, i.Status, i.CreatedAt.Format("2006-01-02 15:04"), i.ExpiresAt.Format("2006-01-02 15:04"))
	}
	return w.Flush()
}
