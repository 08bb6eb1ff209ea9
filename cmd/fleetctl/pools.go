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

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// poolsUsage is the usage of the pools command group.
const poolsUsage = `Usage: fleetctl pools <stats> [flags]

Commands:
  stats   Show a pool's DSPy request figures: per pool, per node, per model and per program.

Run "fleetctl pools <command> -h" for a command's flags.
`

// poolStatsUsage is the usage of "pools stats".
const poolStatsUsage = `Usage: fleetctl pools stats [--pool POOL] [--window DURATION]

Show the pool's requests, errors, latency percentiles (from merged sketches), tokens, cache hits
and model cost over the window, then the same per node, model and program. With -o json, the
GetPoolStatsResponse.

Flags:
  --pool POOL           the pool (default "default")
  --window DURATION     how far back, 1m up to the rollup retention (default 5m)

` + globalFlagsText

// parsePools parses "fleetctl pools <command>"; args follow "pools".
func parsePools(g *globals, args []string) (command, error) {
	fs := newFlagSet("pools", g)
	if err := fs.Parse(args); err != nil {
		return nil, &usageError{usage: poolsUsage, err: err}
	}
	args = fs.Args()
	if len(args) == 0 {
		return nil, usageErrorf(poolsUsage, "pools: missing command")
	}
	if args[0] != "stats" {
		return nil, usageErrorf(poolsUsage, "pools: unknown command %q", args[0])
	}
	req, err := parsePoolStats(g, args[1:])
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, conn grpc.ClientConnInterface, stdout io.Writer) error {
		return poolStats(ctx, fleetv1.NewFleetServiceClient(conn), req, g, stdout)
	}, nil
}

// parsePoolStats parses the arguments of "pools stats" into its request.
func parsePoolStats(g *globals, args []string) (*fleetv1.GetPoolStatsRequest, error) {
	fs := newFlagSet("pools stats", g)
	pool := fs.String("pool", "", "")
	window := fs.Duration("window", 0, "")
	pos, err := parseCommand(fs, g, args, poolStatsUsage)
	if err != nil {
		return nil, err
	}
	if len(pos) > 0 {
		return nil, usageErrorf(poolStatsUsage, "pools stats: unexpected argument %q", pos[0])
	}
	if *window < 0 {
		return nil, usageErrorf(poolStatsUsage, "pools stats: --window %s must be positive", *window)
	}
	req := &fleetv1.GetPoolStatsRequest{Pool: *pool}
	if *window > 0 {
		req.Window = durationpb.New(*window)
	}
	return req, nil
}

// poolStats runs "pools stats".
func poolStats(ctx context.Context, client fleetv1.FleetServiceClient, req *fleetv1.GetPoolStatsRequest, g *globals, stdout io.Writer) error {
	ctx, cancel := withTimeout(ctx, g.timeout)
	defer cancel()
	resp, err := client.GetPoolStats(ctx, req)
	if err != nil {
		return err
	}
	if g.output.structured() {
		return g.output.write(stdout, jsonIndented, resp)
	}
	return writePoolStats(stdout, resp)
}

