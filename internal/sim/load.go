package sim

import (
	"math"
	"math/rand/v2"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/internal/wire"
	"github.com/dspyfleet/dspyfleet/pkg/reqstats"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// Model is the model simulated DSPy programs call.
const Model = "openai/gpt-4o-mini"

// DefaultPrices prices Model as its provider lists it.
var DefaultPrices = reqstats.Prices{Model: {InputPerMTok: 0.15, OutputPerMTok: 0.60, CachedInputPerMTok: 0.075}}

// programs are the simulated DSPy programs, in the proportions they are called.
var programs = []string{"qa", "qa", "qa", "summarize", "summarize", "classify"}

// cacheHitShare is the share of requests DSPy's cache answers.
const cacheHitShare = 0.15

// Outcome is what serving a batch of requests gave.
type Outcome struct {
	Requests, Errors uint64
	// First is the latency of the batch's first request and FirstOK whether it succeeded: what a
	// client reports back to routing for the pick.
	First   time.Duration
	FirstOK bool
}

// Serve runs n requests routed to this host now, at the latency and error rate its load gives,
// and counts them in the host's DSPy figures. rng belongs to the caller.
func (a *Agent) Serve(n int, rng *rand.Rand) Outcome {
	a.picks.Add(1)
	a.served.Add(uint64(n))
	c := a.cfg.Capacity
	u := c.Utilization(math.Float64frombits(a.rateBits.Load()), a.cfg.Weight)
	mean, errRate := c.Latency(u), c.ErrorRate(u)
	out := Outcome{Requests: uint64(n)}
	now := time.Now()
	for i := range n {
		// Log-normal around the mean, as request latencies are.
		lat := time.Duration(float64(mean) * math.Exp(0.35*rng.NormFloat64()-0.06125))
		failed := rng.Float64() < errRate
		e := reqstats.Event{
			Time: now, Program: programs[rng.IntN(len(programs))], Model: Model,
			Latency: lat, TTFT: lat * 3 / 10, Cache: reqstats.CacheMiss, Error: failed, Status: 200,
		}
		e.InputTokens, e.OutputTokens = 400+rng.Int64N(800), 80+rng.Int64N(240)
		switch {
		case failed:
			e.Status, e.Latency, e.InputTokens, e.OutputTokens = 503, lat/4, 0, 0
		case rng.Float64() < cacheHitShare:
			// DSPy's cache answers with the tokens the model once returned, buying none.
			e.Cache, e.Latency, e.TTFT = reqstats.CacheHit, 5*time.Millisecond, 0
		}
		a.agg.Add(e)
		if failed {
			out.Errors++
		}
		if i == 0 {
			out.First, out.FirstOK = e.Latency, !failed
		}
	}
	return out
}

// report builds the report of the interval ending now from what the host served in it.
func (a *Agent) report(seq uint64, now time.Time) *fleetv1.MetricsReport {
	a.mu.Lock()
	since := a.lastReport
	if since.IsZero() {
		since = a.started
	}
	a.lastReport = now
	noise := 1 + 0.04*(2*a.rng.Float64()-1)
	a.mu.Unlock()
	elapsed := max(now.Sub(since), time.Millisecond)
	rate := float64(a.served.Swap(0)) / elapsed.Seconds()
	a.rateBits.Store(math.Float64bits(rate))
	c := a.cfg.Capacity
	u := c.Utilization(rate, a.cfg.Weight)
	w := a.agg.Flush(now)
	inFlight := int(rate * c.Latency(u).Seconds())
	return &fleetv1.MetricsReport{
		Time: timestamppb.New(now), Seq: seq, Window: durationpb.New(elapsed),
		Host: a.host(u, rate, noise, now), App: wire.AppFromWindow(w, inFlight, 0),
	}
}

// Host figures of the simulated machine: 8 cores, 32 GiB, a 200 GiB root disk.
const (
	hostCPUs   = 8
	hostMemory = 32 << 30
	hostDisk   = 200 << 30
)

// host returns host metrics at utilization u serving rate requests per second.
func (a *Agent) host(u, rate, noise float64, now time.Time) *fleetv1.HostMetrics {
	cpu := math.Min(100, a.cfg.Capacity.CPUPercent(u)*noise)
	used := uint64(float64(hostMemory) * math.Min(0.95, (0.2+0.5*math.Min(u, 1))*noise))
	diskUsed := uint64(hostDisk * 0.35)
	load := cpu / 100 * hostCPUs
	return &fleetv1.HostMetrics{
		CpuPercent: cpu, CpuCount: hostCPUs, Load1: load, Load5: load * 0.95, Load15: load * 0.9,
		MemoryTotalBytes: hostMemory, MemoryUsedBytes: used, MemoryAvailableBytes: hostMemory - used,
		MemoryUsedPercent: 100 * float64(used) / hostMemory,
		Disks: []*fleetv1.DiskUsage{{
			Mountpoint: "/", Device: "/dev/nvme0n1p1", Fstype: "ext4", TotalBytes: hostDisk,
			UsedBytes: diskUsed, FreeBytes: hostDisk - diskUsed, UsedPercent: 100 * float64(diskUsed) / hostDisk,
		}},
		DiskWriteBytesPerSecond: rate * 2048,
		NetworkRxBytesPerSecond: rate * 6144,
		NetworkTxBytesPerSecond: rate * 3072,
		Uptime:                  durationpb.New(now.Sub(a.started) + 72*time.Hour),
		DiskReadBytesPerSecond:  rate * 512,
	}
}
