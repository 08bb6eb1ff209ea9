package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/dspyfleet/dspyfleet/pkg/scaling"
)

// spotUsage explains "fleetsim spot".
const spotUsage = `usage: fleetsim spot [flags]

Replays a traffic pattern through the autoscaler's decisions three ways on the same trace and
seed: every node on-demand, a spot mix (base_on_demand, spot_fraction), and the same mix with
dynamic on-demand fallback. Spot nodes are preempted at a rate per node and hour with a notice;
each preemption starts a spot outage in which spot launches fail. Prints cost, node-hours, the
spot share and the minutes the load was above what the ready nodes serve.

`

// runSpot runs "fleetsim spot".
func runSpot(args []string, stdout, stderr io.Writer) error {
	p := scaling.DefaultPolicy(2, 60)
	p.Capacity = scaling.Capacity{BaseOnDemand: 2, SpotFraction: 0.7, SpotRetry: scaling.DefaultSpotRetry}
	sim := scaling.DefaultSimulation()
	spot := scaling.DefaultSpotSimulation()
	pattern, output, target, seed := "diurnal", "text", 12.0, uint64(1)
	fs := flag.NewFlagSet("fleetsim spot", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&pattern, "pattern", pattern, "traffic pattern: steady, spike or diurnal")
	fs.Uint64Var(&seed, "seed", seed, "random seed for the trace, the noise and the preemptions")
	fs.IntVar(&p.Min, "min", p.Min, "the pool's least size")
	fs.IntVar(&p.Max, "max", p.Max, "the pool's largest size")
	fs.Float64Var(&target, "target-rps", target, "requests per second per node the scaler aims for")
	fs.Float64Var(&sim.CapacityPerNode, "node-rps", sim.CapacityPerNode, "requests per second at which a node saturates")
	fs.DurationVar(&sim.LeadTime, "lead-time", sim.LeadTime, "how long a new node takes to serve")
	fs.IntVar(&p.Capacity.BaseOnDemand, "base-on-demand", p.Capacity.BaseOnDemand, "on-demand nodes the mixed pools always keep")
	fs.Float64Var(&p.Capacity.SpotFraction, "spot-fraction", p.Capacity.SpotFraction, "share of the nodes above the base on spot, 0-1")
	fs.DurationVar(&p.Capacity.SpotRetry, "spot-retry", p.Capacity.SpotRetry, "how long the fallback runs on-demand after spot was lost")
	fs.Float64Var(&spot.PreemptionsPerHour, "preemptions-per-hour", spot.PreemptionsPerHour, "preemptions per spot node and hour")
	fs.DurationVar(&spot.Notice, "notice", spot.Notice, "warning a preemption gives; the node drains and is billed until then")
	fs.DurationVar(&spot.Outage, "spot-outage", spot.Outage, "how long spot launches fail after a preemption")
	fs.Float64Var(&spot.OnDemandHourly, "on-demand-price", spot.OnDemandHourly, "on-demand price per node hour in USD")
	fs.Float64Var(&spot.SpotHourly, "spot-price", spot.SpotHourly, "spot price per node hour in USD")
	fs.StringVar(&output, "o", output, "format: text or json")
	fs.Usage = func() {
		io.WriteString(fs.Output(), spotUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q; every setting is a flag (see spot -h)", fs.Arg(0))
	}
	p.Targets = []scaling.Target{{Metric: scaling.MetricRPS, Value: target}}
	tr, err := scaling.BuiltinTrace(pattern, seed)
	var errs []error
	if err != nil {
		errs = append(errs, fmt.Errorf("--pattern: %w", err))
	}
	for _, e := range []error{p.Validate(), sim.Validate(), spot.Validate()} {
		if e != nil {
			errs = append(errs, e)
		}
	}
	if output != "text" && output != "json" {
		errs = append(errs, fmt.Errorf("-o %q must be text or json", output))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	res := scaling.SimulateSpot(p, sim, spot, tr, seed)
	if output == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	fmt.Fprintf(stdout, "%s trace (%s), %g preemptions per spot node-hour, %s notice, %s outage; base %d on-demand, %g of the rest on spot\n\n",
		pattern, time.Duration(tr.Duration()*float64(time.Second)), spot.PreemptionsPerHour, spot.Notice, spot.Outage, p.Capacity.BaseOnDemand, p.Capacity.SpotFraction)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MODE\tCOST $\tVS ON-DEMAND\tNODE-HOURS\tSPOT SHARE\tMIN OVER CAPACITY\tPREEMPTIONS\tFAILED SPOT LAUNCHES")
	for _, r := range res {
		fmt.Fprintf(tw, "%s\t%.2f\t%+.1f %%\t%.1f\t%.0f %%\t%.2f\t%d\t%d\n", r.Mode, r.CostUSD, 100*(r.CostUSD/res[0].CostUSD-1),
			r.NodeHours, 100*r.SpotShare, r.MinutesOverCapacity, r.Preemptions, r.FailedSpotLaunches)
	}
	return tw.Flush()
}
