package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"go.yaml.in/yaml/v3"
	"google.golang.org/grpc"

	"github.com/dspyfleet/dspyfleet/pkg/scaling"
)

// simulateUsage is the usage of "simulate".
var simulateUsage = `Usage: fleetctl simulate --trace ` + strings.Join(scaling.BuiltinTraces, "|") + `|FILE.csv --policy FILE [--seed N]

Replay a request-rate trace through the autoscaler's own decision code, offline (no control
plane is needed), and print for a static fleet, reactive scaling, and reactive scaling with the
predictive floor: node-hours, minutes over the latency target and over capacity, the number of
scaling actions and the peak size. The same seed gives the same figures.

The policy FILE is the scaling policy as JSON or YAML (.yaml/.yml), the format of
"fleetctl scale policy set"; its optional "simulation" section sets the capacity model:
capacity_per_node (requests/s at saturation, default 16), lead_time (a new node's provisioning
time, default 3m), tick (decision interval, default 15s), base_latency (p95 on an idle node,
default 200ms; under load ρ it is base_latency/(1-ρ)), latency_target (default 600ms), noise
(relative noise on observed metrics, default 0.05) and static_nodes (default: enough for the
trace's peak at the policy's requests/s target).

A CSV trace has rows of seconds,requests_per_second (a header line allowed); the rate is
linear between rows. The built-in traces, one point a minute with noise drawn from the seed:
  steady    6 h at 100 requests/s, ±10 % noise
  spike     6 h at 50 requests/s, 300 requests/s from 2 h to 2 h 30 m, ±5 % noise
  diurnal   4 days: 50 requests/s at night, a bump to 300 requests/s at 14:00, ±5 % noise

Flags:
  --trace NAME|FILE     the trace (required)
  --policy FILE         the policy file (required)
  --seed N              noise seed (default 1)
  -o, --output FORMAT   table or json (default table); json is an array of result objects
`

// simulation is a parsed "simulate" command line.
type simulation struct {
	policy scaling.Policy
	sim    scaling.Simulation
	trace  scaling.Trace
	name   string
	seed   uint64
}

// parseSimulate parses the arguments of "simulate" and reads its files. The command runs offline.
func parseSimulate(g *globals, args []string) (command, error) {
	fs := newFlagSet("simulate", g)
	trace := fs.String("trace", "", "")
	policy := fs.String("policy", "", "")
	seed := fs.Uint64("seed", 1, "")
	pos, err := parseCommand(fs, g, args, simulateUsage)
	if err != nil {
		return nil, err
	}
	switch {
	case len(pos) > 0:
		return nil, usageErrorf(simulateUsage, "simulate: unexpected argument %q", pos[0])
	case *trace == "":
		return nil, usageErrorf(simulateUsage, "simulate: --trace is required")
	case *policy == "":
		return nil, usageErrorf(simulateUsage, "simulate: --policy is required")
	}
	g.offline = true
	s := &simulation{name: *trace, seed: *seed}
	s.policy, s.sim, _, err = readPolicyFile(*policy)
	if err != nil {
		return nil, err
	}
	if strings.HasSuffix(*trace, ".csv") {
		f, err := os.Open(*trace)
		if err != nil {
			return nil, fmt.Errorf("--trace: %w", err)
		}
		defer f.Close()
		if s.trace, err = scaling.ParseTrace(f); err != nil {
			return nil, fmt.Errorf("--trace %s: %w", *trace, err)
		}
	} else if s.trace, err = scaling.BuiltinTrace(*trace, *seed); err != nil {
		return nil, usageErrorf(simulateUsage, "simulate: --trace: %v", err)
	}
	return func(_ context.Context, _ grpc.ClientConnInterface, stdout io.Writer) error {
		return s.run(g, stdout)
	}, nil
}

// run simulates and prints the results.
func (s *simulation) run(g *globals, stdout io.Writer) error {
	res := scaling.Simulate(s.policy, s.sim, s.trace, s.seed)
	if g.output.structured() {
		type row struct {
			Mode                string  `json:"mode" yaml:"mode"`
			NodeHours           float64 `json:"node_hours" yaml:"node_hours"`
			MinutesOverLatency  float64 `json:"minutes_over_latency_target" yaml:"minutes_over_latency_target"`
			MinutesOverCapacity float64 `json:"minutes_over_capacity" yaml:"minutes_over_capacity"`
			Actions             int     `json:"scaling_actions" yaml:"scaling_actions"`
			PeakNodes           int     `json:"peak_nodes" yaml:"peak_nodes"`
			Note                string  `json:"note,omitempty" yaml:"note,omitempty"`
			Skipped             bool    `json:"skipped,omitempty" yaml:"skipped,omitempty"`
		}
		rows := make([]row, len(res))
		for i, r := range res {
			rows[i] = row{r.Mode, r.NodeHours, r.MinutesOverLatency, r.MinutesOverCapacity, r.Actions, r.PeakNodes, r.Note, r.Skipped}
		}
		if g.output == formatYAML {
			return yaml.NewEncoder(stdout).Encode(rows)
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	fmt.Fprintf(stdout, "trace %s: %.1f h, peak %.0f requests/s; %.0f requests/s per node, lead time %s, tick %s, seed %d\n\n",
		s.name, s.trace.Duration()/3600, s.trace.Peak(), s.sim.CapacityPerNode, s.sim.LeadTime, s.sim.Tick, s.seed)
	tw := tabwriter.NewWriter(stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "MODE\tNODE-HOURS\tMIN OVER LATENCY\tMIN OVER CAPACITY\tACTIONS\tPEAK NODES")
	for _, r := range res {
		if r.Skipped {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t-\n", r.Mode) // not run: the note below says why
			continue
		}
		fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%.1f\t%d\t%d\n", r.Mode, r.NodeHours, r.MinutesOverLatency, r.MinutesOverCapacity, r.Actions, r.PeakNodes)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range res {
		if r.Note != "" {
			fmt.Fprintf(stdout, "%s: %s\n", r.Mode, r.Note)
		}
	}
	return nil
}
