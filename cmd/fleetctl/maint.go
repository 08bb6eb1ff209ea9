package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// maintUsage is the usage of the maint command group.
const maintUsage = `Usage: fleetctl maint <schedule|list|get|pause|resume|cancel> [flags] [args]

Commands:
  schedule POOL     Schedule a maintenance window: one-off (--start, --end) or recurring (--cron).
  list              List maintenance windows, newest first.
  get ID            Show a window with each node's progress and task results.
  pause ID          Take no further nodes; resume continues.
  resume ID         Continue a paused window.
  cancel ID         End the window; nodes in progress are undrained.

Run "fleetctl maint <command> -h" for a command's flags.
`

// maintScheduleUsage is the usage of "maint schedule".
const maintScheduleUsage = `Usage: fleetctl maint schedule POOL --task TASK [--task TASK ...] [flags]

Schedule a window over POOL (or --nodes of it). When it opens, each node in turn is taken out of
routing, drained, given the tasks in order, health-checked and undrained, never more than
--max-unavailable nodes of the pool out of routing and never fewer than --min-healthy ready
nodes in routing. With -o json, the ScheduleMaintenanceResponse.

Until the window finishes or is cancelled, disruptive commands for its nodes (restart,
deploy, cleanup, scale down; by fleetctl cmd send, healing rules or the scaler) are held
while it is not open and delivered when it next opens. "fleetctl cmd send --now" and healing
rules with urgent: true go at once; drain, undrain, backup and custom are never held.

Flags:
  --task TASK               restart, cleanup, backup, deploy=VERSION or custom=ACTION (an action
                            in the agents' actions.custom); repeat for more, in order
  --nodes ID,ID,...         only these nodes of the pool
  --start TIME              one-off: opens at TIME (RFC 3339; default now)
  --end TIME                one-off: takes no new node after TIME
  --cron SPEC               recurring: five-field cron spec in UTC, e.g. "0 3 * * SUN"
  --duration DURATION       recurring: how long each opening lasts
  --max-unavailable N       most nodes of the pool out of routing at once (default 1)
  --min-healthy N           least ready nodes kept in routing (default 1)
  --drain-timeout DURATION  longest wait for a node to drain (default 5m)
  --reason TEXT             recorded with the window

` + globalFlagsText

// maintIDUsage is the usage of "maint get|pause|resume|cancel".
const maintIDUsage = `Usage: fleetctl maint <get|pause|resume|cancel> ID [--reason TEXT] [--etag ETAG]

get shows the window; pause, resume and cancel change it and show it. --reason is recorded
with pause and cancel. With --etag (the "Etag:" line of "fleetctl maint get ID"), pause,
resume and cancel change it only if it has not changed since; when it has, nothing changes
and the error says how to retry.

` + globalFlagsText

// maintListUsage is the usage of "maint list".
const maintListUsage = `Usage: fleetctl maint list [--pool POOL]

List maintenance windows, newest first. With -o json, the ListMaintenanceResponse.

` + globalFlagsText

// taskList is the value of "maint schedule --task", repeatable.
type taskList []*fleetv1.MaintenanceTask

// String implements flag.Value.
func (l *taskList) String() string { return fmt.Sprint(len(*l)) }

// Set implements flag.Value.
func (l *taskList) Set(s string) error {
	name, arg, _ := strings.Cut(s, "=")
	kinds := map[string]fleetv1.MaintenanceTaskKind{
		"restart": fleetv1.MaintenanceTaskKind_MAINTENANCE_TASK_KIND_RESTART, "cleanup": fleetv1.MaintenanceTaskKind_MAINTENANCE_TASK_KIND_CLEANUP,
		"deploy": fleetv1.MaintenanceTaskKind_MAINTENANCE_TASK_KIND_DEPLOY, "backup": fleetv1.MaintenanceTaskKind_MAINTENANCE_TASK_KIND_BACKUP,
		"custom": fleetv1.MaintenanceTaskKind_MAINTENANCE_TASK_KIND_CUSTOM,
	}
	k, ok := kinds[name]
	if !ok {
		return fmt.Errorf("%q is not restart, cleanup, backup, deploy=VERSION or custom=ACTION", s)
	}
	t := &fleetv1.MaintenanceTask{Kind: k}
	if k == fleetv1.MaintenanceTaskKind_MAINTENANCE_TASK_KIND_CUSTOM {
		t.Action = arg
	} else {
		t.Version = arg
	}
	*l = append(*l, t)
	return nil
}

