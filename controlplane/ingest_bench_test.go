package controlplane_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// BenchmarkIngest measures reports per second through real Connect streams over loopback into
// the control plane (validation, registry update, acknowledgement, batched bbolt writes), with
// allocations per report. Each of 16 streams is one node sending full host reports.
func BenchmarkIngest(b *testing.B) {
	const streams = 16
	cfg := fleettest.FastConfig(b)
	cfg.Logger = slog.New(slog.DiscardHandler)
	cp := fleettest.StartControlPlane(b, cfg)
	client := fleetv1.NewAgentServiceClient(fleettest.Dial(b, cp.GRPCAddr()))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var ss []agentStream
	for i := range streams {
		s, err := client.Connect(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Send(hello(fmt.Sprintf("bench-%d", i), "i1")); err != nil {
			b.Fatal(err)
		}
		if m, err := s.Recv(); err != nil || m.GetWelcome() == nil {
			b.Fatalf("welcome: %v %v", m, err)
		}
		ss = append(ss, s)
	}
	host := &fleetv1.HostMetrics{
		CpuPercent: 37.5, CpuCount: 8, Load1: 1.2, Load5: 1.1, Load15: 0.9,
		MemoryTotalBytes: 32 << 30, MemoryUsedBytes: 12 << 30, MemoryAvailableBytes: 20 << 30, MemoryUsedPercent: 37.5,
		Disks: []*fleetv1.DiskUsage{
			{Mountpoint: "/", Device: "/dev/nvme0n1p1", Fstype: "ext4", TotalBytes: 500 << 30, UsedBytes: 120 << 30, FreeBytes: 380 << 30, UsedPercent: 24},
			{Mountpoint: "/data", Device: "/dev/nvme1n1", Fstype: "xfs", TotalBytes: 2 << 40, UsedBytes: 1 << 40, FreeBytes: 1 << 40, UsedPercent: 50},
		},
		DiskReadBytesPerSecond: 1e6, DiskWriteBytesPerSecond: 2e6, NetworkRxBytesPerSecond: 3e6, NetworkTxBytesPerSecond: 4e6,
		Uptime: durationpb.New(1e15),
	}
	app := &fleetv1.AppMetrics{Requests: 500, Errors: 3, ErrorRate: 0.006, InFlight: 12, RequestsPerSecond: 100, LatencyP50Ms: 300, LatencyP95Ms: 900, LatencyP99Ms: 1500, InputTokens: 1e5, OutputTokens: 3e4}
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	per := b.N/streams + 1
	for _, s := range ss {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := uint64(1); seq <= uint64(per); seq++ {
				r := &fleetv1.ConnectRequest{Msg: &fleetv1.ConnectRequest_Report{Report: &fleetv1.MetricsReport{
					Seq: seq, Time: timestamppb.Now(), Host: host, App: app,
				}}}
				if err := s.Send(r); err != nil {
					b.Error(err)
					return
				}
			}
			for {
				m, err := s.Recv()
				if err != nil {
					b.Error(err)
					return
				}
				if m.GetAck().GetSeq() == uint64(per) {
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(per*streams)/b.Elapsed().Seconds(), "reports/s")
}
