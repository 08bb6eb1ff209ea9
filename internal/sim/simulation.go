package sim

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	"github.com/dspyfleet/dspyfleet/pkg/scaling"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// Options configures a simulation.
type Options struct {
	// Addr is the control plane's gRPC address.
	Addr     string
	Agents   int
	Duration time.Duration
	// Pattern is a traffic pattern of pkg/scaling (steady, spike, diurnal), compressed into Duration.
	Pattern  string
	Interval time.Duration
	Pool     string
	Seed     uint64
	// PeakRPS is the pattern's highest request rate; 0 means 80 % of the fleet's capacity.
	PeakRPS float64
	// MaxPicks caps Pick calls per second.
	MaxPicks float64
	// Workers is how many picks may be in flight at once.
	Workers      int
	Capacity     Capacity
	HourlyPrice  float64
	InstanceType string
	// ScaleTargetRPS, when positive, gives the pool a scaling policy before the traffic starts:
	// requests per second per node as its target, between 1 node and Agents, without an
	// actuator, so the report compares the autoscaler's recommendations with the traffic. Zero
	// leaves the pool's policy as it is.
	ScaleTargetRPS float64
	// ReadyTimeout bounds the wait for every agent to be ready; 0 means 30 s plus 3 ms per agent.
	ReadyTimeout time.Duration
	// BeforeStop, when set, runs after the report is gathered and before the fleet stops (e.g.
	// to take a heap profile of a loaded process).
	BeforeStop func() error
	Log        *slog.Logger
	// Progress, when set, hears a line per phase (agents starting, ready, traffic, report) and
	// how far the traffic is every tenth of the duration (at least every 5 s).
	Progress io.Writer
}

// DefaultOptions are the newcomer's simulation: 50 agents for a minute of a spike.
func DefaultOptions() Options {
	return Options{
		Agents: 50, Duration: time.Minute, Pattern: "spike", Interval: time.Second, Pool: "sim", Seed: 1,
		MaxPicks: 2000, Workers: 64, Capacity: DefaultCapacity, HourlyPrice: 0.4032, InstanceType: "m7i.2xlarge",
	}
}

// Run starts the fleet, waits until every agent is ready, sends the pattern's traffic for the
// duration and returns the report, stopping the fleet before it returns.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Duration <= 0 {
		return nil, fmt.Errorf("duration: %s, want a positive duration", o.Duration)
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	trace, err := scaling.BuiltinTrace(o.Pattern, o.Seed)
	if err != nil {
		return nil, fmt.Errorf("pattern: %w", err)
	}
	capacity := float64(o.Agents) * o.Capacity.RPS
	if o.PeakRPS <= 0 {
		o.PeakRPS = 0.8 * capacity
	}
	scale := o.PeakRPS / trace.Peak()
	rate := func(elapsed time.Duration) float64 {
		return scale * trace.At(elapsed.Seconds()/o.Duration.Seconds()*trace.Duration())
	}
	say := func(format string, args ...any) {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "fleetsim: "+format+"\n", args...)
		}
	}
	say("starting %d agents in pool %s against %s", o.Agents, o.Pool, o.Addr)
	fleet, err := NewFleet(FleetConfig{
		Addr: o.Addr, Agents: o.Agents, Pool: o.Pool, Interval: o.Interval, Capacity: o.Capacity,
		HourlyPrice: o.HourlyPrice, InstanceType: o.InstanceType, Seed: o.Seed, Log: o.Log,
	})
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(o.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(256<<20)))
	if err != nil {
		return nil, fmt.Errorf("addr: %w", err)
	}
	defer conn.Close()

	fctx, stopFleet := context.WithCancel(ctx)
	defer stopFleet()
	g, gctx := errgroup.WithContext(fctx)
	g.Go(func() error { return fleet.Run(gctx) })
	defer func() {
		stopFleet()
		_ = g.Wait()
	}()

	start := time.Now()
	readyTimeout := o.ReadyTimeout
	if readyTimeout <= 0 {
		readyTimeout = 30*time.Second + time.Duration(o.Agents)*3*time.Millisecond
	}
	routing := fleetv1.NewRoutingServiceClient(conn)
	if err := waitRoutable(gctx, routing, o.Pool, o.Agents, readyTimeout); err != nil {
		return nil, err
	}
	o.Log.Info("fleet ready", "agents", o.Agents, "after", time.Since(start).Round(time.Millisecond))
	say("%d agents ready after %s; sending %s of %s traffic, peak %.0f requests/s", o.Agents, time.Since(start).Round(time.Millisecond),
		o.Duration, o.Pattern, o.PeakRPS)
	if o.ScaleTargetRPS > 0 {
		policy := &fleetv1.ScalingPolicy{Min: proto.Uint32(1), Max: uint32(o.Agents),
			Targets: []*fleetv1.ScalingTarget{{Metric: "requests_per_second_per_node", Value: o.ScaleTargetRPS}}}
		if _, err := fleetv1.NewScalingServiceClient(conn).SetPolicy(gctx, &fleetv1.ScalingServiceSetPolicyRequest{Pool: o.Pool, Policy: policy}); err != nil {
			return nil, fmt.Errorf("scaling policy of pool %s: %w", o.Pool, err)
		}
	}

	trafficStart := time.Now()
	traffic := Traffic{
		Routing: routing, Pool: o.Pool, Fleet: fleet, Rate: rate, PeakRPS: o.PeakRPS,
		MaxPicks: o.MaxPicks, Workers: o.Workers, Seed: o.Seed,
	}
	stopProgress := make(chan struct{})
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		t := time.NewTicker(max(o.Duration/10, 5*time.Second))
		defer t.Stop()
		for {
			select {
			case <-stopProgress:
				return
			case <-t.C:
				say("traffic: %s of %s", time.Since(trafficStart).Round(time.Second), o.Duration)
			}
		}
	}()
	ts := traffic.Run(gctx, o.Duration)
	close(stopProgress)
	<-progressDone
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	say("traffic done; gathering the report")
	// Let the last reports, carrying the last requests, reach the control plane.
	time.Sleep(o.Interval + o.Interval/2)
	r, err := gather(ctx, conn, o, fleet, ts, start, trafficStart, capacity)
	if err == nil && o.BeforeStop != nil {
		err = o.BeforeStop()
	}
	return r, err
}

// waitRoutable waits until routing counts want healthy nodes in pool.
func waitRoutable(ctx context.Context, rc fleetv1.RoutingServiceClient, pool string, want int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var healthy uint32
	for {
		st, err := rc.GetStatus(ctx, &fleetv1.RoutingServiceGetStatusRequest{Pool: pool})
		if err == nil && int(st.GetHealthy()) >= want {
			return nil
		}
		healthy = st.GetHealthy()
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d agents routable after %s (last error: %v); is the control plane at the address, and can it take this many streams?", healthy, want, timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