// parseMaint parses "fleetctl maint <command>"; args follow "maint".
func parseMaint(g *globals, args []string) (command, error) {
	fs := newFlagSet("maint", g)
	if err := fs.Parse(args); err != nil {
		return nil, &usageError{usage: maintUsage, err: err}
	}
	args = fs.Args()
	if len(args) == 0 {
		return nil, usageErrorf(maintUsage, "maint: missing command")
	}
	switch args[0] {
	case "schedule":
		spec, err := parseMaintSpec(g, args[1:])
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, conn grpc.ClientConnInterface, stdout io.Writer) error {
			ctx, cancel := withTimeout(ctx, g.timeout)
			defer cancel()
			resp, err := fleetv1.NewMaintenanceServiceClient(conn).ScheduleMaintenance(ctx, &fleetv1.ScheduleMaintenanceRequest{Spec: spec})
			if err != nil {
				return err
			}
			if g.output.structured() {
				return g.output.write(stdout, jsonIndented, resp)
			}
			return writeWindow(stdout, resp.GetMaintenance(), time.Now())
		}, nil
	case "list":
		fs := newFlagSet("maint list", g)
		pool := fs.String("pool", "", "")
		pos, err := parseCommand(fs, g, args[1:], maintListUsage)
		if err != nil {
			return nil, err
		}
		if len(pos) > 0 {
			return nil, usageErrorf(maintListUsage, "maint list: unexpected argument %q", pos[0])
		}
		return func(ctx context.Context, conn grpc.ClientConnInterface, stdout io.Writer) error {
			ctx, cancel := withTimeout(ctx, g.timeout)
			defer cancel()
			resp, err := listAll(ctx, &fleetv1.ListMaintenanceRequest{Pool: *pool}, 0, fleetv1.NewMaintenanceServiceClient(conn).ListMaintenance)
			if err != nil {
				return err
			}
			if g.output.structured() {
				return g.output.write(stdout, jsonIndented, resp)
			}
			return writeWindowList(stdout, resp.GetWindows(), time.Now())
		}, nil
	case "get", "pause", "resume", "cancel":
		verb := args[0]
		fs := newFlagSet("maint "+verb, g)
		reason := fs.String("reason", "", "")
		etag := fs.String("etag", "", "")
		pos, err := parseCommand(fs, g, args[1:], maintIDUsage)
		if err != nil {
			return nil, err
		}
		id, err := onlyArg(pos, maintIDUsage, "maint "+verb, "window id")
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, conn grpc.ClientConnInterface, stdout io.Writer) error {
			ctx, cancel := withTimeout(ctx, g.timeout)
			defer cancel()
			mc := fleetv1.NewMaintenanceServiceClient(conn)
			var m *fleetv1.Maintenance
			switch verb {
			case "get":
				resp, err := mc.GetMaintenance(ctx, &fleetv1.GetMaintenanceRequest{Id: id})
				if err != nil {
					return err
				}
				m = resp.GetMaintenance()
			case "pause":
				resp, err := mc.PauseMaintenance(ctx, &fleetv1.PauseMaintenanceRequest{Id: id, Reason: *reason, Etag: *etag})
				if err != nil {
					return err
				}
				m = resp.GetMaintenance()
			case "resume":
				resp, err := mc.ResumeMaintenance(ctx, &fleetv1.ResumeMaintenanceRequest{Id: id, Etag: *etag})
				if err != nil {
					return err
				}
				m = resp.GetMaintenance()
			default:
				resp, err := mc.CancelMaintenance(ctx, &fleetv1.CancelMaintenanceRequest{Id: id, Reason: *reason, Etag: *etag})
				if err != nil {
					return err
				}
				m = resp.GetMaintenance()
			}
			if g.output.structured() {
				return g.output.write(stdout, jsonIndented, m)
			}
			return writeWindow(stdout, m, time.Now())
		}, nil
	}
	return nil, usageErrorf(maintUsage, "maint: unknown command %q", args[0])
}