// writePoolStats prints the pool's figures, then one table per node, model and program.
func writePoolStats(w io.Writer, resp *fleetv1.GetPoolStatsResponse) error {
	p := resp.GetPool()
	window := p.GetEnd().AsTime().Sub(p.GetStart().AsTime()).Round(time.Second)
	fmt.Fprintf(w, "Pool %s, last %s\n", p.GetName(), window)
	fmt.Fprintf(w, "  Requests:  %d (%d errors, %.1f%%), %.2f/s, %d in flight\n", p.GetRequests(), p.GetErrors(), 100*p.GetErrorRate(), p.GetRequestsPerSecond(), p.GetInFlight())
	fmt.Fprintf(w, "  Latency:   p50 %.1fms, p95 %.1fms, p99 %.1fms\n", p.GetLatencyP50Ms(), p.GetLatencyP95Ms(), p.GetLatencyP99Ms())
	if n := sketchCount(p.GetTtft()); n > 0 {
		fmt.Fprintf(w, "  TTFT:      p50 %.1fms, p95 %.1fms, p99 %.1fms (%d streamed requests)\n", p.GetTtftP50Ms(), p.GetTtftP95Ms(), p.GetTtftP99Ms(), n)
	} else {
		fmt.Fprintln(w, "  TTFT:      none reported (only streamed responses report a time to first token)")
	}
	fmt.Fprintf(w, "  Tokens:    %d in, %d out\n", p.GetInputTokens(), p.GetOutputTokens())
	fmt.Fprintf(w, "  Cache:     %d hits, %d misses (%.1f%% hit ratio), saved $%.4f\n", p.GetCacheHits(), p.GetCacheMisses(), 100*p.GetCacheHitRatio(), p.GetSavedUsd())
	var unpricedTokens uint64
	var unpriced []string
	for _, m := range p.GetModels() {
		if agentUnpriced(m.GetCostUsd(), m.GetSavedUsd(), m.GetInputTokens()+m.GetOutputTokens()) {
			unpriced = append(unpriced, m.GetName())
			unpricedTokens += m.GetInputTokens() + m.GetOutputTokens()
		}
	}
	switch {
	case len(unpriced) > 0:
		fmt.Fprintf(w, "  Cost:      $%.4f + ? (%d tokens of %s have no price in the agents' tables; fleetctl cost report prices them from the control plane's)\n",
			p.GetCostUsd(), unpricedTokens, strings.Join(unpriced, ", "))
	case agentUnpriced(p.GetCostUsd(), p.GetSavedUsd(), p.GetInputTokens()+p.GetOutputTokens()):
		fmt.Fprintln(w, "  Cost:      ? (no model has a price in the agents' tables; fleetctl cost report prices them from the control plane's)")
	default:
		fmt.Fprintf(w, "  Cost:      $%.4f\n", p.GetCostUsd())
	}
	if len(resp.GetNodes()) > 0 {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
		fmt.Fprintln(tw, "NODE\tREQUESTS\tERRORS\tP50 MS\tP95 MS\tP99 MS\tTOKENS IN\tTOKENS OUT\tCOST $")
		for _, n := range resp.GetNodes() {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t%.1f\t%.1f\t%d\t%d\t%s\n", n.GetName(), n.GetRequests(), n.GetErrors(),
				n.GetLatencyP50Ms(), n.GetLatencyP95Ms(), n.GetLatencyP99Ms(), n.GetInputTokens(), n.GetOutputTokens(),
				agentCost(n.GetCostUsd(), n.GetSavedUsd(), n.GetInputTokens()+n.GetOutputTokens()))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	for _, part := range []struct {
		title string
		rows  []*fleetv1.AppBreakdown
	}{{"MODEL", p.GetModels()}, {"PROGRAM", p.GetPrograms()}} {
		if len(part.rows) == 0 {
			continue
		}
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
		fmt.Fprintf(tw, "%s\tREQUESTS\tERRORS\tCACHE HITS\tTOKENS IN\tTOKENS OUT\tCOST $\n", part.title)
		for _, b := range part.rows {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%s\n", b.GetName(), b.GetRequests(), b.GetErrors(), b.GetCacheHits(), b.GetInputTokens(), b.GetOutputTokens(),
				agentCost(b.GetCostUsd(), b.GetSavedUsd(), b.GetInputTokens()+b.GetOutputTokens()))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// agentUnpriced reports whether figures with tokens carry neither a cost nor a saving: the agents
// had no price for the model, so the cost is unknown, not zero (the rule of the cost report).
func agentUnpriced(cost, saved float64, tokens uint64) bool {
	return tokens > 0 && cost == 0 && saved == 0
}

// agentCost formats an agent-priced cost, "?" when it is unknown.
func agentCost(cost, saved float64, tokens uint64) string {
	if agentUnpriced(cost, saved, tokens) {
		return "?"
	}
	return fmt.Sprintf("%.4f", cost)
}

// sketchCount is the number of values a sketch holds.
func sketchCount(s *fleetv1.Sketch) uint64 {
	n := s.GetZeroCount()
	for _, c := range s.GetCounts() {
		n += c
	}
	return n
}
