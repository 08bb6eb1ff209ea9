package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// routeUsage is the usage of the route command group.
const routeUsage = `Usage: fleetctl route <pick|status|watch|policy> [flags] [args]

Commands:
  pick POOL          Ask the control plane for a node for one request.
  status POOL        Show each node's eligibility, weight, load and ejection state.
  watch POOL         Print the pool's routing set now and on every change, until interrupted.
  policy get POOL    Show the pool's routing policy, defaults filled in.
  policy set POOL    Change the pool's routing policy.

Run "fleetctl route <command> -h" for a command's flags.
`

// routePickUsage is the usage of "route pick".
var routePickUsage = `Usage: fleetctl route pick POOL [--key KEY]

Pick a node of POOL with the pool's strategy and print its id, address and pick token.

Flags:
  --key KEY     request key for consistent hashing, e.g. program and prompt hash

` + globalFlagsText

// routeStatusUsage is the usage of "route status".
var routeStatusUsage = `Usage: fleetctl route status POOL

Show the pool's strategy, panic mode and, per node, whether routing picks it and why not,
its weight (effective weight during slow start), in-flight load, latency, error rate and
ejection. With -o json, the GetStatus response.

` + globalFlagsText

// routeWatchUsage is the usage of "route watch".
var routeWatchUsage = `Usage: fleetctl route watch POOL

Print the pool's routing set, then again whenever it changes (drain, down, ejection, weight,
policy), until interrupted. With -o json, one WatchEndpointsResponse per line.

` + globalFlagsText

// routePolicyGetUsage is the usage of "route policy get".
var routePolicyGetUsage = `Usage: fleetctl route policy get POOL

Print the pool's routing policy in protojson, every default filled in.

` + globalFlagsText

// routePolicySetUsage is the usage of "route policy set".
var routePolicySetUsage = `Usage: fleetctl route policy set POOL [flags]

Change the given settings of the pool's routing policy; the others keep their current values
(the defaults for a pool never configured). The control plane validates the whole policy and
stores nothing when a value is out of range, or when another change to the pool's policy landed
between reading it and setting it (ABORTED: run the command again).

Flags:
  --strategy NAME             round_robin, weighted_round_robin, least_connections,
                              least_latency, intelligent or consistent_hash
  --score-weights SPEC        two-choice score weights, e.g. latency=1,errors=1,in_flight=1,cpu=0.5
  --hash-load-factor F        ε of consistent hashing: no node above (1+ε) × average load
  --consecutive-errors N      eject after N consecutive errors (0 turns it off)
  --error-rate F              eject above this error rate per interval, 0..1 (0 turns it off)
  --latency-factor F          eject above F × the pool's median p95 (0 turns it off)
  --min-requests N            requests needed before error rate or latency is judged
  --interval DURATION         how often error rates and latencies are judged
  --base-ejection DURATION    first ejection's length; repeated ones grow
  --max-ejection DURATION     cap on an ejection's length
  --max-ejected-share F       most of the pool ejected at once, 0..1
  --slow-start DURATION       ramp a new node's weight over this window (0 turns it off)
  --panic-threshold F         below this healthy share, spread over every ready node, 0..1

` + globalFlagsText

// parseRoute parses "fleetctl route <command>"; args follow "route".
func parseRoute(g *globals, args []string) (command, error) {
	fs := newFlagSet("route", g)
	if err := fs.Parse(args); err != nil {
		return nil, &usageError{usage: routeUsage, err: err}
	}
	args = fs.Args()
	if len(args) == 0 {
		return nil, usageErrorf(routeUsage, "route: missing command")
	}
	switch args[0] {
	case "pick":
		return parseRoutePick(g, args[1:])
	case "status":
		pool, err := parsePoolOnly(g, args[1:], "route status", routeStatusUsage)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, conn grpc.ClientConnInterface, stdout io.Writer) error {
			return routeStatus(ctx, fleetv1.NewRoutingServiceClient(conn), pool, g, stdout)
		}, nil
	case "watch":
		pool, err := parsePoolOnly(g, args[1:], "route watch", routeWatchUsage)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, conn grpc.ClientConnInterface, stdout io.Writer) error {
			return routeWatch(ctx, fleetv1.NewRoutingServiceClient(conn), pool, g, stdout)
		}, nil
	case "policy":
		return parseRoutePolicy(g, args[1:])
	}
	return nil, usageErrorf(routeUsage, "route: unknown command %q", args[0])
}