// parseMaintSpec parses the arguments of "maint schedule".
func parseMaintSpec(g *globals, args []string) (*fleetv1.MaintenanceSpec, error) {
	fs := newFlagSet("maint schedule", g)
	var tasks taskList
	fs.Var(&tasks, "task", "")
	nodes := fs.String("nodes", "", "")
	start := fs.String("start", "", "")
	end := fs.String("end", "", "")
	cronSpec := fs.String("cron", "", "")
	duration := fs.Duration("duration", 0, "")
	maxU := fs.Uint("max-unavailable", 0, "")
	minH := fs.Uint("min-healthy", 0, "")
	drain := fs.Duration("drain-timeout", 0, "")
	reason := fs.String("reason", "", "")
	pos, err := parseCommand(fs, g, args, maintScheduleUsage)
	if err != nil {
		return nil, err
	}
	pool, err := onlyArg(pos, maintScheduleUsage, "maint schedule", "pool")
	if err != nil {
		return nil, err
	}
	spec := &fleetv1.MaintenanceSpec{Pool: pool, Tasks: tasks, Cron: *cronSpec, MaxUnavailable: uint32(*maxU), MinHealthy: uint32(*minH), Reason: *reason}
	if *nodes != "" {
		spec.Nodes = strings.Split(*nodes, ",")
	}
	for _, t := range []struct {
		name, raw string
		dst       **timestamppb.Timestamp
	}{{"start", *start, &spec.Start}, {"end", *end, &spec.End}} {
		if t.raw == "" {
			continue
		}
		ts, err := time.Parse(time.RFC3339, t.raw)
		if err != nil {
			return nil, usageErrorf(maintScheduleUsage, "maint schedule: --%s %q is not an RFC 3339 time like 2026-03-01T03:00:00Z", t.name, t.raw)
		}
		*t.dst = timestamppb.New(ts)
	}
	if *duration != 0 {
		spec.Duration = durationpb.New(*duration)
	}
	if *drain != 0 {
		spec.DrainTimeout = durationpb.New(*drain)
	}
	return spec, nil
}

// writeWindowList prints windows as a table.
func writeWindowList(w io.Writer, list []*fleetv1.Maintenance, now time.Time) error {
	if len(list) == 0 {
		fmt.Fprintln(w, "no maintenance windows; schedule one with: fleetctl maint schedule POOL --task restart")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "ID\tPOOL\tSTATE\tOPENS\tRUNS\tTASKS")
	for _, m := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", m.GetId(), m.GetSpec().GetPool(), windowState(m), stampIn(m.GetOpens(), now), m.GetRuns(), taskNames(m.GetSpec()))
	}
	return tw.Flush()
}

// writeWindow prints one window with its nodes.
func writeWindow(w io.Writer, m *fleetv1.Maintenance, now time.Time) error {
	s := m.GetSpec()
	fmt.Fprintf(w, "Maintenance window %s over pool %s: %s\n", m.GetId(), s.GetPool(), taskNames(s))
	fmt.Fprintf(w, "  State:    %s (%s), %d openings so far\n", windowState(m), m.GetPhase(), m.GetRuns())
	if s.GetCron() != "" {
		fmt.Fprintf(w, "  Schedule: cron %q (UTC), %s each\n", s.GetCron(), s.GetDuration().AsDuration())
	}
	fmt.Fprintf(w, "  Opens:    %s\n", stampIn(m.GetOpens(), now))
	if m.GetCloses() != nil {
		fmt.Fprintf(w, "  Closes:   %s\n", stampIn(m.GetCloses(), now))
	}
	fmt.Fprintf(w, "  Limits:   %d unavailable at most, %d healthy at least\n", s.GetMaxUnavailable(), s.GetMinHealthy())
	if m.GetReason() != "" {
		fmt.Fprintf(w, "  Reason:   %s\n", m.GetReason())
	}
	if m.GetEtag() != "" {
		fmt.Fprintf(w, "  Etag:     %s\n", m.GetEtag())
	}
	if len(m.GetNodes()) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "NODE\tPHASE\tRESULTS\tDETAIL")
	for _, n := range m.GetNodes() {
		var results []string
		for _, r := range n.GetResults() {
			results = append(results, strings.ToLower(strings.TrimPrefix(r.GetKind().String(), "MAINTENANCE_TASK_KIND_"))+" "+commandStateName(r.GetState()))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", n.GetNodeId(), n.GetPhase(), orDash(strings.Join(results, ", ")), oneLine(n.GetDetail()))
	}
	return tw.Flush()
}

func windowState(m *fleetv1.Maintenance) string {
	return strings.ToLower(strings.TrimPrefix(m.GetState().String(), "MAINTENANCE_STATE_"))
}

// taskNames lists a window's tasks, e.g. "restart, deploy 2.0".
func taskNames(s *fleetv1.MaintenanceSpec) string {
	var out []string
	for _, t := range s.GetTasks() {
		name := strings.ToLower(strings.TrimPrefix(t.GetKind().String(), "MAINTENANCE_TASK_KIND_"))
		if v := t.GetVersion() + t.GetAction(); v != "" {
			name += " " + v
		}
		out = append(out, name)
	}
	return strings.Join(out, ", ")
}
