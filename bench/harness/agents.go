package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
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
	cpEnv := fs.String("cp-env", "", "extra environment of the control plane, comma-separated KEY=VALUE (e.g. GOMEMLIMIT=900MiB)")
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
	var env []string
	if *cpEnv != "" {
		env = strings.Split(*cpEnv, ",")
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
	fmt.Fprintln(stdout, "| agents | ready at end | fresh in the worst second (≤ 2 intervals) | reports/s stored | CP CPU (cores) | CP RSS at end | CP peak RSS | command p50 | command p99 | commands not acknowledged | connect time | simulator CPU (cores) | load avg |")
	fmt.Fprintln(stdout, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
	for _, n := range sizes {
		row, err := holdFleet(ctx, dir, env, n, *interval, *hold, *commands, logw, stderr)
		if err != nil {
			return fmt.Errorf("%d agents: %w", n, err)
		}
		fmt.Fprintln(stdout, row)
	}
	return nil
}

// holdFleet runs one fleet size and returns its table row.
func holdFleet(ctx context.Context, bin string, env []string, n int, interval, hold time.Duration, commands int, cpLog, stderr io.Writer) (string, error) {
	cp, err := startControlPlane(ctx, bin, nil, env, cpLog)
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
	self0, err := readUsage(os.Getpid())
	if err != nil {
		return "", err
	}
	reports0, err := cp.metric(`dspyfleet_reports_total{result="accepted"}`)
	if err != nil {
		return "", err
	}
	// Every second: how many agents have no report acknowledged (stored) in the last two
	// intervals. The worst second counts.
	worstStale := 0
	tick := time.NewTicker(time.Second)
	end := time.After(hold)
sampling:
	for {
		select {
		case <-ctx.Done():
			tick.Stop()
			return "", ctx.Err()
		case <-end:
			break sampling
		case now := <-tick.C:
			worstStale = max(worstStale, fleet.Stale(now, 2*interval))
		}
	}
	tick.Stop()
	after, err := readUsage(cp.pid())
	if err != nil {
		return "", err
	}
	self1, err := readUsage(os.Getpid())
	if err != nil {
		return "", err
	}
	reports1, err := cp.metric(`dspyfleet_reports_total{result="accepted"}`)
	if err != nil {
		return "", err
	}
	ready, err := cp.metric(fmt.Sprintf(`dspyfleet_nodes{pool=%q,state="ready"}`, benchPool))
	if err != nil {
		return "", err
	}
	load := loadAvg()
	fmt.Fprintf(stderr, "%d agents held %s: CPU %.2f cores, peak RSS %s, worst stale %d; sending %d commands\n", n, hold, cores(before, after), mib(after.hwm), worstStale, commands)
	p50, p99, timeouts, err := commandLatency(ctx, fc, n, commands)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("| %d | %.0f | %d | %.0f | %.2f | %s | %s | %s | %s | %d | %s | %.2f | %s |",
		n, ready, n-worstStale, (reports1-reports0)/after.at.Sub(before.at).Seconds(), cores(before, after),
		mib(after.rss), mib(after.hwm), ms(p50), ms(p99), timeouts, connect.Round(100*time.Millisecond), cores(self0, self1), load), nil
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

// commandTimeout bounds the wait for one command's SUCCEEDED, and commandPhase the whole
// series: commands not sent by then count as not acknowledged.
const (
	commandTimeout = 5 * time.Second
	commandPhase   = 2 * time.Minute
)

// commandLatency sends count undrain commands one after another, spread over the fleet, and
// returns the p50 and p99 of SendCommand → SUCCEEDED seen on WatchCommands, and how many did not
// succeed within commandTimeout (left out of the percentiles).
func commandLatency(ctx context.Context, fc fleetv1.FleetServiceClient, n, count int) (p50, p99 time.Duration, timeouts int, err error) {
	if count < 1 {
		return 0, 0, 0, nil
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := fc.WatchCommands(wctx, &fleetv1.WatchCommandsRequest{})
	if err != nil {
		return 0, 0, 0, err
	}
	succeeded := make(chan string, 1024)
	go func() {
		defer close(succeeded)
		for {
			ev, err := w.Recv()
			if err != nil {
				return
			}
			if ev.GetCommand().GetState() == fleetv1.CommandState_COMMAND_STATE_SUCCEEDED {
				succeeded <- ev.GetCommand().GetCommand().GetId()
			}
		}
	}()
	lat := make([]time.Duration, 0, count)
	phaseEnd := time.Now().Add(commandPhase)
	for i := range count {
		if time.Now().After(phaseEnd) {
			timeouts += count - i // never sent: counted as not acknowledged
			break
		}
		node := sim.NodeID(i * n / count)
		begin := time.Now()
		resp, err := fc.SendCommand(ctx, &fleetv1.SendCommandRequest{NodeId: node, Kind: fleetv1.CommandKind_COMMAND_KIND_UNDRAIN})
		if err != nil {
			return 0, 0, 0, fmt.Errorf("send command to %s: %w", node, err)
		}
		id := resp.GetCommand().GetCommand().GetId()
		timeout := time.After(commandTimeout)
	wait:
		for {
			select {
			case <-timeout:
				timeouts++
				break wait
			case got, ok := <-succeeded:
				if !ok {
					return 0, 0, 0, fmt.Errorf("watch commands ended")
				}
				if got == id {
					lat = append(lat, time.Since(begin))
					break wait
				}
			}
		}
	}
	if len(lat) == 0 {
		return 0, 0, timeouts, nil
	}
	slices.Sort(lat)
	return lat[len(lat)/2], lat[(len(lat)*99)/100], timeouts, nil
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
