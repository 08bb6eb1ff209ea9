package router

import (
	"context"
	"testing"

	"github.com/dspyfleet/dspyfleet/internal/benchfleet"
)

// BenchmarkRoutingStep measures the routing step (Router.Reconcile) at 10,000 nodes in 4 pools
// with the default policy, each node with a full last report and 10 minutes of one-minute
// request rollups, while reports arrive at 10,000 a second through the report path
// (Registry.ApplyReport, stats.Requests.Add): the time per step, and how long reports waited
// while it ran (max-report-ms, p99-report-ms), and how long a Pick in each pool took while it
// ran (max-pick-ms, p99-pick-ms: a Pick waits on its pool's lock, which the step takes to
// update the pool). See benchfleet.Fleet.RunSteps.
func BenchmarkRoutingStep(b *testing.B) {
	f := benchfleet.New(b, benchfleet.Options{})
	rt, err := New(f.Reg, f.Stats, f.Store, f.Now, benchfleet.Discard)
	if err != nil {
		b.Fatal(err)
	}
	if err := rt.Reconcile(context.Background(), f.Now()); err != nil { // the first step builds every pool's state
		b.Fatal(err)
	}
	var picks []benchfleet.Reader
	for _, pool := range f.Pools {
		picks = append(picks, benchfleet.Reader{Name: "pick", Call: func() error {
			_, err := rt.Pick(pool, "")
			return err
		}})
	}
	f.RunSteps(b, benchfleet.Interval, rt.Reconcile, picks...)
}
