package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc"

	"github.com/dspyfleet/dspyfleet/internal/wire"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// scaleUsage is the usage of the scale command group.
const scaleUsage = `Usage: fleetctl scale <status|policy|history> [flags] POOL

Commands:
  status          Show the pool's latest scaling decision and why, its forecast and actuation.
  policy get      Print the pool's scaling policy as a policy file.
  policy set      Set the pool's scaling policy from a policy file.
  history         List the pool's recorded scaling decisions, newest first.

Run "fleetctl scale <command> -h" for a command's flags.
`

// scaleStatusUsage is the usage of "scale status".
const scaleStatusUsage = `Usage: fleetctl scale status [flags] POOL

Show the pool's latest decision: current, desired and ready size; what each target, rule, the
forecast or a wake-up proposed; the limit that applied (stabilization window, cooldown, rate
policy, min, max) and the cooldown left; the reason in words; the forecast's state and error;
and the actuator's last run (exit status and output of the exec hook, or the scale commands).
With -o json, the ScalingServiceGetStatusResponse.

` + globalFlagsText

// scalePolicyGetUsage is the usage of "scale policy get".
const scalePolicyGetUsage = `Usage: fleetctl scale policy get [flags] POOL

Print the pool's scaling policy with every default filled in, as a YAML policy file that
"scale policy set" accepts. With -o json, the ScalingServiceGetPolicyResponse.

` + globalFlagsText

// scalePolicySetUsage is the usage of "scale policy set".
const scalePolicySetUsage = `Usage: fleetctl scale policy set -f FILE [flags] POOL

Set the pool's scaling policy from FILE, JSON or YAML (.yaml/.yml). Every key but max is
optional and takes its default when absent; durations are strings like 30s or 5m; unknown
keys are errors. "scale policy get" prints a complete example; the keys are:

  min, max                   sizes (default min 1; 0 lets an idle pool scale to zero)
  targets                    [{metric, value}]: cpu_percent, memory_percent, latency_p95_ms,
                             ttft_p95_ms, error_rate, in_flight_per_node,
                             requests_per_second_per_node, tokens_per_second_per_node,
                             queue_length_per_node
  tolerance                  0.1: no change within 10 % of a target
  rules                      [{name, metric, comparison (> >= < <=), threshold, for, action
                             (scale_up|scale_down), amount, unit (nodes|percent), cooldown}]
  scale_up, scale_down       {stabilization_window, policies: [{unit, value, period}], select
                             (max_change|min_change), cooldown}; policies: [] means no cap
  wake_size                  size an empty pool wakes to on a request (default 1)
  victims                    [most_expensive, least_loaded, newest, spot_last]
  base_on_demand             on-demand nodes always kept (default 0)
  spot_fraction              share of the nodes above base_on_demand on spot, 0-1 (default 0)
  dynamic_on_demand_fallback replace spot that was preempted or could not be had with on-demand
                             for spot_retry (default 10m); the exec hook gets CAPACITY_TYPE,
                             ADD_ON_DEMAND, ADD_SPOT, DESIRED_ON_DEMAND and DESIRED_SPOT
  predictive                 {enabled, metric, horizon, lead_time, min_history}
  actuator                   {exec_hook (a program in the control plane's
                             --scaling-hook-dir), hook_timeout, instances,
                             max_instances_per_node}
  simulation                 read by "fleetctl simulate" only

The file is checked here first, then by the control plane; nothing is stored unless it is
valid. Prints the stored policy.

Flags:
  -f, --file FILE       the policy file (required)

` + globalFlagsText

// scaleHistoryUsage is the usage of "scale history".
const scaleHistoryUsage = `Usage: fleetctl scale history [--limit N] POOL

List the pool's recorded decisions (those that changed the size or what limited it), newest
first. With -o json, the ScalingServiceListDecisionsResponse.

Flags:
  --limit N             at most N decisions, up to 1000 (default 50)

` + globalFlagsText

