package scaling

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dspyfleet/dspyfleet/controlplane/commands"
	"github.com/dspyfleet/dspyfleet/internal/benchfleet"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// BenchmarkScalingStep measures the scaling step (Scaler.Reconcile) at 10,000 nodes in 4 pools
// of 2,500, every pool with a policy that targets every metric and forecasts requests per second
// (predictive on), no actuator (decisions are made and recorded, nothing is resized), while
// reports arrive at 10,000 a second through the report path (Registry.ApplyReport,
// stats.Requests.Add): the time per step, how long reports waited while it ran, and how long the
// API's status read of a pool took meanwhile (max-scaling-api-ms, p99-scaling-api-ms). The clock
// starts 10 s before a minute, so the second timed step is the one in twelve that feeds the
// forecast models the minute just ended. See benchfleet.Fleet.RunSteps.
func BenchmarkScalingStep(b *testing.B) {
	f := benchfleet.New(b, benchfleet.Options{Start: time.Date(2026, 11, 27, 10, 0, 50, 0, time.UTC)})
	cmds := commands.NewQueue(f.Now, f.Store, time.Hour, 16)
	sc, err := New(f.Now, benchfleet.Discard, f.Reg, f.Stats, cmds, f.Store, "")
	if err != nil {
		b.Fatal(err)
	}
	for _, pool := range f.Pools {
		pb := &fleetv1.ScalingPolicy{Max: 5000, Targets: everyTarget(),
			Predictive: &fleetv1.PredictiveScaling{Enabled: true}}
		p, act, err := PolicyFromProto(pb, "")
		if err != nil {
			b.Fatal(err)
		}
		sc.SetPolicy(pool, PolicyToProto(p, act), p, act)
	}
	// The first step learns each pool's forecast model from the whole history and records the
	// first decisions; later steps are the steady state.
	if err := sc.Reconcile(context.Background(), f.Now()); err != nil {
		b.Fatal(err)
	}
	f.RunSteps(b, benchfleet.Interval, sc.Reconcile, benchfleet.Reader{Name: "scaling-api", Call: func() error {
		for _, pool := range f.Pools {
			if _, ok := sc.Status(pool); !ok {
				return fmt.Errorf("pool %s has no scaling status", pool)
			}
		}
		return nil
	}})
	if d, ok := sc.Status(f.Pools[0]); !ok || d.GetDecision().GetCurrent() != 2500 {
		b.Fatalf("pool %s: decision %v, want 2,500 current nodes", f.Pools[0], d.GetDecision())
	}
}
