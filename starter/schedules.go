package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/leadrelay/leadrelay/internal/domain"
	"github.com/leadrelay/leadrelay/internal/runs"
)

const scheduleUsage = `usage: starter schedule <create|update|delete|list|pause|resume|trigger> [flags]

  create   --org ID --source SLUG [--name N] [--mode M] --at HH:MM[,HH:MM] [--days mon-fri]
           create the schedule, or update it when it exists
  update   the same flags; the schedule must exist
  delete|pause|resume|trigger   --org ID --source SLUG [--name N]
  list     [--org ID]

Times are the org's local time (its timezone, read when the schedule is created or updated).`

// runSchedule manages the Temporal Schedules of timed distributions.
func runSchedule(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, scheduleUsage)
		return errors.New("a subcommand is required")
	}
	sub, args := args[0], args[1:]
	if !slices.Contains([]string{"create", "update", "delete", "list", "pause", "resume", "trigger"}, sub) {
		fmt.Fprintln(os.Stderr, scheduleUsage)
		return fmt.Errorf("unknown subcommand %q", sub)
	}
	fs := flag.NewFlagSet("schedule "+sub, flag.ContinueOnError)
	org := fs.String("org", "", "the org's id")
	source := fs.String("source", "", "the source's slug")
	name := fs.String("name", "default", "the schedule's name, to tell an org's schedules for one source apart")
	mode := fs.String("mode", string(domain.RouteStaffEvenly), "owner, staff_evenly or sub_agencies_evenly")
	at := fs.String("at", "", "org-local time of day, HH:MM; several separated by commas")
	days := fs.String("days", "daily", "daily, or days and ranges: mon-fri, sat,sun")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := normalIDs(map[string]*string{"org": org}); err != nil {
		return err
	}
	ref := runs.ScheduleRef{OrgID: *org, Slug: *source, Name: *name}
	if sub != "list" && (*org == "" || *source == "") {
		fmt.Fprintln(os.Stderr, scheduleUsage)
		return errors.New("--org and --source are required")
	}
	env, closeAll, err := distributionEnv(ctx)
	if err != nil {
		return err
	}
	defer closeAll()
	sched := env.Schedules()
	switch sub {
	case "create", "update":
		s, err := sched.Apply(ctx, runs.SchedulePlan{ScheduleRef: ref, Mode: domain.RoutingMode(*mode), At: *at, Days: *days}, sub == "update")
		if err != nil {
			return err
		}
		fmt.Printf("schedule %s: %s %s (%s), %s\n", s.ID, s.Timetable, s.TimeZone, s.Mode, nextRun(s))
		return nil
	case "delete":
		return done(sched.Delete(ctx, ref), "deleted", ref)
	case "pause":
		return done(sched.Pause(ctx, ref, "paused with starter schedule pause"), "paused", ref)
	case "resume":
		return done(sched.Resume(ctx, ref, "resumed with starter schedule resume"), "resumed", ref)
	case "trigger":
		return done(sched.Trigger(ctx, ref), "triggered: a run starts now", ref)
	case "list":
		list, err := sched.List(ctx, *org)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "ID\tORG\tSOURCE\tSPEC\tNEXT RUN\tPAUSED")
		for _, s := range list {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s %s\t%s\t%t\n", s.ID, s.OrgID, s.Slug, s.Timetable, s.TimeZone, nextRun(s), s.Paused)
		}
		return w.Flush()
	}
	return nil // every subcommand is handled above
}

func done(err error, what string, ref runs.ScheduleRef) error {
	if err == nil {
		fmt.Printf("schedule %s %s\n", ref.ID(), what)
	}
	return err
}

// nextRun is the schedule's next slot in its own timezone.
func nextRun(s runs.Schedule) string {
	if s.NextRun.IsZero() {
		return "-"
	}
	if loc, err := time.LoadLocation(s.TimeZone); err == nil {
		return s.NextRun.In(loc).Format("2006-01-02 15:04 MST")
	}
	return s.NextRun.UTC().Format("2006-01-02 15:04 MST")
}
