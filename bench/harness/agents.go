package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/dspyfleet/dspyfleet/internal/sim"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// benchPool is the pool the harness's simulated agents join.
const benchPool = "bench"

// agents measures, for each fleet size, whether the control plane keeps every agent ready with
// fresh reports, its CPU and peak RSS while it does, and the command push → ack latency.
func agents(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("agents", flag.ContinueOnError)
	fs.SetOutput(stderr)
	counts := fs.String("counts", "1000,5000,10000", "fleet sizes, comma-separated")
	interval := fs.Duration("interval", time.Second, "report interval of every agent")
	hold := fs.Duration("hold", time.Minute, "how long each fleet is held while CPU is measured")
	commands := fs.Int("commands", 200, "commands sent one after another at each size, for push → ack latency")
	bin := fs.String("bin", "", "directory with the controlplane and agent binaries (default: build them)")
	cpLog := fs.String("cp-log", "", "file for the control plane's log (default: discarded)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var sizes []int
	for _, s := range strings.Split(*counts, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("--counts: %q is not a positive number", s)
		}
		sizes = append(sizes, n)
	}
	dir, err := binaries(*bin)
	if err != nil {
		return err
	}
	logw, closeLog, err := logFile(*cpLog)
	if err != nil {
		return err
	}
	defer closeLog()
	fmt.Fprintln(stdout, "| agents | ready | fresh (≤ 2 intervals) | reports/s stored | CP CPU (cores) | CP RSS at end | CP peak RSS | command p50 | command p99 | connect time | load avg |")
	fmt.Fprintln(stdout, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
	for _, n := range sizes {
		row, err := holdFleet(ctx, dir, n, *interval, *hold, *commands, logw, stderr)
		if err != nil {
			return fmt.Errorf("%d agents: %w", n, err)
		}
		fmt.Fprintln(stdout, row)
	}
	return nil
}

// holdFleet runs one fleet size and returns its table row.
func holdFleet(ctx context.Context, bin string, n int, interval, hold time.Duration, commands int, cpLog, stderr io.Writer) (string, error) {
	cp, err := startControlPlane(ctx, bin, nil, cpLog)
	if err != nil {
		return "", err
	}
	defer cp.close()
	fleet, err := sim.NewFleet(sim.FleetConfig{
		Addr: cp.grpc, Agents: n, Pool: benchPool, Interval: interval, Capacity: sim.DefaultCapacity,
		HourlyPrice: 0.4032, InstanceType: "m7i.2xlarge", Delays: map[fleetv1.CommandKind]time.Duration{}, Seed: 1,
	})
	if err != nil {
		return "", err
	}
	fctx, stopFleet := context.WithCancel(ctx)
	fleetDone := make(chan error, 1)
	go func() { fleetDone <- fleet.Run(fctx) }()
	defer func() {
		stopFleet()
		<-fleetDone
	}()
	begin := time.Now()
	if err := waitReady(ctx, cp, n, time.Minute+time.Duration(n)*10*time.Millisecond); err != nil {
		return "", err
	}
	connect := time.Since(begin)
	fmt.Fprintf(stderr, "%d agents ready in %s\n", n, connect.Round(time.Millisecond))
	time.Sleep(2 * interval)

	conn, err := grpc.NewClient(cp.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(1<<30)))
	if err != nil {
		return "", err
	}
	defer conn.Close()
	fc := fleetv1.NewFleetServiceClient(conn)

	before, err := readUsage(cp.pid())
	if err != nil {
		return "", err
	}
	reports0, err := cp.metric(`dspyfleet_reports_total{result="accepted"}`)
	if err != nil {
		return "", err
	}
	select {
	case <-ctx.Done():
		return "", ctx.Err()
	case <-time.After(hold):
	}
	after, err := readUsage(cp.pid())
	if err != nil {
		return "", err
	}
	reports1, err := cp.metric(`dspyfleet_reports_total{result="accepted"}`)
	if err != nil {
		return "", err
	}
	load := loadAvg()
	nodes, err := fc.ListNodes(ctx, &fleetv1.ListNodesRequest{Pool: benchPool})
	if err != nil {
		return "", fmt.Errorf("list nodes: %w", err)
	}
	ready, fresh := 0, 0
	now := time.Now()
	for _, nd := range nodes.GetNodes() {
		if nd.GetState() == fleetv1.NodeState_NODE_STATE_READY {
			ready++
		}
		if now.Sub(nd.GetLastSeen().AsTime()) <= 2*interval {
			fresh++
		}
	}
	p50, p99, err := commandLatency(ctx, fc, n, commands)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("| %d | %d | %d | %.0f | %.2f | %s | %s | %s | %s | %s | %s |",
		n, ready, fresh, (reports1-reports0)/after.at.Sub(before.at).Seconds(), cores(before, after),
		mib(after.rss), mib(after.hwm), ms(p50), ms(p99), connect.Round(100*time.Millisecond), load), nil
}

// waitReady waits until the control plane counts n ready nodes in the bench pool.
func waitReady(ctx context.Context, cp *controlPlane, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		ready, err := cp.metric(fmt.Sprintf(`dspyfleet_nodes{pool=%q,state="ready"}`, benchPool))
		if err == nil && int(ready) >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%v of %d nodes ready after %s (%v)", ready, n, timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// commandLatency sends count undrain commands one after another, spread over the fleet, and
// returns the p50 and p99 of SendCommand → SUCCEEDED seen on WatchCommands.
func commandLatency(ctx context.Context, fc fleetv1.FleetServiceClient, n, count int) (time.Duration, time.Duration, error) {
	if count < 1 {
		return 0, 0, nil
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := fc.WatchCommands(wctx, &fleetv1.WatchCommandsRequest{})
	if err != nil {
		return 0, 0, err
	}
	lat := make([]time.Duration, 0, count)
	for i := range count {
		node := sim.NodeID(i * n / count)
		begin := time.Now()
		resp, err := fc.SendCommand(ctx, &fleetv1.SendCommandRequest{NodeId: node, Kind: fleetv1.CommandKind_COMMAND_KIND_UNDRAIN})
		if err != nil {
			return 0, 0, fmt.Errorf("send command to %s: %w", node, err)
		}
		id := resp.GetCommand().GetCommand().GetId()
		for {
			ev, err := w.Recv()
			if err != nil {
				return 0, 0, fmt.Errorf("watch commands: %w", err)
			}
			c := ev.GetCommand()
			if c.GetCommand().GetId() == id && c.GetState() == fleetv1.CommandState_COMMAND_STATE_SUCCEEDED {
				break
			}
			if c.GetCommand().GetId() == id && c.GetState() == fleetv1.CommandState_COMMAND_STATE_FAILED {
				return 0, 0, fmt.Errorf("command %s failed: %s", id, c.GetDetail())
			}
		}
		lat = append(lat, time.Since(begin))
	}
	slices.Sort(lat)
	return lat[len(lat)/2], lat[(len(lat)*99)/100], nil
}

// logFile opens path for the control plane's log, or discards it when path is empty.
func logFile(path string) (io.Writer, func(), error) {
	if path == "" {
		return io.Discard, func() {}, nil
	}
	f, err := createFile(path)
	if err != nil {
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}

// ms formats a duration in milliseconds.
func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