// parsePoolOnly parses a command whose one argument is a pool.
func parsePoolOnly(g *globals, args []string, name, usage string) (string, error) {
	pos, err := parseCommand(newFlagSet(name, g), g, args, usage)
	if err != nil {
		return "", err
	}
	return onlyArg(pos, usage, name, "pool")
}

// parseRoutePick parses "route pick".
func parseRoutePick(g *globals, args []string) (command, error) {
	fs := newFlagSet("route pick", g)
	key := fs.String("key", "", "")
	pos, err := parseCommand(fs, g, args, routePickUsage)
	if err != nil {
		return nil, err
	}
	pool, err := onlyArg(pos, routePickUsage, "route pick", "pool")
	if err != nil {
		return nil, err
	}
	req := &fleetv1.PickRequest{Pool: pool, Key: *key}
	return func(ctx context.Context, conn grpc.ClientConnInterface, stdout io.Writer) error {
		ctx, cancel := withTimeout(ctx, g.timeout)
		defer cancel()
		resp, err := fleetv1.NewRoutingServiceClient(conn).Pick(ctx, req)
		if err != nil {
			return err
		}
		if g.output.structured() {
			return g.output.write(stdout, jsonIndented, resp)
		}
		panicNote := ""
		if resp.GetPanic() {
			panicNote = " (panic mode: too few healthy nodes)"
		}
		_, err = fmt.Fprintf(stdout, "%s at %s%s\ntoken %s\n", resp.GetNodeId(), resp.GetAddress(), panicNote, resp.GetToken())
		return err
	}, nil
}

// routeStatus runs "route status".
func routeStatus(ctx context.Context, c fleetv1.RoutingServiceClient, pool string, g *globals, stdout io.Writer) error {
	ctx, cancel := withTimeout(ctx, g.timeout)
	defer cancel()
	resp, err := c.GetStatus(ctx, &fleetv1.RoutingServiceGetStatusRequest{Pool: pool})
	if err != nil {
		return err
	}
	if g.output.structured() {
		return g.output.write(stdout, jsonIndented, resp)
	}
	fmt.Fprintf(stdout, "Pool %s: %s, %d of %d nodes healthy, version %d\n", resp.GetPool(), strategyName(resp.GetStrategy()),
		resp.GetHealthy(), resp.GetCounted(), resp.GetVersion())
	if resp.GetPanic() {
		fmt.Fprintf(stdout, "PANIC: %s\n", resp.GetPanicReason())
	}
	fmt.Fprintln(stdout)
	tw := tabwriter.NewWriter(stdout, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "NODE\tADDRESS\tSTATE\tROUTED\tWEIGHT\tIN FLIGHT\tLATENCY\tERRORS\tREASON")
	for _, n := range resp.GetNodes() {
		routed := "no"
		if n.GetEligible() {
			routed = "yes"
		}
		weight := strconv.FormatFloat(n.GetWeight(), 'f', -1, 64)
		if n.GetEffectiveWeight() != n.GetWeight() {
			weight = fmt.Sprintf("%.2f/%s", n.GetEffectiveWeight(), weight)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%.1f%%\t%s\n", n.GetNodeId(), n.GetAddress(), n.GetState(), routed, weight,
			n.GetInFlight(), n.GetLatency().AsDuration().Round(100*time.Microsecond), 100*n.GetErrorRate(), n.GetReason())
	}
	return tw.Flush()
}

