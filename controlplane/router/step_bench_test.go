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
// while it ran (max-report-ms, p99-report-ms). See benchfleet.Fleet.RunSteps.
func BenchmarkRoutingStep(b *testing.B) {
	f := benchfleet.New(b, benchfleet.Options{})
	rt, err := New(f.Reg, f.Stats, f.Store, f.Now, benchfleet.Discard)
	if err != nil {
		b.Fatal(err)
	}
	if err := rt.Reconcile(context.Background(), f.Now()); err != nil { // the first step builds every pool's state
		b.Fatal(err)
	}
	f.RunSteps(b, benchfleet.Interval, rt.Reconcile)
}
