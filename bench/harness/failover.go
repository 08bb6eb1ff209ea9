package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/dspyfleet/dspyfleet/internal/sim"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// failover measures failure detection: a killed connection (reset, no goodbye) to disconnected
// and to down, a stalled agent (connection open, nothing sent) to down, and a closed stream to
// disconnected, each on --trials agents at once, timed from the probe to the WatchNodes event.
func failover(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("failover", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("agents", 100, "agents in the fleet")
	interval := fs.Duration("interval", time.Second, "report interval of every agent")
	trials := fs.Int("trials", 10, "agents per probe")
	bin := fs.String("bin", "", "directory with the controlplane and agent binaries (default: build them)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if 3**trials > *n {
		return fmt.Errorf("--trials %d needs at least %d agents", *trials, 3**trials)
	}
	extra := fs.Args()
	dir, err := binaries(*bin)
	if err != nil {
		return err
	}
	cp, err := startControlPlane(ctx, dir, extra, nil, io.Discard)
	if err != nil {
		return err
	}
	defer cp.close()
	fleet, err := sim.NewFleet(sim.FleetConfig{Addr: cp.grpc, Agents: *n, Pool: benchPool, Interval: *interval, Capacity: sim.DefaultCapacity, Seed: 1})
	if err != nil {
		return err
	}
	fctx, stopFleet := context.WithCancel(ctx)
	fleetDone := make(chan error, 1)
	go func() { fleetDone <- fleet.Run(fctx) }()
	defer func() {
		stopFleet()
		<-fleetDone
	}()
	if err := waitReady(ctx, cp, *n, time.Minute); err != nil {
		return err
	}
	time.Sleep(2 * *interval)
	conn, err := grpc.NewClient(cp.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := fleetv1.NewFleetServiceClient(conn).WatchNodes(wctx, &fleetv1.WatchNodesRequest{Pool: benchPool})
	if err != nil {
		return err
	}
	type key struct {
		node  string
		state fleetv1.NodeState
	}
	var mu sync.Mutex
	seen := map[key]time.Time{}
	go func() {
		for {
			ev, err := w.Recv()
			if err != nil {
				return
			}
			if ev.GetType() != fleetv1.NodeEventType_NODE_EVENT_TYPE_STATE_CHANGED {
				continue
			}
			k := key{ev.GetNode().GetId(), ev.GetNode().GetState()}
			mu.Lock()
			if _, ok := seen[k]; !ok {
				seen[k] = time.Now()
			}
			mu.Unlock()
		}
	}()
	time.Sleep(500 * time.Millisecond) // the watch's initial snapshot passes

	probes := []struct {
		name  string
		do    func(*sim.Agent)
		wants []fleetv1.NodeState
	}{
		{"kill (connection reset)", (*sim.Agent).Kill, []fleetv1.NodeState{fleetv1.NodeState_NODE_STATE_DISCONNECTED, fleetv1.NodeState_NODE_STATE_DOWN}},
		{"stall (connection open, silent)", (*sim.Agent).Stall, []fleetv1.NodeState{fleetv1.NodeState_NODE_STATE_DOWN}},
		{"stream closed", (*sim.Agent).CloseStream, []fleetv1.NodeState{fleetv1.NodeState_NODE_STATE_DISCONNECTED}},
	}
	started := map[string]time.Time{}
	for p, pr := range probes {
		for i := range *trials {
			a := fleet.Agent(sim.NodeID(p**trials + i))
			started[a.NodeID()] = time.Now()
			pr.do(a)
		}
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		mu.Lock()
		missing := 0
		for p, pr := range probes {
			for i := range *trials {
				for _, st := range pr.wants {
					if _, ok := seen[key{sim.NodeID(p**trials + i), st}]; !ok {
						missing++
					}
				}
			}
		}
		mu.Unlock()
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d transitions not seen after 2 minutes", missing)
		}
		time.Sleep(100 * time.Millisecond)
	}
	fmt.Fprintf(stdout, "control plane flags: %v; %d agents, reports every %s, %d agents per probe; load avg %s\n\n", extra, *n, *interval, *trials, loadAvg())
	fmt.Fprintln(stdout, "| probe | → state | p50 | max |")
	fmt.Fprintln(stdout, "|---|---|---:|---:|")
	mu.Lock()
	defer mu.Unlock()
	for p, pr := range probes {
		for _, st := range pr.wants {
			var d []time.Duration
			for i := range *trials {
				id := sim.NodeID(p**trials + i)
				d = append(d, seen[key{id, st}].Sub(started[id]))
			}
			slices.Sort(d)
			fmt.Fprintf(stdout, "| %s | %s | %s | %s |\n", pr.name, stateName(st), ms(d[len(d)/2]), ms(d[len(d)-1]))
		}
	}
	return nil
}

// stateName is a node state in lower case, as fleetctl prints it.
func stateName(s fleetv1.NodeState) string {
	switch s {
	case fleetv1.NodeState_NODE_STATE_DISCONNECTED:
		return "disconnected"
	case fleetv1.NodeState_NODE_STATE_DOWN:
		return "down"
	}
	return s.String()
}