// routeWatch runs "route watch".
func routeWatch(ctx context.Context, c fleetv1.RoutingServiceClient, pool string, g *globals, stdout io.Writer) error {
	stream, err := c.WatchEndpoints(ctx, &fleetv1.WatchEndpointsRequest{Pool: pool})
	if err != nil {
		return err
	}
	for {
		resp, err := stream.Recv()
		if err != nil {
			if status.Code(err) == codes.Canceled || errors.Is(ctx.Err(), context.Canceled) {
				return nil
			}
			return err
		}
		if g.output.structured() {
			if err := g.output.write(stdout, jsonCompact, resp); err != nil {
				return err
			}
			continue
		}
		var parts []string
		for _, e := range resp.GetEndpoints() {
			parts = append(parts, fmt.Sprintf("%s=%s (weight %s)", e.GetNodeId(), e.GetAddress(), strconv.FormatFloat(e.GetWeight(), 'f', -1, 64)))
		}
		line := strings.Join(parts, ", ")
		if len(parts) == 0 {
			line = "no endpoints: " + resp.GetUnavailableReason()
		}
		if resp.GetPanic() {
			line += " [panic mode]"
		}
		if _, err := fmt.Fprintf(stdout, "%s version %d: %s\n", resp.GetPool(), resp.GetVersion(), line); err != nil {
			return err
		}
	}
}

// strategyName is a strategy's short name, e.g. least_connections.
func strategyName(s fleetv1.Strategy) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "STRATEGY_"))
}

// parseStrategy parses a short strategy name.
func parseStrategy(name string) (fleetv1.Strategy, error) {
	if v, ok := fleetv1.Strategy_value["STRATEGY_"+strings.ToUpper(name)]; ok && v != 0 {
		return fleetv1.Strategy(v), nil
	}
	var names []string
	for v := int32(1); ; v++ {
		s, ok := fleetv1.Strategy_name[v]
		if !ok {
			break
		}
		names = append(names, strings.ToLower(strings.TrimPrefix(s, "STRATEGY_")))
	}
	return 0, fmt.Errorf("unknown strategy %q (valid: %s)", name, strings.Join(names, ", "))
}

// parseRoutePolicy parses "route policy get|set".
func parseRoutePolicy(g *globals, args []string) (command, error) {
	if len(args) == 0 {
		return nil, usageErrorf(routeUsage, "route policy: missing command (get or set)")
	}
	switch args[0] {
	case "get":
		pool, err := parsePoolOnly(g, args[1:], "route policy get", routePolicyGetUsage)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, conn grpc.ClientConnInterface, stdout io.Writer) error {
			ctx, cancel := withTimeout(ctx, g.timeout)
			defer cancel()
			resp, err := fleetv1.NewRoutingServiceClient(conn).GetPolicy(ctx, &fleetv1.RoutingServiceGetPolicyRequest{Pool: pool})
			if err != nil {
				return err
			}
			return g.output.write(stdout, jsonIndented, resp)
		}, nil
	case "set":
		return parseRoutePolicySet(g, args[1:])
	}
	return nil, usageErrorf(routeUsage, "route policy: unknown command %q (get or set)", args[0])
}

