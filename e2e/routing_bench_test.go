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

// startRoutingBench starts a control plane with 20 real agents in pool web and returns a
// RoutingService client once every node is routable.
func startRoutingBench(b *testing.B) fleetv1.RoutingServiceClient {
	const agents = 20
	cfg := fleettest.FastConfig(b)
	cfg.Logger = slog.New(slog.DiscardHandler)
	cp := fleettest.StartControlPlane(b, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, agents)
	for i := range agents {
		acfg := agent.DefaultConfig()
		acfg.Server = cp.GRPCAddr()
		acfg.NodeID = fmt.Sprintf("bench-%02d", i)
		acfg.Pool = "web"
		acfg.AdvertiseAddr = fmt.Sprintf("127.0.0.1:%d", 9000+i)
		acfg.Interval = time.Second
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
	rc := fleetv1.NewRoutingServiceClient(fleettest.Dial(b, cp.GRPCAddr()))
	fleettest.Eventually(b, 30*time.Second, "every node routable", func() bool {
		st, err := rc.GetStatus(context.Background(), &fleetv1.RoutingServiceGetStatusRequest{Pool: "web"})
		return err == nil && st.GetHealthy() == agents
	})
	return rc
}

// BenchmarkPickRPC measures one Pick over loopback gRPC at a time, reporting p50 and p99.
func BenchmarkPickRPC(b *testing.B) {
	rc := startRoutingBench(b)
	ctx := context.Background()
	latencies := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		if _, err := rc.Pick(ctx, &fleetv1.PickRequest{Pool: "web"}); err != nil {
			b.Fatal(err)
		}
		latencies = append(latencies, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(latencies)
	b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkPickRPCParallel measures Pick throughput with concurrent callers on one connection.
func BenchmarkPickRPCParallel(b *testing.B) {
	rc := startRoutingBench(b)
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := rc.Pick(context.Background(), &fleetv1.PickRequest{Pool: "web", Key: "program/prompt"}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
