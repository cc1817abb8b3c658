package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/leadrelay/leadrelay/internal/apiclient"
	"github.com/leadrelay/leadrelay/internal/domain"
)

const groupsUsage = `usage: starter groups <put|list|delete> [flags]

  put      --org ID --name N --member USER[:WEIGHT] [--member …]
           create the group, or replace its members (weight 1..100, default 1)
  list     --org ID
  delete   --org ID --name N   (refused while a source routes to the group)`

// memberFlags collects repeated --member USER[:WEIGHT] flags.
type memberFlags []apiclient.GroupMember

func (m *memberFlags) String() string { return fmt.Sprint(len(*m), " members") }

func (m *memberFlags) Set(v string) error {
	user, w, hasWeight := strings.Cut(v, ":")
	id, ok := domain.NormalID(strings.TrimSpace(user))
	if !ok {
		return fmt.Errorf("%q is not a user id", user)
	}
	weight := 1
	if hasWeight {
		n, err := strconv.Atoi(w)
		if err != nil {
			return fmt.Errorf("weight %q is not a number", w)
		}
		weight = n // the API checks the range and names the member
	}
	*m = append(*m, apiclient.GroupMember{UserID: id, Weight: weight})
	return nil
}

// runGroups manages an org's routing groups through the API, as the admin
// token (or --token), so the API's checks apply.
func runGroups(ctx context.Context, args []string) error {
	if len(args) == 0 || !slices.Contains([]string{"put", "list", "delete"}, args[0]) {
		fmt.Fprintln(os.Stderr, groupsUsage)
		return errors.New("a subcommand put, list or delete is required")
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("groups "+sub, flag.ContinueOnError)
	org := fs.String("org", "", "the org's id (required)")
	name := fs.String("name", "", "the group's name")
	token := fs.String("token", "", "act as this user's token (default: ADMIN_TOKEN)")
	url := fs.String("url", "", "API base URL (default http://$HTTP_ADDR)")
	var members memberFlags
	fs.Var(&members, "member", "USER[:WEIGHT], repeated")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := normalIDs(map[string]*string{"org": org}); err != nil {
		return err
	}
	if *org == "" || (sub != "list" && *name == "") {
		fmt.Fprintln(os.Stderr, groupsUsage)
		return errors.New("--org (and --name for put and delete) are required")
	}
	c, err := clientAs(*url, *token)
	if err != nil {
		return err
	}
	switch sub {
	case "put":
		if members == nil {
			members = memberFlags{}
		}
		g, err := c.PutGroup(ctx, *org, *name, members)
		if err != nil {
			return err
		}
		fmt.Printf("group %s: %d members\n", g.Name, len(g.Members))
		return nil
	case "delete":
		if err := c.DeleteGroup(ctx, *org, *name); err != nil {
			return err
		}
		fmt.Printf("group %s deleted\n", *name)
		return nil
	}
	list, err := c.Groups(ctx, *org)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tMEMBER\tUSER ID\tWEIGHT")
	for _, g := range list {
		if len(g.Members) == 0 {
			fmt.Fprintf(tw, "%s\t(none)\t\t\n", g.Name)
		}
		for _, m := range g.Members {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", g.Name, m.Name, m.UserID, m.Weight)
		}
	}
	return tw.Flush()
}

const usersUsage = `usage: starter users <pause|resume> --org ID --user ID [--until RFC3339]

  pause    no routed leads to the user until resumed, or until --until
  resume   end the user's pause`

// runUsers pauses and resumes a user's routing through the API.
func runUsers(ctx context.Context, args []string) error {
	if len(args) == 0 || !slices.Contains([]string{"pause", "resume"}, args[0]) {
		fmt.Fprintln(os.Stderr, usersUsage)
		return errors.New("a subcommand pause or resume is required")
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("users "+sub, flag.ContinueOnError)
	org := fs.String("org", "", "the org's id (required)")
	user := fs.String("user", "", "the user's id (required)")
	until := fs.String("until", "", "pause: when the pause ends by itself, RFC 3339 (default: until resumed)")
	token := fs.String("token", "", "act as this user's token (default: ADMIN_TOKEN)")
	url := fs.String("url", "", "API base URL (default http://$HTTP_ADDR)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := normalIDs(map[string]*string{"org": org, "user": user}); err != nil {
		return err
	}
	if *org == "" || *user == "" {
		fmt.Fprintln(os.Stderr, usersUsage)
		return errors.New("--org and --user are required")
	}
	var end time.Time
	if *until != "" {
		t, err := time.Parse(time.RFC3339, *until)
		if err != nil {
			return fmt.Errorf("--until: %q is not RFC 3339 (2026-05-01T09:00:00-05:00)", *until)
		}
		end = t
	}
	c, err := clientAs(*url, *token)
	if err != nil {
		return err
	}
	if sub == "resume" {
		u, err := c.ResumeUser(ctx, *org, *user)
		if err != nil {
			return err
		}
		fmt.Printf("%s resumed\n", u.Name)
		return nil
	}
	u, err := c.PauseUser(ctx, *org, *user, end)
	if err != nil {
		return err
	}
	if u.PausedUntil != nil {
		fmt.Printf("%s paused until %s\n", u.Name, u.PausedUntil.Format(time.RFC3339))
	} else {
		fmt.Printf("%s paused until resumed\n", u.Name)
	}
	return nil
}

// clientAs is the admin client, or one acting as token when it is set.
func clientAs(url, token string) (*apiclient.Client, error) {
	c, err := adminClient(url)
	if err != nil || token == "" {
		return c, err
	}
	return c.As(token), nil
}
