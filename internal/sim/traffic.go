package sim

import (
	"context"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/dspyfleet/dspyfleet/pkg/reqstats"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// Traffic sends a request rate through the control plane's routing: every pick is a real
// RoutingService.Pick, the picked simulated host serves it, and the outcome goes back through
// ReportResult. When the rate is above MaxPicks, each pick stands for several requests.
type Traffic struct {
	Routing fleetv1.RoutingServiceClient
	Pool    string
	Fleet   *Fleet
	// Rate is the offered requests per second at a time into the run.
	Rate func(elapsed time.Duration) float64
	// PeakRPS is the highest value of Rate; with MaxPicks it sets the requests per pick.
	PeakRPS float64
	// MaxPicks caps Pick calls per second.
	MaxPicks float64
	Workers  int
	Seed     uint64
}

// TrafficStats counts what the traffic did.
type TrafficStats struct {
	Requests  uint64 // offered and sent
	Successes uint64
	Errors    uint64 // served with an error
	Unrouted  uint64 // requests whose Pick failed (counted in Errors too)
	Picks     uint64
	Behind    uint64 // picks not sent because every worker was busy (not in Requests)
	// PerPick is how many requests each pick stood for.
	PerPick int
	// Latency holds, per pick, the latency of its first request: what clients reported back.
	Latency *reqstats.Sketch
	// PickErrors counts failed Picks by their message.
	PickErrors map[string]uint64
}

// trafficTick is how often the traffic paces its picks.
const trafficTick = 10 * time.Millisecond

// Run sends traffic for d, or until ctx ends.
func (t *Traffic) Run(ctx context.Context, d time.Duration) TrafficStats {
	perPick := 1
	if t.MaxPicks > 0 && t.PeakRPS > t.MaxPicks {
		perPick = int(math.Ceil(t.PeakRPS / t.MaxPicks))
	}
	workers := max(t.Workers, 1)
	jobs := make(chan struct{}, workers*4)
	var (
		mu    sync.Mutex
		stats = TrafficStats{PerPick: perPick, Latency: reqstats.NewSketch(0.01), PickErrors: map[string]uint64{}}
		wg    sync.WaitGroup
	)
	var successes, errs, unrouted, picks atomic.Uint64
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(t.Seed, uint64(w)))
			local := reqstats.NewSketch(0.01)
			defer func() {
				mu.Lock()
				_ = stats.Latency.Merge(local)
				mu.Unlock()
			}()
			for range jobs {
				picks.Add(1)
				resp, err := t.Routing.Pick(ctx, &fleetv1.PickRequest{Pool: t.Pool})
				a := t.Fleet.Agent(resp.GetNodeId())
				if err != nil || a == nil {
					if ctx.Err() != nil {
						return
					}
					msg := "picked a node that is not simulated: " + resp.GetNodeId()
					if err != nil {
						msg = err.Error()
					}
					mu.Lock()
					stats.PickErrors[msg]++
					mu.Unlock()
					errs.Add(uint64(perPick))
					unrouted.Add(uint64(perPick))
					continue
				}
				o := a.Serve(perPick, rng)
				local.Add(float64(o.First) / float64(time.Millisecond))
				errs.Add(o.Errors)
				successes.Add(o.Requests - o.Errors)
				_, _ = t.Routing.ReportResult(ctx, &fleetv1.ReportResultRequest{Token: resp.GetToken(), Latency: durationpb.New(o.First), Ok: o.FirstOK})
			}
		}()
	}
	start := time.Now()
	tick := time.NewTicker(trafficTick)
	timer := time.NewTimer(d)
	acc, last := 0.0, start
	var behind uint64
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-timer.C:
			break loop
		case now := <-tick.C:
			acc += t.Rate(now.Sub(start)) * now.Sub(last).Seconds() / float64(perPick)
			last = now
			for ; acc >= 1; acc-- {
				select {
				case jobs <- struct{}{}:
				default:
					behind++
				}
			}
		}
	}
	tick.Stop()
	timer.Stop()
	close(jobs)
	wg.Wait()
	stats.Successes, stats.Errors, stats.Unrouted, stats.Picks = successes.Load(), errs.Load(), unrouted.Load(), picks.Load()
	stats.Requests = stats.Successes + stats.Errors
	stats.Behind = behind
	return stats
}
