package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/dspyfleet/dspyfleet/agent"
	"github.com/dspyfleet/dspyfleet/agent/collector"
	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// BenchmarkCommandRoundTrip measures SendCommand → the agent's SUCCEEDED reaching the control
// plane, for an undrain (an action with no cost of its own), with 100 real agents connected over
// loopback. Each step includes the durable writes on both ends (the command record and every
// transition on the control plane, accepted/running/succeeded in the agent's state store).
func BenchmarkCommandRoundTrip(b *testing.B) {
	const agents = 100
	cfg := fleettest.FastConfig(b)
	cfg.Logger = slog.New(slog.DiscardHandler)
	cp := fleettest.StartControlPlane(b, cfg)
	c := cp.Fleet(b)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, agents)
	for i := range agents {
		acfg := agent.DefaultConfig()
		acfg.Server = cp.GRPCAddr()
		acfg.NodeID = fmt.Sprintf("bench-%03d", i)
		acfg.Interval = 10 * time.Second
		acfg.StateDir = b.TempDir()
		acfg.Collectors = []collector.Collector{}
		acfg.Logger = slog.New(slog.DiscardHandler)
		a, err := agent.New(acfg)
		if err != nil {
			b.Fatal(err)
		}
		go func() { done <- a.Run(ctx) }()
	}
	b.Cleanup(func() {
		cancel()
		for range agents {
			<-done
		}
	})
	fleettest.Eventually(b, 30*time.Second, "100 agents ready", func() bool {
		resp, err := c.ListNodes(context.Background(), &fleetv1.ListNodesRequest{States: []fleetv1.NodeState{fleetv1.NodeState_NODE_STATE_READY}})
		return err == nil && len(resp.GetNodes()) == agents
	})
	w, err := c.WatchCommands(ctx, &fleetv1.WatchCommandsRequest{})
	if err != nil {
		b.Fatal(err)
	}
	latencies := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		resp, err := c.SendCommand(ctx, &fleetv1.SendCommandRequest{NodeId: fmt.Sprintf("bench-%03d", i%agents), Kind: fleetv1.CommandKind_COMMAND_KIND_UNDRAIN})
		if err != nil {
			b.Fatal(err)
		}
		id := resp.GetCommand().GetCommand().GetId()
		for {
			ev, err := w.Recv()
			if err != nil {
				b.Fatal(err)
			}
			if ev.GetCommand().GetCommand().GetId() == id && ev.GetCommand().GetState() == fleetv1.CommandState_COMMAND_STATE_SUCCEEDED {
				break
			}
		}
		latencies = append(latencies, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(latencies)
	b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds()), "p99-µs")
}