// parseRoutePolicySet parses "route policy set" into an edit of the current policy.
func parseRoutePolicySet(g *globals, args []string) (command, error) {
	fs := newFlagSet("route policy set", g)
	var edits []func(*fleetv1.RoutingPolicy)
	outlier := func(p *fleetv1.RoutingPolicy) *fleetv1.OutlierDetection {
		if p.OutlierDetection == nil {
			p.OutlierDetection = &fleetv1.OutlierDetection{}
		}
		return p.OutlierDetection
	}
	float := func(name string, set func(*fleetv1.RoutingPolicy, float64)) {
		fs.Func(name, "", func(s string) error {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return fmt.Errorf("not a number")
			}
			edits = append(edits, func(p *fleetv1.RoutingPolicy) { set(p, v) })
			return nil
		})
	}
	count := func(name string, set func(*fleetv1.RoutingPolicy, uint32)) {
		fs.Func(name, "", func(s string) error {
			v, err := strconv.ParseUint(s, 10, 32)
			if err != nil {
				return fmt.Errorf("not a count")
			}
			edits = append(edits, func(p *fleetv1.RoutingPolicy) { set(p, uint32(v)) })
			return nil
		})
	}
	duration := func(name string, set func(*fleetv1.RoutingPolicy, *durationpb.Duration)) {
		fs.Func(name, "", func(s string) error {
			d, err := time.ParseDuration(s)
			if err != nil {
				return fmt.Errorf("not a duration (e.g. 30s)")
			}
			edits = append(edits, func(p *fleetv1.RoutingPolicy) { set(p, durationpb.New(d)) })
			return nil
		})
	}
	fs.Func("strategy", "", func(s string) error {
		st, err := parseStrategy(s)
		if err != nil {
			return err
		}
		edits = append(edits, func(p *fleetv1.RoutingPolicy) { p.Strategy = st })
		return nil
	})
	fs.Func("score-weights", "", func(s string) error {
		w, err := parseScoreWeights(s)
		if err != nil {
			return err
		}
		edits = append(edits, func(p *fleetv1.RoutingPolicy) { p.ScoreWeights = w })
		return nil
	})
	float("hash-load-factor", func(p *fleetv1.RoutingPolicy, v float64) { p.HashLoadFactor = &v })
	float("panic-threshold", func(p *fleetv1.RoutingPolicy, v float64) { p.PanicThreshold = &v })
	float("error-rate", func(p *fleetv1.RoutingPolicy, v float64) { outlier(p).ErrorRate = &v })
	float("latency-factor", func(p *fleetv1.RoutingPolicy, v float64) { outlier(p).LatencyFactor = &v })
	float("max-ejected-share", func(p *fleetv1.RoutingPolicy, v float64) { outlier(p).MaxEjectedShare = &v })
	count("consecutive-errors", func(p *fleetv1.RoutingPolicy, v uint32) { outlier(p).ConsecutiveErrors = &v })
	count("min-requests", func(p *fleetv1.RoutingPolicy, v uint32) { outlier(p).MinRequests = &v })
	duration("interval", func(p *fleetv1.RoutingPolicy, d *durationpb.Duration) { outlier(p).Interval = d })
	duration("base-ejection", func(p *fleetv1.RoutingPolicy, d *durationpb.Duration) { outlier(p).BaseEjectionTime = d })
	duration("max-ejection", func(p *fleetv1.RoutingPolicy, d *durationpb.Duration) { outlier(p).MaxEjectionTime = d })
	duration("slow-start", func(p *fleetv1.RoutingPolicy, d *durationpb.Duration) { p.SlowStartWindow = d })
	pos, err := parseCommand(fs, g, args, routePolicySetUsage)
	if err != nil {
		return nil, err
	}
	pool, err := onlyArg(pos, routePolicySetUsage, "route policy set", "pool")
	if err != nil {
		return nil, err
	}
	if len(edits) == 0 {
		return nil, usageErrorf(routePolicySetUsage, "route policy set: no setting given")
	}
	return func(ctx context.Context, conn grpc.ClientConnInterface, stdout io.Writer) error {
		ctx, cancel := withTimeout(ctx, g.timeout)
		defer cancel()
		c := fleetv1.NewRoutingServiceClient(conn)
		policy := &fleetv1.RoutingPolicy{}
		cur, err := c.GetPolicy(ctx, &fleetv1.RoutingServiceGetPolicyRequest{Pool: pool})
		switch {
		case err == nil && cur.GetConfigured():
			policy = cur.GetPolicy()
		case err != nil && status.Code(err) != codes.InvalidArgument:
			return err
		}
		for _, edit := range edits {
			edit(policy)
		}
		resp, err := c.SetPolicy(ctx, &fleetv1.RoutingServiceSetPolicyRequest{Pool: pool, Policy: policy, Etag: cur.GetEtag()})
		if err != nil {
			return err
		}
		if g.output.structured() {
			return g.output.write(stdout, jsonIndented, resp)
		}
		_, err = fmt.Fprintf(stdout, "routing policy of pool %s set: %s\n", pool, strategyName(resp.GetPolicy().GetStrategy()))
		return err
	}, nil
}

// parseScoreWeights parses "latency=1,errors=1,in_flight=1,cpu=0.5"; unnamed weights are 0.
func parseScoreWeights(s string) (*fleetv1.ScoreWeights, error) {
	w := &fleetv1.ScoreWeights{}
	for _, part := range strings.Split(s, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		v, err := strconv.ParseFloat(val, 64)
		if !ok || err != nil {
			return nil, fmt.Errorf("%q is not NAME=NUMBER", part)
		}
		switch name {
		case "latency":
			w.Latency = v
		case "errors":
			w.Errors = v
		case "in_flight":
			w.InFlight = v
		case "cpu":
			w.Cpu = v
		default:
			return nil, fmt.Errorf("unknown weight %q (latency, errors, in_flight, cpu)", name)
		}
	}
	return w, nil
}