// parseScale parses "fleetctl scale <command>"; args follow "scale".
func parseScale(g *globals, args []string) (command, error) {
	fs := newFlagSet("scale", g)
	if err := fs.Parse(args); err != nil {
		return nil, &usageError{usage: scaleUsage, err: err}
	}
	args = fs.Args()
	if len(args) == 0 {
		return nil, usageErrorf(scaleUsage, "scale: missing command")
	}
	switch args[0] {
	case "status":
		pool, err := parsePoolArg(g, "scale status", scaleStatusUsage, args[1:], nil)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, conn grpc.ClientConnInterface, stdout io.Writer) error {
			return scaleStatus(ctx, fleetv1.NewScalingServiceClient(conn), pool, g, stdout)
		}, nil
	case "history":
		var limit uint
		pool, err := parsePoolArg(g, "scale history", scaleHistoryUsage, args[1:], func(fs flagSet) { fs.UintVar(&limit, "limit", 0, "") })
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, conn grpc.ClientConnInterface, stdout io.Writer) error {
			return scaleHistory(ctx, fleetv1.NewScalingServiceClient(conn), pool, uint32(min(limit, 1<<31)), g, stdout)
		}, nil
	case "policy":
		return parseScalePolicy(g, args[1:])
	}
	return nil, usageErrorf(scaleUsage, "scale: unknown command %q", args[0])
}

// parseScalePolicy parses "scale policy get|set".
func parseScalePolicy(g *globals, args []string) (command, error) {
	if len(args) == 0 {
		return nil, usageErrorf(scaleUsage, "scale policy: missing get or set")
	}
	switch args[0] {
	case "get":
		pool, err := parsePoolArg(g, "scale policy get", scalePolicyGetUsage, args[1:], nil)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, conn grpc.ClientConnInterface, stdout io.Writer) error {
			return scalePolicyGet(ctx, fleetv1.NewScalingServiceClient(conn), pool, g, stdout)
		}, nil
	case "set":
		var file string
		pool, err := parsePoolArg(g, "scale policy set", scalePolicySetUsage, args[1:], func(fs flagSet) {
			fs.StringVar(&file, "f", "", "")
			fs.StringVar(&file, "file", "", "")
		})
		if err != nil {
			return nil, err
		}
		if file == "" {
			return nil, usageErrorf(scalePolicySetUsage, "scale policy set: -f FILE is required")
		}
		p, _, act, err := readPolicyFile(file)
		if err != nil {
			return nil, err
		}
		req := &fleetv1.ScalingServiceSetPolicyRequest{Pool: pool, Policy: wire.ScalingPolicyToProto(p)}
		req.Policy.Actuator = act
		return func(ctx context.Context, conn grpc.ClientConnInterface, stdout io.Writer) error {
			ctx, cancel := withTimeout(ctx, g.timeout)
			defer cancel()
			resp, err := fleetv1.NewScalingServiceClient(conn).SetPolicy(ctx, req)
			if err != nil {
				return err
			}
			if g.output.structured() {
				return g.output.write(stdout, jsonIndented, resp)
			}
			return writePolicy(stdout, pool, resp.GetPolicy())
		}, nil
	}
	return nil, usageErrorf(scaleUsage, "scale policy: unknown command %q", args[0])
}

// flagSet is the part of flag.FlagSet a command's extra flags need.
type flagSet interface {
	StringVar(p *string, name, value, usage string)
	UintVar(p *uint, name string, value uint, usage string)
}

// parsePoolArg parses a scale command's flags (extra adds its own) and its one POOL argument.
func parsePoolArg(g *globals, name, usage string, args []string, extra func(flagSet)) (string, error) {
	fs := newFlagSet(name, g)
	if extra != nil {
		extra(fs)
	}
	pos, err := parseCommand(fs, g, args, usage)
	if err != nil {
		return "", err
	}
	switch len(pos) {
	case 0:
		return "", usageErrorf(usage, "%s: missing POOL", name)
	case 1:
		return pos[0], nil
	}
	return "", usageErrorf(usage, "%s: unexpected argument %q", name, pos[1])
}

func scalePolicyGet(ctx context.Context, c fleetv1.ScalingServiceClient, pool string, g *globals, stdout io.Writer) error {
	ctx, cancel := withTimeout(ctx, g.timeout)
	defer cancel()
	resp, err := c.GetPolicy(ctx, &fleetv1.ScalingServiceGetPolicyRequest{Pool: pool})
	if err != nil {
		return err
	}
	if g.output.structured() {
		return g.output.write(stdout, jsonIndented, resp)
	}
	return writePolicy(stdout, resp.GetPool(), resp.GetPolicy())
}

// writePolicy prints a policy as a YAML policy file under a comment naming the pool.
func writePolicy(w io.Writer, pool string, p *fleetv1.ScalingPolicy) error {
	b, err := policyYAML(p)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "# scaling policy of pool %s\n%s", pool, b)
	return err
}

