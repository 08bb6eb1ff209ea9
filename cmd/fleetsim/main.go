// Command fleetsim simulates a fleet of dspyfleet agents against a control plane: N real agent
// streams with realistic host and DSPy figures, traffic of a pattern routed through the real
// RoutingService, and a report at the end (capacity, health, requests, cost, routing spread,
// savings). Without --addr it starts a control plane in-process with a temporary data directory.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/dspyfleet/dspyfleet/controlplane"
	"github.com/dspyfleet/dspyfleet/internal/cli"
	"github.com/dspyfleet/dspyfleet/internal/sim"
	"github.com/dspyfleet/dspyfleet/pkg/scaling"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "fleetsim:", err)
		os.Exit(1)
	}
}

// settings are the parsed flags.
type settings struct {
	opts       sim.Options
	output     string
	logLevel   string
	cpuProfile string
	memProfile string
}

func parse(args []string, stderr io.Writer) (settings, error) {
	st := settings{opts: sim.DefaultOptions()}
	o := &st.opts
	fs := flag.NewFlagSet("fleetsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.Agents, "agents", o.Agents, "simulated agents, each its own connection and Connect stream")
	fs.DurationVar(&o.Duration, "duration", o.Duration, "how long traffic runs; the pattern is compressed into it")
	fs.StringVar(&o.Pattern, "pattern", o.Pattern, "traffic pattern: steady, spike or diurnal")
	fs.StringVar(&o.Addr, "addr", "", "gRPC address of a running control plane; empty starts one in-process")
	fs.DurationVar(&o.Interval, "interval", o.Interval, "report interval of every agent")
	fs.StringVar(&o.Pool, "pool", o.Pool, "pool of the simulated nodes")
	fs.Uint64Var(&o.Seed, "seed", o.Seed, "random seed: the same seed gives the same pattern and host figures")
	fs.Float64Var(&o.PeakRPS, "rps", 0, "peak requests per second of the pattern; 0 means 80 % of the fleet's capacity")
	fs.Float64Var(&o.MaxPicks, "max-picks", o.MaxPicks, "most Pick calls per second; above it each pick stands for several requests")
	fs.IntVar(&o.Workers, "workers", o.Workers, "picks in flight at once")
	fs.Float64Var(&o.Capacity.RPS, "node-rps", o.Capacity.RPS, "requests per second one node serves before it is overloaded")
	fs.Float64Var(&o.ScaleTargetRPS, "scale-target-rps", -1, "give the pool a scaling policy aiming at this many requests/s per node (recommendations only, no actuator); -1 means 70 % of --node-rps, 0 sets none")
	fs.Float64Var(&o.HourlyPrice, "hourly-price", o.HourlyPrice, "price per host hour in USD")
	fs.StringVar(&o.InstanceType, "instance-type", o.InstanceType, "instance type the hosts announce")
	fs.StringVar(&st.output, "o", "text", "report format: text or json")
	fs.StringVar(&st.logLevel, "log-level", "warn", "log level: debug, info, warn or error")
	fs.StringVar(&st.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole process (with the in-process control plane) to this file")
	fs.StringVar(&st.memProfile, "memprofile", "", "write a heap profile to this file when traffic ends, before the fleet stops")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: fleetsim [flags]\n       fleetsim spot [flags]   (on-demand vs spot mixes under preemptions; see spot -h)\n\nSimulates a fleet against a control plane and prints a report.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return st, err
	}
	if fs.NArg() > 0 {
		return st, fmt.Errorf("unexpected argument %q; every setting is a flag (see -h)", fs.Arg(0))
	}
	var errs []error
	check := func(ok bool, format string, a ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, a...))
		}
	}
	check(o.Agents >= 1, "--agents %d must be at least 1", o.Agents)
	check(o.Duration > 0, "--duration %s must be positive", o.Duration)
	check(o.Interval >= 100*time.Millisecond, "--interval %s must be at least 100ms", o.Interval)
	_, perr := scaling.BuiltinTrace(o.Pattern, 0)
	check(perr == nil, "--pattern %q must be one of %v", o.Pattern, scaling.BuiltinTraces)
	check(o.PeakRPS >= 0, "--rps %v must not be negative", o.PeakRPS)
	check(o.MaxPicks > 0, "--max-picks %v must be positive", o.MaxPicks)
	check(o.Workers >= 1, "--workers %d must be at least 1", o.Workers)
	check(o.Capacity.RPS > 0, "--node-rps %v must be positive", o.Capacity.RPS)
	check(o.HourlyPrice >= 0, "--hourly-price %v must not be negative", o.HourlyPrice)
	check(o.ScaleTargetRPS >= 0 || o.ScaleTargetRPS == -1, "--scale-target-rps %v must be positive, 0 (no policy) or -1 (70 %% of --node-rps)", o.ScaleTargetRPS)
	if o.ScaleTargetRPS == -1 {
		o.ScaleTargetRPS = 0.7 * o.Capacity.RPS
	}
	check(st.output == "text" || st.output == "json", "-o %q must be text or json", st.output)
	_, lerr := cli.ParseLevel(st.logLevel)
	check(lerr == nil, "--log-level %q must be debug, info, warn or error", st.logLevel)
	return st, errors.Join(errs...)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "spot" {
		return runSpot(args[1:], stdout, stderr)
	}
	st, err := parse(args, stderr)
	if err != nil {
		return err
	}
	level, _ := cli.ParseLevel(st.logLevel)
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	st.opts.Log = log
	st.opts.Progress = stderr
	if st.cpuProfile != "" {
		stopProfile, err := startCPUProfile(st.cpuProfile)
		if err != nil {
			return err
		}
		defer stopProfile()
	}
	if st.memProfile != "" {
		st.opts.BeforeStop = func() error { return writeHeapProfile(st.memProfile) }
	}
	if st.opts.Addr != "" {
		return simulate(ctx, st, stdout)
	}
	dir, err := os.MkdirTemp("", "fleetsim-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg := controlplane.DefaultConfig()
	cfg.GRPCListen, cfg.HTTPListen, cfg.DataDir = "127.0.0.1:0", "127.0.0.1:0", dir
	cfg.Logger = log.With("component", "controlplane")
	srv, err := controlplane.New(cfg)
	if err != nil {
		return err
	}
	st.opts.Addr = srv.GRPCAddr()
	log.Info("control plane started in-process", "addr", st.opts.Addr, "data", dir)
	g, gctx := errgroup.WithContext(ctx)
	srvCtx, stopSrv := context.WithCancel(gctx)
	g.Go(func() error { return srv.Run(srvCtx) })
	g.Go(func() error {
		defer stopSrv()
		return simulate(gctx, st, stdout)
	})
	return g.Wait()
}

// simulate runs the simulation and prints its report.
func simulate(ctx context.Context, st settings, stdout io.Writer) error {
	r, err := sim.Run(ctx, st.opts)
	if err != nil {
		return err
	}
	if st.output == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	return r.WriteText(stdout)
}