func scaleStatus(ctx context.Context, c fleetv1.ScalingServiceClient, pool string, g *globals, stdout io.Writer) error {
	ctx, cancel := withTimeout(ctx, g.timeout)
	defer cancel()
	resp, err := c.GetStatus(ctx, &fleetv1.ScalingServiceGetStatusRequest{Pool: pool})
	if err != nil {
		return err
	}
	if g.output.structured() {
		return g.output.write(stdout, jsonIndented, resp)
	}
	return writeScaleStatus(stdout, resp, time.Now())
}

// writeScaleStatus prints a pool's scaling status as a "Key: value" block and a proposal table.
func writeScaleStatus(w io.Writer, s *fleetv1.ScalingServiceGetStatusResponse, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 8, 1, ' ', 0)
	kv := func(key, value string) { fmt.Fprintf(tw, "%s:\t%s\n", key, value) }
	d := s.GetDecision()
	kv("Pool", s.GetPool())
	if d == nil {
		kv("Decision", "none yet (the first reconcile tick has not run)")
	} else {
		kv("Decided", ago(d.GetTime(), now))
		kv("Size", fmt.Sprintf("current %d (ready %d), desired %d, recommended %d", d.GetCurrent(), d.GetReady(), d.GetDesired(), d.GetRecommended()))
		kv("Reason", d.GetReason())
		kv("Limited by", orDash(d.GetLimit()))
		kv("Cooldown left", duration(d.GetCooldownLeft()))
		if len(d.GetVictims()) > 0 {
			kv("Victims", strings.Join(d.GetVictims(), ", "))
		}
	}
	fc := s.GetForecast()
	forecast := fc.GetStatus()
	if fc.GetReady() {
		forecast += fmt.Sprintf("; floor %d", fc.GetFloor())
		if n := len(fc.GetLoad()); n > 0 {
			forecast += fmt.Sprintf("; load now→%dm: %.1f→%.1f", n, fc.GetLoad()[0], fc.GetLoad()[n-1])
		}
	}
	kv("Forecast", orDash(forecast))
	if a := s.GetActuation(); a != nil {
		line := fmt.Sprintf("%s %s: %d → %d, attempt %d, %s", a.GetActuator(), a.GetState(), a.GetCurrent(), a.GetDesired(), a.GetAttempts(), ago(a.GetTime(), now))
		if len(a.GetVictims()) > 0 {
			line += ", victims " + strings.Join(a.GetVictims(), ",")
		}
		if a.GetNextAttempt() != nil {
			line += ", next attempt in " + age(a.GetNextAttempt().AsTime().Sub(now))
		}
		kv("Actuation", line)
		kv("Actuator said", orDash(a.GetDetail()))
	} else {
		kv("Actuation", "-")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(d.GetProposals()) == 0 {
		return nil
	}
	fmt.Fprintln(w, "\nProposals:")
	tw = tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "  SOURCE\tOBSERVED\tTARGET\tNODES\tNOTE")
	for _, p := range d.GetProposals() {
		fmt.Fprintf(tw, "  %s\t%.4g\t%.4g\t%d\t%s\n", p.GetSource(), p.GetObserved(), p.GetTarget(), p.GetNodes(), p.GetNote())
	}
	return tw.Flush()
}

// defaultDecisions is how many decisions "scale history" lists without --limit.
const defaultDecisions = 50

func scaleHistory(ctx context.Context, c fleetv1.ScalingServiceClient, pool string, limit uint32, g *globals, stdout io.Writer) error {
	ctx, cancel := withTimeout(ctx, g.timeout)
	defer cancel()
	resp, err := listAll(ctx, &fleetv1.ScalingServiceListDecisionsRequest{Pool: pool}, cmp.Or(int(limit), defaultDecisions), c.ListDecisions)
	if err != nil {
		return err
	}
	if g.output.structured() {
		return g.output.write(stdout, jsonIndented, resp)
	}
	tw := tabwriter.NewWriter(stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tCURRENT\tDESIRED\tLIMIT\tREASON")
	for _, d := range resp.GetDecisions() {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\n", d.GetTime().AsTime().Local().Format(time.DateTime), d.GetCurrent(), d.GetDesired(), orDash(d.GetLimit()), d.GetReason())
	}
	return tw.Flush()
}
